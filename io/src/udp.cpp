#include "weft/io/udp.hpp"

#include <sys/uio.h>

#include <cerrno>

#include "error.hpp"
#include "weft/runtime/ops.hpp"

namespace weft::io {

using detail::check;
using detail::throw_errno;

udp_socket udp_socket::open(int family) { return udp_socket(open_socket(family, SOCK_DGRAM)); }

udp_socket udp_socket::bind(const address& at) {
  udp_socket s = open(at.family());
  if (::bind(s.fd(), at.data(), at.size()) < 0) throw_errno(errno, "bind " + at.to_string());
  return s;
}

void udp_socket::connect(const address& peer) {
  if (::connect(fd_, peer.data(), peer.size()) < 0) throw_errno(errno, "connect to " + peer.to_string());
}

task<std::size_t> udp_socket::send_to(std::span<const std::byte> data, const address& to, deadline d) {
  pending_op op(*this);
  ::iovec iov{const_cast<std::byte*>(data.data()), data.size()};
  ::msghdr msg{};
  msg.msg_name = const_cast<::sockaddr*>(to.data());
  msg.msg_namelen = to.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  int r;
  if (d) r = co_await with_deadline(d.at(), ops::sendmsg(fd_, &msg));
  else r = co_await ops::sendmsg(fd_, &msg);
  co_return static_cast<std::size_t>(check(op.result(r), "sendto"));
}

task<received_datagram> udp_socket::recv_from(std::span<std::byte> buf, deadline d) {
  pending_op op(*this);
  received_datagram out;
  ::iovec iov{buf.data(), buf.size()};
  ::msghdr msg{};
  msg.msg_name = out.from.data();
  msg.msg_namelen = address::capacity;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  int r;
  if (d) r = co_await with_deadline(d.at(), ops::recvmsg(fd_, &msg));
  else r = co_await ops::recvmsg(fd_, &msg);
  out.size = static_cast<std::size_t>(check(op.result(r), "recvfrom"));
  out.from = address(reinterpret_cast<const ::sockaddr*>(msg.msg_name), msg.msg_namelen);
  out.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  co_return out;
}

task<std::size_t> udp_socket::send(std::span<const std::byte> data, deadline d) {
  pending_op op(*this);
  int r;
  if (d) r = co_await with_deadline(d.at(), ops::send(fd_, data.data(), data.size()));
  else r = co_await ops::send(fd_, data.data(), data.size());
  co_return static_cast<std::size_t>(check(op.result(r), "send"));
}

task<std::size_t> udp_socket::recv(std::span<std::byte> buf, deadline d) {
  pending_op op(*this);
  int r;
  if (d) r = co_await with_deadline(d.at(), ops::recv(fd_, buf.data(), buf.size()));
  else r = co_await ops::recv(fd_, buf.data(), buf.size());
  co_return static_cast<std::size_t>(check(op.result(r), "recv"));
}

}  // namespace weft::io
