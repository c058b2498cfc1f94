// udp_socket on both drivers: send_to/recv_from over IPv4 and IPv6,
// connected send/recv, truncation, deadlines, cancellation, close().
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "io_fault_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

TEST_CASE("udp: send_to and recv_from, IPv4 and IPv6", "[io][udp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto family = GENERATE(AF_INET, AF_INET6);
  weft::runtime rt{io_options(backend)};
  struct result {
    std::string got, reply;
    io::address from, sender, reply_from, receiver;
    std::size_t sent = 0;
    bool truncated = true;
  };
  result r = rt.block_on([family]() -> weft::task<result> {
    auto a = io::udp_socket::bind(loopback(family));
    auto b = io::udp_socket::bind(loopback(family));
    result out;
    out.sender = a.local_address();
    out.receiver = b.local_address();
    out.sent = co_await a.send_to(bytes("ping"), out.receiver, 20s);
    std::byte buf[64];
    auto d = co_await b.recv_from(buf, 20s);
    out.got = text({buf, d.size});
    out.from = d.from;
    out.truncated = d.truncated;
    co_await b.send_to(bytes("pong"), d.from, 20s);
    auto d2 = co_await a.recv_from(buf, 20s);
    out.reply = text({buf, d2.size});
    out.reply_from = d2.from;
    co_return out;
  }());
  CHECK(r.sent == 4);
  CHECK(r.got == "ping");
  CHECK_FALSE(r.truncated);
  CHECK(r.from == r.sender);
  CHECK(r.reply == "pong");
  CHECK(r.reply_from == r.receiver);
  CHECK(r.receiver.family() == family);
}

TEST_CASE("udp: an unbound socket from open() can send, an empty datagram is 0 bytes", "[io][udp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::size_t first = 99, second = 99;
    bool sender_bound = false;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto rx = io::udp_socket::bind(loopback(AF_INET));
    auto tx = io::udp_socket::open(AF_INET);
    result out;
    co_await tx.send_to({}, rx.local_address(), 20s);
    co_await tx.send_to(bytes("x"), rx.local_address(), 20s);
    std::byte buf[8];
    out.first = (co_await rx.recv_from(buf, 20s)).size;
    out.second = (co_await rx.recv_from(buf, 20s)).size;
    out.sender_bound = tx.local_address().port() != 0;
    co_return out;
  }());
  CHECK(r.first == 0);
  CHECK(r.second == 1);
  CHECK(r.sender_bound);
}

TEST_CASE("udp: connected send/recv, datagrams from others are filtered out", "[io][udp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::string got, reply;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto a = io::udp_socket::bind(loopback(AF_INET));
    auto b = io::udp_socket::bind(loopback(AF_INET));
    auto stranger = io::udp_socket::bind(loopback(AF_INET));
    a.connect(b.local_address());
    b.connect(a.local_address());
    result out;
    // b only hears from a: the stranger's datagram is dropped by the kernel.
    co_await stranger.send_to(bytes("noise"), b.local_address(), 20s);
    co_await a.send(bytes("hello"), 20s);
    std::byte buf[64];
    out.got = text({buf, co_await b.recv(buf, 20s)});
    co_await b.send(bytes("back"), 20s);
    out.reply = text({buf, co_await a.recv(buf, 20s)});
    co_return out;
  }());
  CHECK(r.got == "hello");
  CHECK(r.reply == "back");
}

TEST_CASE("udp: a datagram longer than the buffer is truncated and says so", "[io][udp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::size_t size = 0;
    bool truncated = false;
    std::string got, next;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto a = io::udp_socket::bind(loopback(AF_INET));
    auto b = io::udp_socket::bind(loopback(AF_INET));
    co_await a.send_to(bytes("0123456789"), b.local_address(), 20s);
    co_await a.send_to(bytes("next"), b.local_address(), 20s);
    std::byte small[4];
    auto d = co_await b.recv_from(small, 20s);
    result out;
    out.size = d.size;
    out.truncated = d.truncated;
    out.got = text({small, d.size});
    std::byte buf[64];
    auto d2 = co_await b.recv_from(buf, 20s);  // the rest of the first one is gone
    out.next = text({buf, d2.size});
    co_return out;
  }());
  CHECK(r.size == 4);
  CHECK(r.truncated);
  CHECK(r.got == "0123");
  CHECK(r.next == "next");
}

