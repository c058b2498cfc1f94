// Options for weft::runtime, set with designated initializers:
//
//   weft::runtime rt{{.workers = 4, .io = weft::io_backend::epoll}};
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>

#include "weft/runtime/stall.hpp"

namespace weft {

/// Which driver completes I/O. `automatic` picks io_uring when the kernel
/// allows it (not refused by seccomp or kernel.io_uring_disabled) and epoll
/// otherwise; the environment variable WEFT_IO=epoll|uring overrides it.
enum class io_backend { automatic, io_uring, epoll };

const char* to_string(io_backend b) noexcept;

struct runtime_options {
  /// Worker threads; 0 means one per hardware thread.
  unsigned workers = 0;
  io_backend io = io_backend::automatic;
  /// Workers are named "<thread_name>-<index>" (as seen by top and gdb).
  std::string thread_name = "weft";
  /// Receives the exception of a task that failed with nobody to join it
  /// (detached, or its handle dropped). Default: a line on stderr.
  /// operation_cancelled is not reported.
  std::function<void(std::exception_ptr)> unhandled_exception{};
  /// At shutdown, tasks still unfinished are destroyed (see runtime.hpp);
  /// when there are any, one line on stderr says how many, e.g. "weft:
  /// runtime shut down with 3 tasks unfinished; they were destroyed (...)".
  /// false silences it. Service tasks (the runtime's and its libraries'
  /// own, e.g. a process pool's reader) are not counted.
  bool report_unfinished = true;
  /// Submission queue entries per io_uring ring.
  unsigned ring_entries = 256;
  /// Receive buffers per worker for ops::recv_pooled (io::stream_socket::
  /// receive): on io_uring a provided-buffer ring the kernel fills only
  /// when data arrives, so idle connections pin none (a power of two, at
  /// most 32768; 0 disables the ring). When all are lent out, receives
  /// fall back to buffers allocated per call.
  unsigned recv_buffers = 512;
  /// Bytes per receive buffer, at least 1 (the runtime's constructor throws
  /// std::invalid_argument for 0).
  unsigned recv_buffer_size = 4096;
  /// Most threads the blocking pool (spawn_blocking) may run at once; jobs
  /// beyond that queue (FIFO). The pool starts no thread before its first
  /// job and grows one thread per job that finds none idle. 0 counts as 1.
  std::size_t max_blocking_threads = 512;
  /// A blocking-pool thread idle this long exits. Pool threads are named
  /// "<thread_name>-blk".
  std::chrono::nanoseconds blocking_keep_alive = std::chrono::seconds(10);
  /// The stall detector (stall.hpp): a task that runs this long without
  /// suspending is reported once per stall, with its worker's stack, and
  /// counted in metrics().total().stalls. Zero (the default) turns it off:
  /// no detector thread, no signal handler.
  std::chrono::nanoseconds stall_threshold{0};
  /// Receives each stall report, on the detector's thread. Default: the
  /// report's text() on stderr.
  std::function<void(const stall_report&)> on_stall{};
};

}  // namespace weft
