// io::socket and io::stream_socket, the base of every socket type: an owned
// descriptor (adopt, release, move, close), options, the local address and
// SO_ERROR; and, on both drivers, cancel() and close() from another task
// ending pending operations with ECANCELED, a socket destroyed under a
// waiting task, a descriptor number reused after close().
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "io_fault_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

/// A connected, non-blocking pair of Unix stream descriptors (not owned).
std::pair<int, int> raw_pair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  return {fds[0], fds[1]};
}

/// recv(2) of one byte: 1, 0 at end of stream, -1 (errno) otherwise.
long recv_one(int fd, char& c) { return ::recv(fd, &c, 1, 0); }

int new_udp_socket() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  return fd;
}

}  // namespace

// ------------------------------------------------------------ the descriptor

TEST_CASE("socket: adopts, releases, moves and closes its descriptor", "[io][socket]") {
  io::socket none;
  CHECK(none.fd() == -1);
  CHECK_FALSE(none.is_open());
  none.close();  // nothing to close
  none.cancel();
  CHECK_FALSE(none.is_open());

  auto [mine, peer] = raw_pair();
  char c = 0;
  io::socket a(mine);
  CHECK(a.is_open());
  CHECK(a.fd() == mine);
  // release() gives the descriptor up without closing it.
  const int fd = a.release();
  CHECK(fd == mine);
  CHECK_FALSE(a.is_open());
  CHECK(a.fd() == -1);
  CHECK(::send(fd, "x", 1, MSG_NOSIGNAL) == 1);
  CHECK(recv_one(peer, c) == 1);
  CHECK(c == 'x');

  io::socket b(fd);
  io::socket moved(std::move(b));
  CHECK_FALSE(b.is_open());
  CHECK(moved.fd() == fd);
  // close(): the peer sees end of stream; a second close() does nothing.
  moved.close();
  CHECK_FALSE(moved.is_open());
  CHECK(moved.fd() == -1);
  moved.close();
  CHECK(recv_one(peer, c) == 0);
  ::close(peer);

  // Destroying a socket closes it.
  auto [mine2, peer2] = raw_pair();
  { io::socket gone(mine2); }
  CHECK(recv_one(peer2, c) == 0);
  ::close(peer2);
}

TEST_CASE("socket: move assignment closes the descriptor it held", "[io][socket]") {
  auto [x_fd, x_peer] = raw_pair();
  auto [y_fd, y_peer] = raw_pair();
  char c = 0;
  io::socket x(x_fd);
  io::socket y(y_fd);
  x = std::move(y);
  CHECK(x.fd() == y_fd);
  CHECK_FALSE(y.is_open());
  CHECK(recv_one(x_peer, c) == 0);  // x's old descriptor was closed
  CHECK(::send(y_peer, "y", 1, MSG_NOSIGNAL) == 1);
  CHECK(recv_one(x.fd(), c) == 1);  // the one it took over works
  CHECK(c == 'y');
  ::close(x_peer);
  ::close(y_peer);
}

// ------------------------------------------------------------ options, address, SO_ERROR

TEST_CASE("socket: options read back, a bad one is std::system_error with its errno", "[io][socket]") {
  io::socket u(new_udp_socket());
  u.set_reuse_address(true);
  CHECK(u.get_option(SOL_SOCKET, SO_REUSEADDR) == 1);
  u.set_reuse_address(false);
  CHECK(u.get_option(SOL_SOCKET, SO_REUSEADDR) == 0);
  // Linux doubles the size asked for, for its bookkeeping (socket(7)).
  u.set_receive_buffer_size(8192);
  CHECK(u.get_option(SOL_SOCKET, SO_RCVBUF) == 2 * 8192);
  u.set_send_buffer_size(8192);
  CHECK(u.get_option(SOL_SOCKET, SO_SNDBUF) == 2 * 8192);
  u.set_option(SOL_SOCKET, SO_BROADCAST, 1);
  CHECK(u.get_option(SOL_SOCKET, SO_BROADCAST) == 1);

  int get_err = 0, set_err = 0;
  std::string get_what;
  try {
    (void)u.get_option(SOL_SOCKET, -1);
  } catch (const std::system_error& e) {
    get_err = e.code().value();
    get_what = e.what();
  }
  try {
    u.set_option(SOL_SOCKET, -1, 1);
  } catch (const std::system_error& e) {
    set_err = e.code().value();
  }
  CHECK(get_err == ENOPROTOOPT);
  CHECK(get_what.rfind("getsockopt", 0) == 0);
  CHECK(set_err == ENOPROTOOPT);
}