TEST_CASE("udp: recv_from with a deadline and nothing arriving is timeout_error", "[io][udp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    outcome recv_from, recv;
    std::string after;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto a = io::udp_socket::bind(loopback(AF_INET));
    auto b = io::udp_socket::bind(loopback(AF_INET));
    std::byte buf[64];
    result out;
    out.recv_from = co_await outcome_of(b.recv_from(buf, 100ms));
    b.connect(a.local_address());
    out.recv = co_await outcome_of(b.recv(buf, 100ms));
    // The socket still works after a timeout.
    co_await a.send_to(bytes("late"), b.local_address(), 20s);
    auto d = co_await b.recv_from(buf, 20s);
    out.after = text({buf, d.size});
    co_return out;
  }());
  INFO(r.recv_from);
  CHECK(r.recv_from.kind == outcome::timeout);
  INFO(r.recv);
  CHECK(r.recv.kind == outcome::timeout);
  CHECK(r.after == "late");
}

TEST_CASE(
    "udp: errors: send_to an address of the other family, recv on a connected socket whose peer "
    "is gone",
    "[io][udp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    outcome wrong_family, refused;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto a = io::udp_socket::bind(loopback(AF_INET));
    result out;
    out.wrong_family = co_await outcome_of(a.send_to(bytes("x"), loopback(AF_INET6, 9), 20s));
    io::address gone;
    {
      auto g = io::udp_socket::bind(loopback(AF_INET));
      gone = g.local_address();
    }
    a.connect(gone);
    co_await a.send(bytes("anyone?"), 20s);  // answered by ICMP port unreachable
    std::byte buf[16];
    out.refused = co_await outcome_of(a.recv(buf, 20s));
    co_return out;
  }());
  INFO(r.wrong_family);
  CHECK(r.wrong_family.kind == outcome::system_error);
  CHECK((r.wrong_family.err == EAFNOSUPPORT || r.wrong_family.err == EINVAL));
  INFO(r.refused);
  CHECK(r.refused.kind == outcome::system_error);
  CHECK(r.refused.err == ECONNREFUSED);
}

TEST_CASE("udp: cancelling a pending recv_from gives operation_cancelled, the socket goes on", "[io][udp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};
  struct result {
    outcome pending;
    std::string after;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto a = io::udp_socket::bind(loopback(AF_INET));
    auto b = io::udp_socket::bind(loopback(AF_INET));
    auto h = weft::spawn([](io::udp_socket& b) -> weft::task<void> {
      std::byte buf[16];
      (void)co_await b.recv_from(buf);
    }(b));
    co_await settle();
    h.cancel();
    result out;
    out.pending = co_await outcome_of(std::move(h));
    co_await a.send_to(bytes("ok"), b.local_address(), 20s);
    std::byte buf[16];
    auto d = co_await b.recv_from(buf, 20s);
    out.after = text({buf, d.size});
    co_return out;
  }());
  INFO(r.pending);
  CHECK(r.pending.kind == outcome::cancelled);
  CHECK(r.after == "ok");
}

TEST_CASE("udp: cancel() or close() from another task ends a pending recv_from with ECANCELED", "[io][udp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto how = GENERATE(as<std::string>{}, "cancel", "close");
  auto workers = GENERATE(1u, 2u);
  weft::runtime rt{io_options(backend, workers)};
  INFO("by " << how);
  outcome o = rt.block_on([](std::string how) -> weft::task<outcome> {
    auto b = io::udp_socket::bind(loopback(AF_INET));
    auto h = weft::spawn([](io::udp_socket& b) -> weft::task<outcome> {
      std::byte buf[16];
      co_return co_await outcome_of(b.recv_from(buf, 10s));
    }(b));
    co_await settle();
    if (how == "cancel") b.cancel();
    else b.close();
    co_return co_await h;
  }(how));
  INFO(o);
  CHECK(o.kind == outcome::system_error);
  CHECK(o.err == ECANCELED);
}
