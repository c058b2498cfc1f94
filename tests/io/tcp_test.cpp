// tcp_listener / tcp_stream on both drivers: connect, echo, half-close,
// errors (refused, reset), deadlines, cancellation, options.
#include <netinet/in.h>

#include <string>

#include "io_test_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

TEST_CASE("tcp: a client and a server exchange bytes, IPv4 and IPv6", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto family = GENERATE(AF_INET, AF_INET6);
  weft::runtime rt{io_options(backend)};
  std::string got = rt.block_on([family]() -> weft::task<std::string> {
    auto any = family == AF_INET ? io::address::loopback_v4(0) : io::address::loopback_v6(0);
    auto listener = io::tcp_listener::bind(any);
    auto at = listener.local_address();
    auto server = weft::spawn([](io::tcp_listener& l) -> weft::task<void> {
      io::tcp_stream s = co_await l.accept();
      std::byte buf[64];
      while (std::size_t n = co_await s.read_some(buf)) co_await s.write_all({buf, n});
    }(listener));
    auto c = co_await io::tcp_stream::connect(at, 2s);
    c.set_nodelay(true);
    co_await c.write_all(bytes("hello, weft"));
    c.shutdown_write();  // half-close: the server sees end of stream, echoes, closes
    std::string out(64, '\0');
    std::size_t n = co_await c.read(io::as_writable_bytes(out));
    out.resize(n);
    co_await server;
    co_return out;
  }());
  CHECK(got == "hello, weft");
}

TEST_CASE("tcp: receive() lends driver buffers; echo through them until end of stream", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  // Few, small ring buffers: chunks held by the client below exhaust the
  // ring, so the fallback (a buffer allocated per receive) runs too.
  weft::runtime_options o = io_options(backend);
  o.recv_buffers = 4;
  o.recv_buffer_size = 16;
  weft::runtime rt{o};
  auto [echoed, held] = rt.block_on([]() -> weft::task<std::pair<std::string, std::size_t>> {
    auto listener = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto server = weft::spawn([](io::tcp_listener& l) -> weft::task<void> {
      io::tcp_stream s = co_await l.accept();
      while (io::chunk c = co_await s.receive()) co_await s.write_all(c.bytes());
    }(listener));
    auto c = co_await io::tcp_stream::connect(listener.local_address(), 5s);
    std::string sent;
    for (int i = 0; i < 200; ++i) sent += "line " + std::to_string(i) + "\n";
    co_await c.write_all(bytes(sent));
    c.shutdown_write();
    std::vector<io::chunk> chunks;  // kept: more than the ring holds
    std::string got;
    while (io::chunk ch = co_await c.receive(5s)) {
      got += text(ch.bytes());
      chunks.push_back(std::move(ch));
    }
    co_await server;
    co_return std::pair{got == sent ? std::string("same") : got, chunks.size()};
  }());
  CHECK(echoed == "same");
  CHECK(held > 4);
}

TEST_CASE("tcp: a burst of connections is accepted in order of arrival, none lost", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  const int n = 100;  // more than the multishot queue holds before it pauses
  int served = rt.block_on([n]() -> weft::task<int> {
    auto listener = io::tcp_listener::bind(io::address::loopback_v4(0), {.backlog = 256});
    std::vector<io::tcp_stream> clients;
    for (int i = 0; i < n; ++i) clients.push_back(co_await io::tcp_stream::connect(listener.local_address(), 5s));
    int count = 0;
    for (int i = 0; i < n; ++i) {
      io::tcp_stream s = co_await listener.accept(5s);
      std::byte b{static_cast<unsigned char>(i)};
      co_await s.write_all({&b, 1});
      ++count;
    }
    // Every client got exactly one byte from its own accepted stream.
    for (auto& c : clients) {
      std::byte b;
      std::size_t got = co_await c.read_some({&b, 1}, 5s);
      if (got != 1) co_return -1;
    }
    co_return count;
  }());
  CHECK(served == n);
}

TEST_CASE("tcp: closing a listener ends an accept waiting on it with ECANCELED", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};
  int err = rt.block_on([]() -> weft::task<int> {
    auto listener = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto waiting = weft::spawn([](io::tcp_listener& l) -> weft::task<int> {
      try {
        (void)co_await l.accept(10s);
      } catch (const std::system_error& e) {
        co_return e.code().value();
      }
      co_return 0;
    }(listener));
    co_await weft::sleep_for(20ms);  // let it wait
    listener.close();
    co_return co_await waiting;
  }());
  CHECK(err == ECANCELED);
}