TEST_CASE("socket: local_address, and take_error reads SO_ERROR once", "[io][socket]") {
  io::socket u(new_udp_socket());
  ::sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(u.fd(), reinterpret_cast<const ::sockaddr*>(&at), sizeof at) == 0);
  const io::address local = u.local_address();
  CHECK(local.ip() == "127.0.0.1");
  CHECK(local.port() != 0);

  // A UDP socket connected to a port nobody listens on: the ICMP "port
  // unreachable" its datagram draws becomes its pending error.
  ::sockaddr_in closed{};
  {
    io::socket tmp(new_udp_socket());
    closed.sin_family = AF_INET;
    closed.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(tmp.fd(), reinterpret_cast<const ::sockaddr*>(&closed), sizeof closed) == 0);
    closed.sin_port = htons(tmp.local_address().port());
  }
  REQUIRE(::connect(u.fd(), reinterpret_cast<const ::sockaddr*>(&closed), sizeof closed) == 0);
  CHECK(u.take_error() == 0);
  REQUIRE(::send(u.fd(), "x", 1, 0) == 1);
  ::pollfd p{u.fd(), 0, 0};  // POLLERR is always reported
  REQUIRE(::poll(&p, 1, 20'000) == 1);
  CHECK(u.take_error() == ECONNREFUSED);
  CHECK(u.take_error() == 0);  // read once, then cleared
}

// ------------------------------------------------------------ cancel() and close() from another task

TEST_CASE("tcp: socket::cancel() from another task ends a pending read with system_error(ECANCELED)", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto workers = GENERATE(1u, 2u);
  weft::runtime rt{io_options(backend, workers)};
  struct result {
    outcome read;
    std::string after;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    auto reader = weft::spawn([](io::tcp_stream& c) -> weft::task<outcome> {
      std::byte buf[64];
      co_return co_await outcome_of(c.read_some(buf, 20s));
    }(c));
    co_await settle();
    c.cancel();
    result out;
    out.read = co_await reader;
    // cancel() is not close(): the stream goes on.
    co_await s.write_all(bytes("ok"), 20s);
    std::byte buf[2];
    co_await io::read_exact(c, buf, 20s);
    out.after = text(buf);
    co_return out;
  }());
  INFO(r.read);
  CHECK(r.read.kind == outcome::system_error);
  CHECK(r.read.err == ECANCELED);
  CHECK(r.after == "ok");
}

TEST_CASE("tcp: close() while another task reads ends the read at once, the peer sees end of stream", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto workers = GENERATE(1u, 2u);
  weft::runtime rt{io_options(backend, workers)};
  struct result {
    outcome read, peer;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    auto reader = weft::spawn([](io::tcp_stream& s) -> weft::task<outcome> {
      std::byte buf[64];
      co_return co_await outcome_of(s.read_some(buf, 10s));
    }(s));
    co_await settle();
    s.close();
    result out;
    std::byte buf[64];
    out.peer = co_await outcome_of(c.read_some(buf, 10s));
    out.read = co_await reader;
    co_return out;
  }());
  INFO(r.read);
  CHECK(r.read.kind == outcome::system_error);
  CHECK(r.read.err == ECANCELED);
  INFO(r.peer);
  CHECK(r.peer.ok());
  CHECK(r.peer.result == 0);
}

