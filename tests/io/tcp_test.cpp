// tcp_listener / tcp_stream on both drivers: connect, echo, half-close,
// errors (refused, reset), deadlines, cancellation, options.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

#include "io_fault_support.hpp"

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

TEST_CASE("tcp: receive() lends driver buffers, echo through them until end of stream", "[io][tcp]") {
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
  int served = rt.block_on([]() -> weft::task<int> {
    const int n = 100;  // more than the multishot queue holds before it pauses
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
  CHECK(served == 100);
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

// ------------------------------------------------------------ addresses, options

TEST_CASE("tcp: local and peer addresses of both ends, IPv4 and IPv6", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto family = GENERATE(AF_INET, AF_INET6);
  weft::runtime rt{io_options(backend)};
  struct seen {
    io::address listener, client_local, client_peer, server_local, server_peer;
  };
  seen s = rt.block_on([family]() -> weft::task<seen> {
    auto l = io::tcp_listener::bind(loopback(family));
    seen out;
    out.listener = l.local_address();
    auto c = co_await io::tcp_stream::connect(out.listener, 20s);
    auto srv = co_await l.accept(20s);
    out.client_local = c.local_address();
    out.client_peer = c.peer_address();
    out.server_local = srv.local_address();
    out.server_peer = srv.peer_address();
    co_return out;
  }());
  CHECK(s.listener.family() == family);
  CHECK(s.listener.port() != 0);
  CHECK(s.client_peer == s.listener);
  CHECK(s.server_local == s.listener);
  CHECK(s.server_peer == s.client_local);
  CHECK(s.client_local.port() != s.listener.port());
  CHECK(s.client_local.ip() == (family == AF_INET ? "127.0.0.1" : "::1"));
}

TEST_CASE("tcp: nodelay and keepalive (idle, interval, probes) read back", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct opts {
    bool nodelay_on, nodelay_off;
    int keepalive, idle, interval, probes, keepalive_off;
  };
  opts o = rt.block_on([]() -> weft::task<opts> {
    auto [c, s] = co_await tcp_pair();
    opts out{};
    c.set_nodelay(true);
    out.nodelay_on = c.nodelay();
    c.set_nodelay(false);
    out.nodelay_off = c.nodelay();
    c.set_keepalive(true, 75s, 9s, 4);
    out.keepalive = c.get_option(SOL_SOCKET, SO_KEEPALIVE);
    out.idle = c.get_option(IPPROTO_TCP, TCP_KEEPIDLE);
    out.interval = c.get_option(IPPROTO_TCP, TCP_KEEPINTVL);
    out.probes = c.get_option(IPPROTO_TCP, TCP_KEEPCNT);
    c.set_keepalive(false);
    out.keepalive_off = c.get_option(SOL_SOCKET, SO_KEEPALIVE);
    co_return out;
  }());
  CHECK(o.nodelay_on);
  CHECK_FALSE(o.nodelay_off);
  CHECK(o.keepalive == 1);
  CHECK(o.idle == 75);
  CHECK(o.interval == 9);
  CHECK(o.probes == 4);
  CHECK(o.keepalive_off == 0);
}

TEST_CASE("tcp: bad socket options are std::system_error (EINVAL)", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  outcome o = rt.block_on([]() -> weft::task<outcome> {
    auto [c, s] = co_await tcp_pair();
    try {
      c.set_keepalive(true, 0s, 0s, 100000);  // TCP_KEEPCNT is at most 127
    } catch (...) {
      co_return classify(std::current_exception());
    }
    co_return outcome{};
  }());
  CHECK(o.kind == outcome::system_error);
  CHECK(o.err == EINVAL);
}

// ------------------------------------------------------------ end of stream, half-close

TEST_CASE("tcp: half-close both ways, end of stream is a 0-byte read, repeatedly", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::string server_got, client_got;
    std::size_t server_eof = 99, server_eof_again = 99, client_eof = 99, client_eof_again = 99;
    std::size_t read_after_eof = 99;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    result out;
    std::byte buf[64];
    // client -> server, then the client half-closes; the server can still answer.
    co_await c.write_all(bytes("question"));
    c.shutdown_write();
    out.server_got.resize(64);
    std::size_t n = co_await s.read(io::as_writable_bytes(out.server_got), 20s);
    out.server_got.resize(n);
    out.server_eof = co_await s.read_some(buf, 20s);
    out.server_eof_again = co_await s.read_some(buf, 20s);
    co_await s.write_all(bytes("answer"), 20s);
    s.shutdown_write();
    out.client_got.resize(64);
    n = co_await c.read(io::as_writable_bytes(out.client_got), 20s);
    out.client_got.resize(n);
    out.client_eof = co_await c.read_some(buf, 20s);
    out.client_eof_again = co_await c.read_some(buf, 20s);
    out.read_after_eof = co_await c.read(buf, 20s);
    co_return out;
  }());
  CHECK(r.server_got == "question");
  CHECK(r.server_eof == 0);
  CHECK(r.server_eof_again == 0);
  CHECK(r.client_got == "answer");
  CHECK(r.client_eof == 0);
  CHECK(r.client_eof_again == 0);
  CHECK(r.read_after_eof == 0);
}

TEST_CASE("tcp: writing after shutdown_write is EPIPE, read_exact at end of stream is unexpected_eof", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    outcome write_after_shutdown, read_exact_short;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    result out;
    c.shutdown_write();
    out.write_after_shutdown = co_await outcome_of(c.write_all(bytes("late"), 20s));
    co_await s.write_all(bytes("abc"));
    s.shutdown_write();
    std::byte four[4];
    out.read_exact_short = co_await outcome_of(io::read_exact(c, four, 20s));
    co_return out;
  }());
  INFO(r.write_after_shutdown);
  CHECK(r.write_after_shutdown.kind == outcome::system_error);
  CHECK(r.write_after_shutdown.err == EPIPE);
  INFO(r.read_exact_short);
  CHECK(r.read_exact_short.kind == outcome::other);
  CHECK(r.read_exact_short.what == "unexpected end of stream");
}

