// The echo examples' shared code on both drivers: the echo handler under
// serve() with the closed-loop load generator (examples/echo_client/
// echo_load.hpp), its error paths, and the latency histogram.
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "../../echo_server/echo_handler.hpp"
#include "../echo_load.hpp"
#include "io_test_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

TEST_CASE("echo_load: histogram percentiles are within the bucket resolution", "[io][echo]") {
  example::latency_histogram h;
  CHECK(h.percentile(0.5) == 0);
  for (std::uint64_t v = 1; v <= 100'000; ++v) h.record(v * 1000);  // 1 us .. 100 ms
  CHECK(h.count() == 100'000);
  CHECK(h.max() == 100'000'000);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double want = q * 100'000'000;
    INFO("q=" << q);
    CHECK(h.percentile(q) >= want * (1 - 1.0 / 64));
    CHECK(h.percentile(q) <= want * (1 + 1.0 / 64));
  }
  CHECK(h.percentile(1.0) <= 100'000'000);
  example::latency_histogram small;
  small.record(7);
  small.record(7);
  CHECK(small.percentile(0.5) == 7);
  h.merge(small);
  CHECK(h.count() == 100'002);
}

TEST_CASE("echo_load: closed-loop load against the echo handler", "[io][echo]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto size = GENERATE(std::size_t{1}, std::size_t{64}, std::size_t{100'000});
  weft::runtime rt{io_options(backend)};
  struct outcome {
    example::load_result r;
    std::uint64_t server_connections = 0, server_bytes = 0;
  };
  outcome o = rt.block_on([](std::size_t size) -> weft::task<outcome> {
    auto listener = io::tcp_listener::bind(io::address::loopback_v4(0));
    example::echo_stats stats;
    auto server =
        weft::spawn(io::serve(listener, [&stats](io::tcp_stream s) { return example::echo(std::move(s), stats); }));
    example::load_options opts;
    opts.to = listener.local_address();
    opts.connections = 8;
    opts.size = size;
    opts.warmup = 50ms;
    opts.duration = 300ms;
    outcome out;
    out.r = co_await example::run_load(opts);
    server.cancel();
    try {
      co_await server;
    } catch (const weft::operation_cancelled&) {
    }
    out.server_connections = stats.connections.load();
    out.server_bytes = stats.bytes.load();
    co_return out;
  }(size));
  INFO("first error: " << o.r.first_error);
  CHECK(o.r.errors == 0);
  CHECK(o.r.messages > 0);
  CHECK(o.r.latency.count() == o.r.messages);
  CHECK(o.r.seconds > 0.2);
  CHECK(o.server_connections == 8);
  // Every measured message was echoed, and so were the warm-up ones.
  CHECK(o.server_bytes >= o.r.messages * size);
}

TEST_CASE("echo_load: a refused connection is reported with the address", "[io][echo]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::string what = rt.block_on([]() -> weft::task<std::string> {
    // A socket bound but not listening holds the port, so nobody else can
    // take it, and refuses connections.
    io::address at = io::address::loopback_v4(0);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::bind(fd, at.data(), at.size()) < 0) throw std::system_error(errno, std::system_category(), "bind");
    io::socket holder(fd);
    at = holder.local_address();
    example::load_options opts;
    opts.to = at;
    opts.connections = 2;
    try {
      co_await example::run_load(opts);
    } catch (const std::system_error& e) {
      co_return std::string(e.what()) + (e.code().value() == ECONNREFUSED ? " [ECONNREFUSED]" : "");
    }
    co_return "no error";
  }());
  CHECK_THAT(what, Catch::Contains("connect to 127.0.0.1:") && Catch::Contains("[ECONNREFUSED]"));
}

TEST_CASE("echo_load: a server that closes or garbles connections is counted as errors", "[io][echo]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto garble = GENERATE(false, true);
  weft::runtime rt{io_options(backend)};
  example::load_result r = rt.block_on([](bool garble) -> weft::task<example::load_result> {
    auto listener = io::tcp_listener::bind(io::address::loopback_v4(0));
    // Echoes 3 messages properly, then closes (or answers the 4th with wrong bytes).
    auto server = weft::spawn(io::serve(listener, [garble](io::tcp_stream s) -> weft::task<void> {
      std::byte buf[16];
      for (int i = 0; i < 3; ++i) {
        co_await io::read_exact(s, buf);
        co_await s.write_all(buf);
      }
      // Take the 4th message first: closing with unread data would send a
      // reset instead of the end of stream this case is about.
      co_await io::read_exact(s, buf);
      if (!garble) co_return;
      buf[5] = std::byte{'!'};
      co_await s.write_all(buf);
      std::size_t n = co_await s.read_some(buf);  // until the client gives up
      (void)n;
    }));
    example::load_options opts;
    opts.to = listener.local_address();
    opts.connections = 3;
    opts.size = 16;
    opts.warmup = 0ms;
    opts.duration = 200ms;
    auto r = co_await example::run_load(opts);
    server.cancel();
    try {
      co_await server;
    } catch (const weft::operation_cancelled&) {
    }
    co_return r;
  }(garble));
  CHECK(r.errors == 3);
  CHECK(r.first_error == (garble ? "echoed payload differs from what was sent" : "the server closed the connection"));
}
