// Driver operations: the system calls every I/O type is built from.
//
//   int n = co_await weft::ops::recv(fd, buf, sizeof buf);
//   if (n < 0) throw std::system_error(-n, std::system_category(), "recv");
//
// Each returns the system call's result: >= 0 on success, -errno on
// failure (so callers decide what is an error; end of stream is 0). On
// io_uring they are single submissions on the current worker's ring; on
// epoll they try the call on the non-blocking fd and wait for readiness
// when it would block. fds must be non-blocking (SOCK_NONBLOCK) for the
// epoll driver. File operations (read/write at an offset, openat, fsync,
// statx) run natively on io_uring; on epoll they run on the blocking pool
// (weft/runtime/blocking.hpp), because a regular file is always "ready" to
// epoll and a direct call would stall the worker on a cold page cache.
//
// Cancellation: if the task's stop is requested while an operation is
// pending, the operation is cancelled (IORING_OP_ASYNC_CANCEL, or the
// readiness wait is dropped) and the awaiting task gets
// operation_cancelled. If the operation completed anyway (it raced the
// cancel), its result is returned, so no data is lost. A file operation on
// epoll that a pool thread has already started cannot be interrupted: it
// runs to the end and its result is returned; one still queued is dropped.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "weft/runtime/task.hpp"

namespace weft::detail {
class accept_state;
/// Whoever lent a pooled_buffer (a driver's provided-buffer ring).
struct buffer_owner {
  void (*give_back)(buffer_owner*, std::uint16_t id) noexcept;
};
}  // namespace weft::detail

namespace weft::ops {

/// A buffer filled by recv_pooled(). On io_uring it is lent from the
/// worker's provided-buffer ring (the kernel picks it only when data
/// arrives, so a connection waiting for data pins no memory); elsewhere it
/// is allocated for the call. Move-only; destroying it (or reset()) gives
/// it back. Release it before its runtime ends.
class pooled_buffer {
 public:
  pooled_buffer() noexcept = default;
  pooled_buffer(pooled_buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        offset_(std::exchange(o.offset_, 0)),
        id_(o.id_),
        owner_(std::exchange(o.owner_, nullptr)) {}
  pooled_buffer& operator=(pooled_buffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      offset_ = std::exchange(o.offset_, 0);
      id_ = o.id_;
      owner_ = std::exchange(o.owner_, nullptr);
    }
    return *this;
  }
  ~pooled_buffer() { reset(); }

  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  explicit operator bool() const noexcept { return size_ != 0; }
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  /// Drops the first n bytes (a parser consumed them).
  void consume(std::size_t n) noexcept {
    data_ += n;
    size_ -= static_cast<std::uint32_t>(n);
    offset_ += static_cast<std::uint32_t>(n);
  }
  void reset() noexcept;

  /// For the drivers: a buffer lent by `owner` / one from operator new[].
  static pooled_buffer lent(std::byte* p, std::size_t n, detail::buffer_owner* owner, std::uint16_t id) noexcept;
  static pooled_buffer allocated(std::byte* p, std::size_t n) noexcept;