// ------------------------------------------------------------ connect errors

TEST_CASE("tcp: connect to a closed port is ECONNREFUSED, with the address in the message", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto family = GENERATE(AF_INET, AF_INET6);
  weft::runtime rt{io_options(backend)};
  auto [o, at] = rt.block_on([family]() -> weft::task<std::pair<outcome, std::string>> {
    io::address at;
    {
      auto l = io::tcp_listener::bind(loopback(family));  // a port nobody listens on once closed
      at = l.local_address();
    }
    outcome o = co_await outcome_of(io::tcp_stream::connect(at, 20s));
    co_return std::pair{o, at.to_string()};
  }());
  INFO(o);
  CHECK(o.kind == outcome::system_error);
  CHECK(o.err == ECONNREFUSED);
  CHECK(o.what.find(at) != std::string::npos);
}

TEST_CASE("tcp: binding a port in use is EADDRINUSE", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  outcome o = rt.block_on([]() -> weft::task<outcome> {
    auto l = io::tcp_listener::bind(loopback(AF_INET));
    try {
      auto again = io::tcp_listener::bind(l.local_address());
    } catch (...) {
      co_return classify(std::current_exception());
    }
    co_return outcome{};
  }());
  INFO(o);
  CHECK(o.kind == outcome::system_error);
  CHECK(o.err == EADDRINUSE);
}

// ------------------------------------------------------------ resets

namespace {

/// SO_LINGER {1, 0}: close() sends RST instead of FIN.
void abort_on_close(io::socket& s) {
  ::linger lg{1, 0};
  REQUIRE(::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
}

}  // namespace

TEST_CASE("tcp: a peer reset while a read is pending ends it with ECONNRESET", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};
  outcome o = rt.block_on([]() -> weft::task<outcome> {
    auto [c, s] = co_await tcp_pair();
    auto reader = weft::spawn([](io::tcp_stream& c) -> weft::task<outcome> {
      std::byte buf[64];
      co_return co_await outcome_of(c.read_some(buf, 20s));
    }(c));
    co_await settle();  // the reader is now blocked in read_some
    abort_on_close(s);
    s.close();
    co_return co_await reader;
  }());
  INFO(o);
  CHECK(o.kind == outcome::system_error);
  CHECK(o.err == ECONNRESET);
}

