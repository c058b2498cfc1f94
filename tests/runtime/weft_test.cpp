// The umbrella header weft/weft.hpp on its own, as the README's first
// example uses it: it compiles without any other include, and a program
// written against it alone runs tasks, a timer, a sync primitive, a
// blocking call, formats a weft type, and reaches the io, http and ipc
// modules' names. Each header's own tests are in <header>_test.cpp.
#include <catch2/catch.hpp>

#include "weft/weft.hpp"

#include <chrono>
#include <string>
#include <type_traits>

using namespace std::chrono_literals;

// The other modules' umbrellas come with it.
static_assert(std::is_class_v<weft::io::tcp_stream>);
static_assert(std::is_class_v<weft::http::request_parser>);
static_assert(std::is_class_v<weft::ipc::process_pool>);

TEST_CASE("weft/weft.hpp: tasks, timers, sync, blocking calls and formatting from one include", "[umbrella]") {
  weft::runtime rt{weft::runtime_options{.workers = 2}};
  int total = rt.block_on([]() -> weft::task<int> {
    weft::mutex m;
    int sum = 0;
    auto add = [&](int v) -> weft::task<void> {
      co_await weft::sleep_for(1ms);
      auto guard = co_await m.lock();
      sum += v;
    };
    co_await weft::when_all(add(1), add(2), add(3));
    int doubled = co_await weft::spawn_blocking([s = sum] { return 2 * s; });
    co_return doubled;
  }());
  CHECK(total == 12);
  CHECK(fmt::format("{}", weft::io::address::parse("127.0.0.1:80")) == "127.0.0.1:80");
  CHECK(fmt::format("{}", weft::http::version::http_1_1) == "HTTP/1.1");
}
