// weft::io::udp_socket: datagrams, IPv4 and IPv6.
//
//   auto s = weft::io::udp_socket::bind(weft::io::address::parse("127.0.0.1:0"));
//   co_await s.send_to(weft::io::as_bytes("ping"), peer);
//   std::byte buf[1500];
//   auto [n, from] = co_await s.recv_from(buf, 1s);
//
// A datagram longer than the buffer is truncated (the rest is dropped), as
// with recvfrom(2); received_datagram::truncated says so. UDP does not
// retry: a datagram may be lost, duplicated or reordered, and a send to a
// port nobody listens on may make a later call on a connected socket throw
// std::system_error (ECONNREFUSED, from the ICMP error that came back).
//
// Deadlines: each call takes an optional deadline (weft/io/deadline.hpp);
// past it the call throws weft::timeout_error. Cancellation: cancelling
// the task awaiting a send or receive cancels the operation, which throws
// operation_cancelled.
#pragma once

#include <cstddef>
#include <span>

#include "weft/io/socket.hpp"

namespace weft::io {

/// What recv_from() got: how many bytes of the datagram are in the buffer,
/// who sent it, and whether it was longer than the buffer (the rest lost).
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

  /// Sends data as one datagram to `to`; returns its size (a datagram is
  /// sent whole or not at all: EMSGSIZE over the path's limit throws).
  task<std::size_t> send_to(std::span<const std::byte> data, const address& to, deadline d = {});
  /// Waits for the next datagram and copies it into buf (truncated if
  /// longer: see received_datagram).
  task<received_datagram> recv_from(std::span<std::byte> buf, deadline d = {});
  /// send_to() the peer given to connect(); throws std::system_error
  /// (EDESTADDRREQ) on a socket that is not connected.
  task<std::size_t> send(std::span<const std::byte> data, deadline d = {});
  /// recv_from() of the connected peer's datagrams only; returns the bytes
  /// copied into buf (a longer datagram is truncated silently: use
  /// recv_from() to know).
  task<std::size_t> recv(std::span<std::byte> buf, deadline d = {});

  /// SO_BROADCAST: lets send_to() reach a broadcast address.
  void set_broadcast(bool on) { set_option(SOL_SOCKET, SO_BROADCAST, on); }
};

}  // namespace weft::io