TEST_CASE("tcp: close() while another task waits in receive() ends it with ECANCELED, not end of stream", "[io][tcp]") {
  // receive() lends a driver buffer (io_uring: a provided-buffer recv);
  // close() wakes it by shutdown(2), which the kernel reports as end of
  // stream: it must read as ECANCELED, as read_some does and epoll gives.
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};
  outcome r = rt.block_on([]() -> weft::task<outcome> {
    auto [c, s] = co_await tcp_pair();
    auto reader =
        weft::spawn([](io::tcp_stream& s) -> weft::task<outcome> { co_return co_await outcome_of(s.receive(10s)); }(s));
    co_await settle();
    s.close();
    co_return co_await reader;
  }());
  INFO(r);
  CHECK(r.kind == outcome::system_error);
  CHECK(r.err == ECANCELED);
}

TEST_CASE("tcp: destroying a stream or a listener while another task waits on it ends the wait", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto workers = GENERATE(1u, 2u);
  weft::runtime rt{io_options(backend, workers)};
  struct result {
    outcome read, accept, peer;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    auto owned = std::make_unique<io::tcp_stream>(std::move(s));
    auto reader = weft::spawn([](io::tcp_stream& s) -> weft::task<outcome> {
      std::byte buf[64];
      co_return co_await outcome_of(s.read_some(buf, 10s));
    }(*owned));
    auto listener = std::make_unique<io::tcp_listener>(io::tcp_listener::bind(loopback(AF_INET)));
    auto acceptor = weft::spawn(
        [](io::tcp_listener& l) -> weft::task<outcome> { co_return co_await outcome_of(l.accept(10s)); }(*listener));
    co_await settle();
    owned.reset();  // the reader still waits in it: its read must end, not touch freed memory
    listener.reset();
    result out;
    std::byte buf[64];
    out.peer = co_await outcome_of(c.read_some(buf, 10s));
    out.read = co_await reader;
    out.accept = co_await acceptor;
    co_return out;
  }());
  INFO(r.read);
  CHECK(r.read.kind == outcome::system_error);
  CHECK(r.read.err == ECANCELED);
  INFO(r.accept);
  CHECK(r.accept.kind == outcome::system_error);
  CHECK(r.accept.err == ECANCELED);
  INFO(r.peer);
  CHECK(r.peer.ok());
  CHECK(r.peer.result == 0);
}

TEST_CASE("tcp: close() with a read pending leaves alone a socket that reuses its descriptor number", "[io][tcp]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};
  struct result {
    bool reused = false;
    outcome first, second;
    std::string got;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [c, s] = co_await tcp_pair();
    auto reader = weft::spawn([](io::tcp_stream& s) -> weft::task<outcome> {
      std::byte buf[64];
      co_return co_await outcome_of(s.read_some(buf, 10s));
    }(s));
    co_await settle();
    result out;
    const int old_fd = s.fd();
    // Fill the free descriptor numbers below s's, so that s's is the
    // lowest free one once closed.
    std::vector<io::udp_socket> fillers;
    for (;;) {
      auto f = io::udp_socket::open(AF_INET);
      if (f.fd() > old_fd) break;
      fillers.push_back(std::move(f));
    }
    s.close();
    // The lowest free descriptor is the one just closed: u gets it, and its
    // read is submitted before this worker next looks at queued requests.
    auto u = io::udp_socket::bind(loopback(AF_INET));
    out.reused = u.fd() == old_fd;
    auto sender = weft::spawn([](io::address to) -> weft::task<void> {
      co_await weft::sleep_for(100ms);
      auto tx = io::udp_socket::bind(loopback(AF_INET));
      co_await tx.send_to(bytes("ok"), to, 10s);
    }(u.local_address()));
    std::byte buf[16];
    out.second = co_await outcome_of(u.recv(buf, 10s));
    if (out.second.ok()) out.got = text({buf, static_cast<std::size_t>(out.second.result)});
    out.first = co_await reader;
    co_await sender;
    co_return out;
  }());
  INFO(r.first);
  CHECK(r.first.kind == outcome::system_error);
  CHECK(r.first.err == ECANCELED);
  CHECK(r.reused);
  INFO(r.second);
  CHECK(r.got == "ok");
}
