#include "weft/io/socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "error.hpp"
#include "weft/io/stream.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/runtime.hpp"

namespace weft::io {

using detail::check;
using detail::throw_errno;

// ---------------------------------------------------------------- socket

socket& socket::operator=(socket&& o) noexcept {
  if (this != &o) {
    close();
    if (st_) st_->unref();
    fd_ = std::exchange(o.fd_, -1);
    st_ = std::exchange(o.st_, nullptr);
  }
  return *this;
}

int socket::release() noexcept { return std::exchange(fd_, -1); }

void socket::cancel() noexcept {
  if (fd_ >= 0) ops::try_cancel(fd_);
}

void socket::close() noexcept {
  if (fd_ < 0) return;
  // An operation still in flight holds the file open on io_uring (the
  // connection would outlive close) and never wakes on epoll: end it first.
  // pending_op::result() then reports it as ECANCELED on both drivers.
  if (st_) st_->closed.store(true, std::memory_order_release);
  if (st_ && st_->refs.load(std::memory_order_acquire) > 1) {  // operations in flight
    // epoll: drop the readiness waits now; a wake-up from the shutdown
    // below would be lost with the fd. io_uring: a cancel by fd is only
    // queued to each worker's ring, and by the time a ring submits it the
    // fd is closed (it finds nothing) or reused by a new socket (it
    // cancels that socket's operations). The shutdown instead wakes every
    // operation on the socket in the kernel at once (recv sees end of
    // stream, send EPIPE, accept EINVAL).
    weft::runtime* rt = weft::runtime::current();
    if (rt && rt->io_backend() != weft::io_backend::io_uring) ops::try_cancel(fd_);
    ::shutdown(fd_, SHUT_RDWR);
  }
  ::close(std::exchange(fd_, -1));
}

int socket::open_socket(int family, int type, int protocol) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw_errno(errno, "socket");
  return fd;
}

address socket::local_address() const {
  address a;
  *a.size_ptr() = address::capacity;
  if (::getsockname(fd_, a.data(), a.size_ptr()) < 0) throw_errno(errno, "getsockname");
  return a;
}

void socket::set_option(int level, int name, int value) {
  if (::setsockopt(fd_, level, name, &value, sizeof value) < 0) throw_errno(errno, "setsockopt");
}

int socket::get_option(int level, int name) const {
  int value = 0;
  ::socklen_t len = sizeof value;
  if (::getsockopt(fd_, level, name, &value, &len) < 0) throw_errno(errno, "getsockopt");
  return value;
}

int socket::take_error() const { return get_option(SOL_SOCKET, SO_ERROR); }

// ---------------------------------------------------------------- stream_socket

task<std::size_t> stream_socket::read_some(std::span<std::byte> buf, deadline d) {
  pending_op op(*this);
  int r;
  if (d) r = co_await with_deadline(d.at(), ops::recv(fd_, buf.data(), buf.size()));
  else r = co_await ops::recv(fd_, buf.data(), buf.size());
  co_return static_cast<std::size_t>(check(op.result(r), "recv"));
}

task<chunk> stream_socket::receive(deadline d) {
  pending_op op(*this);
  chunk c;
  int r;
  if (d) r = co_await with_deadline(d.at(), ops::recv_pooled(fd_, c));
  else r = co_await ops::recv_pooled(fd_, c);
  check(op.result(r), "recv");  // close() reads as ECANCELED, as in read_some
  co_return c;
}

task<std::size_t> stream_socket::read(std::span<std::byte> buf, deadline d) { return read_full(*this, buf, d); }

task<std::size_t> stream_socket::write_some(std::span<const std::byte> buf, deadline d) {
  pending_op op(*this);
  int r;
  if (d) r = co_await with_deadline(d.at(), ops::send(fd_, buf.data(), buf.size()));
  else r = co_await ops::send(fd_, buf.data(), buf.size());
  co_return static_cast<std::size_t>(check(op.result(r), "send"));
}

task<void> stream_socket::write_all(std::span<const std::byte> buf, deadline d) { return io::write_all(*this, buf, d); }

void stream_socket::shutdown_write() {
  if (::shutdown(fd_, SHUT_WR) < 0) throw_errno(errno, "shutdown");
}

void stream_socket::shutdown() {
  if (::shutdown(fd_, SHUT_RDWR) < 0) throw_errno(errno, "shutdown");
}

address stream_socket::peer_address() const {
  address a;
  *a.size_ptr() = address::capacity;
  if (::getpeername(fd_, a.data(), a.size_ptr()) < 0) throw_errno(errno, "getpeername");
  return a;
}

}  // namespace weft::io
