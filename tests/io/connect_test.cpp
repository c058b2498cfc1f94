// io::connect by name, on both drivers: resolve then try each address in
// turn; a closed port names every address tried, an unknown name is
// resolve_error; one deadline covers the attempts (and the lookup: see
// resolve_test.cpp), cancellation ends whichever step is pending.
#include <string>
#include <system_error>
#include <vector>

#include "io_fault_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

std::uint16_t closed_port() {
  auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
  return l.local_address().port();  // closed as l goes
}

}  // namespace

TEST_CASE("connect: by name to a local listener", "[io][resolve][connect]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::string echoed;
  io::address peer;
  rt.block_on([&]() -> weft::task<void> {
    auto listener = io::tcp_listener::bind(io::address::loopback_v4(0));
    const std::uint16_t port = listener.local_address().port();
    auto server = weft::spawn([](io::tcp_listener& l) -> weft::task<void> {
      io::tcp_stream s = co_await l.accept(10s);
      std::byte buf[16];
      std::size_t n = co_await s.read_some(buf, 10s);
      co_await s.write_all({buf, n}, 10s);
    }(listener));
    // "localhost" may list ::1 first, where nothing listens: the next address is tried.
    io::tcp_stream c = co_await io::connect("localhost", port, 10s);
    peer = c.peer_address();
    co_await c.write_all(bytes("hi"), 10s);
    std::string out(2, '\0');
    co_await io::read_exact(c, io::as_writable_bytes(out), 10s);
    echoed = out;
    co_await server;
  }());
  CHECK(echoed == "hi");
  CHECK(peer.ip() == "127.0.0.1");
}

TEST_CASE("connect: a closed port, an unknown name", "[io][resolve][connect]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  const std::uint16_t port = closed_port();
  std::error_code numeric_code, name_code;
  std::string numeric_what, name_what;
  bool resolve_failed = false;
  rt.block_on([&]() -> weft::task<void> {
    try {
      (void)co_await io::connect("127.0.0.1", port, 10s);
    } catch (const std::system_error& e) {
      numeric_code = e.code();
      numeric_what = e.what();
    }
    try {
      (void)co_await io::connect("localhost", port, 10s);
    } catch (const std::system_error& e) {
      name_code = e.code();
      name_what = e.what();
    }
    try {
      (void)co_await io::connect("bad..name", port, 10s);
    } catch (const io::resolve_error&) {
      resolve_failed = true;
    }
  }());
  const std::string p = std::to_string(port);
  CHECK(numeric_code == std::errc::connection_refused);
  CHECK(numeric_what.find("connect to 127.0.0.1:" + p + " (tried 127.0.0.1:" + p + ")") == 0);
  // The last address tried is 127.0.0.1 on any usual /etc/hosts.
  CHECK(name_code == std::errc::connection_refused);
  CHECK(name_what.find("connect to localhost:" + p) == 0);
  CHECK(resolve_failed);
}

TEST_CASE("connect: the deadline covers the attempts, cancelling a pending attempt", "[io][connect]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::size_t queued = 0;
    outcome timed_out, cancelled;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    // A listener whose accept queue is full: connects to it hang.
    io::listen_options lo;
    lo.backlog = 0;
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0), lo);
    const std::uint16_t port = l.local_address().port();
    auto queued = co_await fill_accept_queue(l.local_address());
    result out;
    out.queued = queued.size();
    out.timed_out = co_await outcome_of(io::connect("127.0.0.1", port, 300ms));
    auto pending = weft::spawn(io::connect("127.0.0.1", port, 20s));
    co_await settle();
    pending.cancel();
    out.cancelled = co_await outcome_of(std::move(pending));
    co_return out;
  }());
  CHECK(r.queued >= 1);
  INFO(r.timed_out);
  CHECK(r.timed_out.kind == outcome::timeout);
  INFO(r.cancelled);
  CHECK(r.cancelled.kind == outcome::cancelled);
}
