// TCP: weft::io::tcp_listener and weft::io::tcp_stream, IPv4 and IPv6.
//
//   auto listener = weft::io::tcp_listener::bind(weft::io::address::parse("127.0.0.1:0"));
//   for (;;) {
//     weft::io::tcp_stream conn = co_await listener.accept();
//     weft::spawn(handle(std::move(conn))).detach();
//   }
//
//   auto s = co_await weft::io::tcp_stream::connect(addr, 2s);  // timeout_error after 2 s
//   co_await s.write_all(weft::io::as_bytes("ping"));
//
// For an accept loop that survives EMFILE and friends, see io/serve.hpp.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <chrono>

#include "weft/io/socket.hpp"

namespace weft::io {

class tcp_stream : public stream_socket {
 public:
  tcp_stream() noexcept = default;
  explicit tcp_stream(int fd) noexcept : stream_socket(fd) {}

  /// Connects to `to`; ECONNREFUSED, ENETUNREACH... as std::system_error,
  /// timeout_error when `d` passes first.
  static task<tcp_stream> connect(address to, deadline d = {});

  /// TCP_NODELAY: send small writes at once (no Nagle delay).
  void set_nodelay(bool on) { set_option(IPPROTO_TCP, TCP_NODELAY, on); }
  bool nodelay() const { return get_option(IPPROTO_TCP, TCP_NODELAY) != 0; }
  /// SO_KEEPALIVE, with the idle time before the first probe, the interval
  /// between probes and their count (zero: keep the system's value).
  void set_keepalive(bool on, std::chrono::seconds idle = {}, std::chrono::seconds interval = {}, int probes = 0);
};

struct listen_options {
  int backlog = 1024;
  /// SO_REUSEADDR (rebinding a port with connections in TIME_WAIT).
  bool reuse_address = true;
  /// SO_REUSEPORT: several listeners on one port, the kernel spreads connections.
  bool reuse_port = false;
  /// For an IPv6 wildcard address: accept IPv6 only (no IPv4-mapped).
  bool v6_only = false;
};

class tcp_listener : public socket {
 public:
  tcp_listener() noexcept = default;
  explicit tcp_listener(int fd) noexcept : socket(fd), queue_(fd) {}
  tcp_listener(tcp_listener&&) noexcept = default;
  tcp_listener& operator=(tcp_listener&& o) noexcept {
    queue_ = std::move(o.queue_);
    socket::operator=(std::move(o));
    return *this;
  }
  ~tcp_listener() { queue_.reset(); }

  /// Stops the standing accept (a task waiting in accept() gets ECANCELED)
  /// and closes the socket.
  void close() noexcept {
    queue_.reset();
    socket::close();
  }

  /// bind(2) + listen(2); port 0 picks a free port (see local_address()).
  static tcp_listener bind(const address& at, const listen_options& opts = {});

  /// The next connection. EMFILE/ENFILE (out of descriptors), ENOBUFS and
  /// ECONNABORTED throw std::system_error; the listener stays usable. On
  /// io_uring a multishot accept stays armed between calls (see
  /// ops::accept_queue): connections that arrive meanwhile wait, accepted,
  /// for the next call.
  task<tcp_stream> accept(deadline d = {});

 private:
  ops::accept_queue queue_{-1};
};

}  // namespace weft::io
