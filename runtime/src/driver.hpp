// The driver: what a worker parks in, and what completes I/O operations.
//
// One driver per worker. The worker calls wait() with the time until its
// next timer when it has nothing to run (and with zero every few dozen
// ticks while busy); completions make their tasks runnable on that worker.
// Any thread may call unpark() to end a wait early.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "weft/runtime/runtime_options.hpp"

namespace weft::detail {

class driver {
 public:
  virtual ~driver() = default;
  virtual weft::io_backend backend() const noexcept = 0;

  /// Submits queued operations and processes completions, blocking up to
  /// `timeout` (nullopt: until something completes or unpark(); zero: no
  /// blocking). Returns the number of completions processed.
  virtual std::size_t wait(std::optional<std::chrono::milliseconds> timeout) = 0;
  /// Submits queued operations without waiting (once per scheduler tick).
  virtual void flush() = 0;
  /// Ends a wait() on another thread, or makes the next one return at once.
  virtual void unpark() noexcept = 0;
  /// Asks every operation on `fd` to end with ECANCELED. Any thread.
  virtual void cancel_fd(int fd) noexcept = 0;
  /// Cancels every in-flight operation and waits for them to end, without
  /// waking their tasks. Owner thread, at shutdown.
  virtual void drain() noexcept = 0;
  /// Operations submitted and not yet completed.
  virtual std::size_t in_flight() const noexcept = 0;
};

/// Throws std::system_error if the kernel refuses io_uring.
/// With `recv_buffers` provided buffers of `recv_buffer_size` bytes (none
/// if 0, or if the kernel has no buffer rings).
std::unique_ptr<driver> make_uring_driver(unsigned entries, unsigned recv_buffers, unsigned recv_buffer_size);
std::unique_ptr<driver> make_epoll_driver();
/// Whether io_uring_setup works here (probed once, cached).
bool uring_supported() noexcept;

}  // namespace weft::detail
