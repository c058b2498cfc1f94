// weft::io::socket: an owned socket descriptor, the base of every socket
// type; weft::io::stream_socket adds the byte-stream operations shared by
// tcp_stream and unix_stream.
//
// close() ends the operations other tasks still have pending on the
// socket with std::system_error(ECANCELED), on both drivers, instead of
// keeping the connection open or hanging; the peer sees the connection
// end at once. cancel() ends them the same way without closing: the socket
// stays usable. A socket is moved or destroyed only while nothing is
// pending on it (close() it first, then let the operations end).
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

#include "weft/io/address.hpp"
#include "weft/io/deadline.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/task.hpp"

namespace weft::io {

/// Received bytes in a buffer lent by the driver (see receive()). Move-only;
/// destroying it gives the buffer back. Release it before the runtime ends.
using chunk = ops::pooled_buffer;

class socket {
 public:
  socket() noexcept = default;
  /// Adopts an open, non-blocking descriptor.
  explicit socket(int fd) noexcept : fd_(fd) {}
  socket(socket&& o) noexcept : fd_(o.release()) {}
  socket& operator=(socket&& o) noexcept;
  ~socket() { close(); }

  int fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  /// Gives the descriptor up without closing it.
  int release() noexcept;
  /// Cancels pending operations, then closes. Idempotent.
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

  /// Counts an operation in flight, so close() knows whether to cancel.
  class pending_op {
   public:
    explicit pending_op(const socket& s) noexcept : s_(s) { s_.pending_.fetch_add(1, std::memory_order_relaxed); }
    ~pending_op() { s_.pending_.fetch_sub(1, std::memory_order_relaxed); }
    pending_op(const pending_op&) = delete;
    /// The operation's result r, or -ECANCELED if close() ended it: close()
    /// wakes io_uring operations by shutdown(2), which they report as end
    /// of stream, EPIPE or EINVAL; the caller must see the same ECANCELED
    /// as on epoll.
    int result(int r) const noexcept {
      if (r <= 0 && (s_.pending_.load(std::memory_order_acquire) & closed_flag)) return -ECANCELED;
      return r;
    }

   private:
    const socket& s_;
  };

  /// Set in pending_ by close(), so that the operations it ended know it.
  static constexpr int closed_flag = 1 << 30;

  int fd_ = -1;
  mutable std::atomic<int> pending_{0};
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
