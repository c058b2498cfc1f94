// weft::redis::pool: several connections, handed out in turn, each
// reconnecting on its own. Against a real redis-server, on both drivers.
#include <algorithm>
#include <string>
#include <vector>

#include "io_test_support.hpp"
#include "redis_test_server.hpp"
#include "weft/redis/pool.hpp"
#include "weft/runtime/spawn.hpp"

using namespace weft_test;
namespace redis = weft::redis;

TEST_CASE("pool: commands go round-robin over its connections", "[pool]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::pool p = co_await redis::pool::connect(server.url(), 3);
    CHECK(p.size() == 3);
    std::vector<weft::join_handle<redis::reply>> hs;
    for (int i = 0; i < 300; ++i) hs.push_back(weft::spawn(p.command("INCR", "n")));
    for (auto& h : hs) co_await h;
    redis::reply n = co_await p.command("GET", "n");
    CHECK(n.as_string() == "300");
    for (std::size_t i = 0; i < p.size(); ++i) {
      CHECK(p.at(i).stats().connects == 1);
      CHECK(p.at(i).stats().commands >= 100);
    }
    // Three connections seen by the server (CLIENT LIST: one line each).
    redis::reply list = co_await p.command("CLIENT", "LIST");
    const std::string& text = list.as_string();
    CHECK(std::count(text.begin(), text.end(), '\n') == 3);

    // One client closed: only it reconnects.
    p.at(0).close();
    for (int i = 0; i < 3; ++i) co_await p.command("PING");
    CHECK(p.at(0).stats().connects == 2);
    CHECK(p.at(1).stats().connects == 1);
  }());
}

TEST_CASE("pool: a pool of none is refused", "[pool]") {
  weft::runtime rt{io_options(weft::io_backend::epoll)};
  rt.block_on([&]() -> weft::task<void> {
    std::exception_ptr e = co_await error_of(redis::pool::connect("redis://127.0.0.1:1", 0));
    CHECK_THROWS_WITH(rethrow_if(e), "weft::redis::pool::connect: a pool of 0 clients");
  }());
}
