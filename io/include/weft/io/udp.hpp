// weft::io::udp_socket: datagrams, IPv4 and IPv6.
//
//   auto s = weft::io::udp_socket::bind(weft::io::address::parse("127.0.0.1:0"));
//   co_await s.send_to(weft::io::as_bytes("ping"), peer);
//   std::byte buf[1500];
//   auto [n, from] = co_await s.recv_from(buf, 1s);
//
// A datagram longer than the buffer is truncated (the rest is dropped), as
// with recvfrom(2); received_datagram::truncated says so.
#pragma once

#include <cstddef>
#include <span>

#include "weft/io/socket.hpp"

namespace weft::io {

struct received_datagram {
  std::size_t size = 0;
  address from;
  bool truncated = false;
};

class udp_socket : public socket {
 public:
  udp_socket() noexcept = default;
  explicit udp_socket(int fd) noexcept : socket(fd) {}

  /// A socket bound to `at` (port 0: any free port).
  static udp_socket bind(const address& at);
  /// An unbound socket of the family (AF_INET / AF_INET6).
  static udp_socket open(int family);

  /// Sets the default peer for send()/recv() and filters incoming datagrams.
  void connect(const address& peer);

  task<std::size_t> send_to(std::span<const std::byte> data, const address& to, deadline d = {});
  task<received_datagram> recv_from(std::span<std::byte> buf, deadline d = {});
  /// On a connected socket.
  task<std::size_t> send(std::span<const std::byte> data, deadline d = {});
  task<std::size_t> recv(std::span<std::byte> buf, deadline d = {});

  void set_broadcast(bool on) { set_option(SOL_SOCKET, SO_BROADCAST, on); }
};

}  // namespace weft::io