TEST_CASE("tcp: a peer reset while a write is blocked ends it with ECONNRESET or EPIPE", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};
  struct result {
    outcome blocked, later;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    c.set_send_buffer_size(4096);
    s.set_receive_buffer_size(4096);
    auto writer = weft::spawn([](io::tcp_stream& c) -> weft::task<outcome> {
      std::vector<std::byte> big(8 << 20);
      co_return co_await outcome_of(c.write_all(big, 20s));  // the peer never reads: blocks
    }(c));
    co_await settle();
    abort_on_close(s);
    s.close();
    result out;
    out.blocked = co_await writer;
    // Writing on to the reset connection keeps failing (EPIPE once the reset was reported).
    out.later = co_await outcome_of(c.write_all(bytes("more"), 20s));
    co_return out;
  }());
  INFO(r.blocked);
  CHECK(r.blocked.kind == outcome::system_error);
  CHECK((r.blocked.err == ECONNRESET || r.blocked.err == EPIPE));
  INFO(r.later);
  CHECK(r.later.kind == outcome::system_error);
  CHECK((r.later.err == ECONNRESET || r.later.err == EPIPE));
}

// ------------------------------------------------------------ backpressure, deadlines, cancellation

TEST_CASE("tcp: a peer that never reads blocks write_all until its deadline (timeout_error)", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    outcome write;
    std::size_t drained = 0;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    c.set_send_buffer_size(4096);
    s.set_receive_buffer_size(4096);
    std::vector<std::byte> big(8 << 20);
    result out;
    out.write = co_await outcome_of(c.write_all(big, 300ms));
    // The connection is still usable by the reader: what was sent arrives.
    c.close();
    std::byte buf[65536];
    while (std::size_t n = co_await s.read_some(buf, 20s)) out.drained += n;
    co_return out;
  }());
  INFO(r.write);
  CHECK(r.write.kind == outcome::timeout);
  CHECK(r.drained > 0);
  CHECK(r.drained < (8u << 20));
}

TEST_CASE("tcp: cancelling a task blocked in write_all ends it with operation_cancelled", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};
  outcome o = rt.block_on([]() -> weft::task<outcome> {
    auto [c, s] = co_await tcp_pair();
    c.set_send_buffer_size(4096);
    s.set_receive_buffer_size(4096);
    auto writer = weft::spawn([](io::tcp_stream& c) -> weft::task<void> {
      std::vector<std::byte> big(8 << 20);
      co_await c.write_all(big, 20s);
    }(c));
    co_await settle();
    writer.cancel();
    co_return co_await outcome_of(std::move(writer));
  }());
  INFO(o);
  CHECK(o.kind == outcome::cancelled);
}

TEST_CASE("tcp: read_some and write_some deadlines give timeout_error, the stream stays usable", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    outcome read, read_after;
    std::string got;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    result out;
    std::byte buf[16];
    out.read = co_await outcome_of(c.read_some(buf, 100ms));
    co_await s.write_all(bytes("late"), 20s);
    out.read_after = co_await outcome_of(c.read_some(buf, 20s));
    out.got = text({buf, static_cast<std::size_t>(out.read_after.result)});
    co_return out;
  }());
  INFO(r.read);
  CHECK(r.read.kind == outcome::timeout);
  INFO(r.read_after);
  CHECK(r.read_after.ok());
  CHECK(r.got.substr(0, r.read_after.result) == std::string("late").substr(0, r.read_after.result));
}

TEST_CASE("tcp: connect to a listener whose accept queue is full: deadline gives timeout_error", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::size_t queued = 0;
    outcome connect;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    io::listen_options lo;
    lo.backlog = 0;
    auto l = io::tcp_listener::bind(loopback(AF_INET), lo);
    auto queued = co_await fill_accept_queue(l.local_address());
    result out;
    out.queued = queued.size();
    out.connect = co_await outcome_of(io::tcp_stream::connect(l.local_address(), 300ms));
    co_return out;
  }());
  CHECK(r.queued >= 1);
  INFO(r.connect);
  CHECK(r.connect.kind == outcome::timeout);
}

