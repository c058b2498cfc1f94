// weft::io::socket: an owned socket descriptor, the base of every socket
// type; weft::io::stream_socket adds the byte-stream operations shared by
// tcp_stream and unix_stream.
//
// close() ends the operations other tasks still have pending on the
// socket with std::system_error(ECANCELED), on both drivers, instead of
// keeping the connection open or hanging; the peer sees the connection
// end at once. cancel() ends them the same way without closing: the socket
// stays usable. Destroying a socket closes it, so it may be destroyed
// while other tasks wait on it; it is moved only while nothing is pending.
//
// Errors are std::system_error carrying the errno (ECONNRESET, EPIPE,
// ECONNREFUSED, EMFILE, ...); end of stream is a 0-byte read. An operation
// whose task is cancelled throws weft::operation_cancelled; one whose
// deadline passes throws weft::timeout_error.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <span>
#include <utility>

#include "weft/io/address.hpp"
#include "weft/io/deadline.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/task.hpp"

namespace weft::io {

/// Received bytes in a buffer lent by the driver (see receive()). Move-only;
/// destroying it gives the buffer back. Release it before the runtime ends.
using chunk = ops::pooled_buffer;

namespace detail {
/// What a socket shares with its operations in flight, so that they can
/// end safely after the socket object is closed or destroyed under them.
struct socket_state {
  std::atomic<int> refs{1};  // the socket + each operation in flight
  std::atomic<bool> closed{false};
  void unref() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};
}  // namespace detail

class socket {
 public:
  socket() noexcept = default;
  /// Adopts an open, non-blocking descriptor.
  explicit socket(int fd) : fd_(fd), st_(fd >= 0 ? new detail::socket_state : nullptr) {}
  socket(socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), st_(std::exchange(o.st_, nullptr)) {}
  socket& operator=(socket&& o) noexcept;
  ~socket() {
    close();
    if (st_) st_->unref();
  }

  int fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  /// Gives the descriptor up without closing it.
  int release() noexcept;
  /// Ends the operations pending on the socket (they throw
  /// std::system_error with ECANCELED), then closes it. Idempotent. The
  /// destructor does the same, so a socket may be destroyed while other
  /// tasks still wait on it.
  void close() noexcept;
  /// Makes every pending operation on this socket end with ECANCELED.
  void cancel() noexcept;

  address local_address() const;
  /// The value of SO_ERROR (and clears it).
  int take_error() const;
  void set_option(int level, int name, int value);
  int get_option(int level, int name) const;
  void set_reuse_address(bool on) { set_option(SOL_SOCKET, SO_REUSEADDR, on); }
  void set_receive_buffer_size(int bytes) { set_option(SOL_SOCKET, SO_RCVBUF, bytes); }
  void set_send_buffer_size(int bytes) { set_option(SOL_SOCKET, SO_SNDBUF, bytes); }

 protected:
  /// socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC; throws system_error.
  static int open_socket(int family, int type, int protocol = 0);

  /// Marks an operation in flight: close() knows whether to wake any, and
  /// the operation can learn after resuming, without touching the socket
  /// object, that close() ended it.
  class pending_op {
   public:
    explicit pending_op(const socket& s) noexcept : st_(s.st_) {
      if (st_) st_->refs.fetch_add(1, std::memory_order_relaxed);
    }
    ~pending_op() {
      if (st_) st_->unref();
    }
    pending_op(const pending_op&) = delete;
    /// The operation's result r, or -ECANCELED if close() ended it: close()
    /// wakes io_uring operations by shutdown(2), which they report as end
    /// of stream, EPIPE or EINVAL; the caller must see the same ECANCELED
    /// as on epoll.
    int result(int r) const noexcept {
      if (r <= 0 && st_ && st_->closed.load(std::memory_order_acquire)) return -ECANCELED;
      return r;
    }

   private:
    detail::socket_state* st_;
  };

  int fd_ = -1;
  detail::socket_state* st_ = nullptr;
};

/// A connected byte stream (TCP or Unix): the readable_stream and
/// writable_stream operations.
class stream_socket : public socket {
 public:
  using socket::socket;

  /// Reads what is available (at least 1 byte, waiting if need be); 0 at
  /// end of stream.
  task<std::size_t> read_some(std::span<std::byte> buf, deadline d = {});
  /// Reads what is available into a buffer the driver provides only when
  /// data arrives (io_uring: the worker's provided-buffer ring), so that
  /// thousands of idle connections waiting here pin no buffer memory. An
  /// empty chunk means end of stream.
  ///
  ///   while (io::chunk c = co_await s.receive()) ...   // see chunk
  task<chunk> receive(deadline d = {});
  /// Reads until `buf` is full or the stream ends; returns the bytes read.
  task<std::size_t> read(std::span<std::byte> buf, deadline d = {});
  /// Writes some of `buf` (waiting while the peer's window is full).
  task<std::size_t> write_some(std::span<const std::byte> buf, deadline d = {});
  /// Writes all of `buf`. A peer that stops reading holds this until `d`.
  task<void> write_all(std::span<const std::byte> buf, deadline d = {});

  /// Half-close: no more writes (the peer reads end of stream); reads go on.
  void shutdown_write();
  /// No more reads or writes in either direction.
  void shutdown();

  address peer_address() const;
};

}  // namespace weft::io
