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