 private:
  std::byte* data_ = nullptr;
  std::uint32_t size_ = 0;
  std::uint32_t offset_ = 0;
  std::uint16_t id_ = 0;
  detail::buffer_owner* owner_ = nullptr;
};

/// read(2) / pread(2) when offset >= 0. A len above 0x7ffff000 (Linux's
/// cap on one read) is clamped, so the result always fits an int.
task<int> read(int fd, void* buf, std::size_t len, std::int64_t offset = -1);
/// write(2) / pwrite(2) when offset >= 0; len is clamped as for read.
task<int> write(int fd, const void* buf, std::size_t len, std::int64_t offset = -1);
task<int> recv(int fd, void* buf, std::size_t len, int flags = 0);
/// send(2); MSG_NOSIGNAL is always added (a closed peer gives -EPIPE, not SIGPIPE).
task<int> send(int fd, const void* buf, std::size_t len, int flags = 0);
task<int> sendmsg(int fd, const ::msghdr* msg, int flags = 0);
task<int> recvmsg(int fd, ::msghdr* msg, int flags = 0);
/// recv(2) into a buffer the driver provides when data arrives (see
/// pooled_buffer): `out` receives it; the result is its size, 0 at end of
/// stream, or -errno. Buffers hold runtime_options::recv_buffer_size bytes.
task<int> recv_pooled(int fd, pooled_buffer& out);
/// accept4(2): the new fd (non-blocking, close-on-exec by default).
task<int> accept(int fd, ::sockaddr* addr = nullptr, ::socklen_t* addrlen = nullptr,
                 int flags = SOCK_NONBLOCK | SOCK_CLOEXEC);
/// A standing accept on a listening socket. On io_uring one multishot
/// accept submission yields connection after connection without a
/// submission each; it is re-armed when the kernel ends it (EMFILE, say)
/// and paused while 16 accepted connections wait to be taken, so an
/// application that stops accepting stops the kernel from accepting for
/// it. On epoll, and for a second task accepting concurrently, next() is a
/// plain accept. Destroying the queue cancels the standing accept and
/// closes connections accepted but not taken. (The kernel reads
/// RLIMIT_NOFILE when the accept is armed: lowering the limit later takes
/// effect when it is next re-armed.)
class accept_queue {
 public:
  explicit accept_queue(int listen_fd) noexcept : fd_(listen_fd) {}
  accept_queue(accept_queue&& o) noexcept : fd_(o.fd_), st_(std::exchange(o.st_, nullptr)) {}
  accept_queue& operator=(accept_queue&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      st_ = std::exchange(o.st_, nullptr);
    }
    return *this;
  }
  ~accept_queue() { reset(); }

  /// The next connection's fd (non-blocking, close-on-exec), or -errno;
  /// -ECANCELED if the socket's operations were cancelled (ops::cancel).
  task<int> next();
  /// Cancels the standing accept (as the destructor does).
  void reset() noexcept;

 private:
  int fd_;
  detail::accept_state* st_ = nullptr;
};

/// connect(2) to completion: 0 or -errno (e.g. -ECONNREFUSED).
task<int> connect(int fd, const ::sockaddr* addr, ::socklen_t addrlen);
/// Waits until fd is ready for `events` (POLLIN, POLLOUT...); returns the
/// ready mask.
task<int> poll(int fd, unsigned events);
/// A driver-level timeout: completes with 0 after d.
task<int> timeout(std::chrono::nanoseconds d);
/// close(2) through the driver.
task<int> close(int fd);

/// Makes every pending operation on fd, on every worker of the current
/// runtime, finish with -ECANCELED (for example before closing a socket
/// other tasks are blocked on). Returns at once.
void cancel(int fd);
/// As cancel(), but does nothing (and returns false) outside a runtime
/// worker: for destructors that may run anywhere.
bool try_cancel(int fd) noexcept;

// ---------------------------------------------------------------- files
// `path` must stay valid until the operation completes (the coroutine
// frames awaiting it keep their strings alive, so this holds naturally).
// On epoll these, and read/write at an offset, run on the blocking pool,
// which cancel(fd) does not reach: cancel the awaiting task instead.

/// openat(2): the new descriptor; O_CLOEXEC is always added.
task<int> openat(int dirfd, const char* path, int flags, ::mode_t mode = 0);
/// fsync(2), or fdatasync(2) when `datasync` (data only, not metadata
/// such as the modification time).
task<int> fsync(int fd, bool datasync = false);
/// statx(2) into *out: statx(fd, "", AT_EMPTY_PATH, ...) for an open file.
task<int> statx(int dirfd, const char* path, int flags, unsigned mask, struct ::statx* out);

}  // namespace weft::ops