TEST_CASE("tcp: cancelling every pending operation kind gives operation_cancelled", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto op = GENERATE(as<std::string>{}, "accept", "connect", "read_some", "read", "write_some", "write_all");
  weft::runtime rt{io_options(backend, 1)};
  INFO("operation: " << op);
  struct result {
    outcome pending;
    std::string after;  // the socket still works afterwards
  };
  result r = rt.block_on([](std::string op) -> weft::task<result> {
    io::listen_options lo;
    lo.backlog = 0;
    auto l = io::tcp_listener::bind(loopback(AF_INET), lo);
    auto [c, s] = co_await tcp_pair();
    c.set_send_buffer_size(4096);
    s.set_receive_buffer_size(4096);
    std::vector<io::tcp_stream> queued;
    if (op == "connect") queued = co_await fill_accept_queue(l.local_address());
    std::vector<std::byte> big(8 << 20);
    std::byte small[64];
    weft::join_handle<void> h;
    if (op == "accept") {
      h = weft::spawn([](io::tcp_listener& l) -> weft::task<void> { (void)co_await l.accept(); }(l));
    } else if (op == "connect") {
      h = weft::spawn(
          [](io::address at) -> weft::task<void> { (void)co_await io::tcp_stream::connect(at); }(l.local_address()));
    } else if (op == "read_some") {
      h = weft::spawn([](io::tcp_stream& c, std::span<std::byte> b) -> weft::task<void> {
        (void)co_await c.read_some(b);
      }(c, small));
    } else if (op == "read") {
      h = weft::spawn(
          [](io::tcp_stream& c, std::span<std::byte> b) -> weft::task<void> { (void)co_await c.read(b); }(c, small));
    } else if (op == "write_some") {
      // Fill the send buffer first, so that the next write_some blocks.
      co_await outcome_of(c.write_all(big, 200ms));
      h = weft::spawn([](io::tcp_stream& c, std::span<const std::byte> b) -> weft::task<void> {
        (void)co_await c.write_some(b);
      }(c, big));
    } else {
      h = weft::spawn(
          [](io::tcp_stream& c, std::span<const std::byte> b) -> weft::task<void> { co_await c.write_all(b); }(c, big));
    }
    co_await settle();
    h.cancel();
    result out;
    out.pending = co_await outcome_of(std::move(h));
    // The cancelled operation left the sockets usable.
    if (op == "accept") {
      auto c2 = co_await io::tcp_stream::connect(l.local_address(), 20s);
      auto s2 = co_await l.accept(20s);
      co_await c2.write_all(bytes("ok"), 20s);
      std::byte buf[2];
      co_await io::read_exact(s2, buf, 20s);
      out.after = text(buf);
    } else if (op == "read_some" || op == "read") {
      co_await s.write_all(bytes("ok"), 20s);
      std::byte buf[2];
      co_await io::read_exact(c, buf, 20s);
      out.after = text(buf);
    } else {
      out.after = "ok";
    }
    co_return out;
  }(op));
  INFO(r.pending);
  CHECK(r.pending.kind == outcome::cancelled);
  CHECK(r.after == "ok");
}

// ------------------------------------------------------------ close() from another task
// (socket::cancel() and close() in general: socket_test.cpp)

TEST_CASE("tcp: close() while another task accepts ends the accept at once", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto workers = GENERATE(1u, 2u);
  weft::runtime rt{io_options(backend, workers)};
  outcome o = rt.block_on([]() -> weft::task<outcome> {
    auto l = io::tcp_listener::bind(loopback(AF_INET));
    auto acceptor = weft::spawn(
        [](io::tcp_listener& l) -> weft::task<outcome> { co_return co_await outcome_of(l.accept(10s)); }(l));
    co_await settle();
    l.close();
    co_return co_await acceptor;
  }());
  INFO(o);
  CHECK(o.kind == outcome::system_error);
  CHECK(o.err == ECANCELED);
}
