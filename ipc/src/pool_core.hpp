// The parent side of a process pool: its workers' channels, the queue of
// calls waiting for a worker, and the tasks that serve it on a runtime.
// Everything here is guarded by the wait_target's spinlock (short
// sections: ring bookkeeping, a memcpy of the arguments, a futex wake).
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "channel.hpp"
#include "weft/ipc/process_pool.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/sync/event.hpp"

namespace weft::ipc::detail {

using steady = std::chrono::steady_clock;

enum class kill_reason { none, timeout, cancel, shutdown, protocol };

struct worker_rec {
  unsigned id = 0;  // its place in the pool, kept by its replacement
  channel_view ch;
  std::size_t map_size = 0;
  pid_t pid = -1;
  int pidfd = -1;
  std::uint64_t next_request = 0;  // requests published
  std::uint64_t next_result = 0;   // results taken
  arena_cursor request_cursor;
  // Our own copies of the arena tails: the ones in the control page are
  // written by the worker, and nothing it writes is trusted.
  std::uint64_t request_tail = 0;                           // request arena bytes the worker released
  std::uint64_t result_tail = 0;                            // result arena bytes we released
  std::string violation;                                    // how it broke the protocol (then killed)
  std::array<call_record*, ring_slots> calls{};             // by index; null once cancelled
  std::uint64_t sent = 0;                                   // calls sent (max_tasks_per_worker)
  steady::time_point deadline = steady::time_point::max();  // of its running call
  steady::time_point busy_since{};                          // it last published a result, or got work while idle
  kill_reason killed = kill_reason::none;
  bool stopping = false;  // a stop request was sent (recycling, shutdown)
  bool monitored = false;

  worker_rec() = default;
  worker_rec(const worker_rec&) = delete;
  worker_rec& operator=(const worker_rec&) = delete;
  ~worker_rec();

  std::uint64_t in_flight() const noexcept { return next_request - next_result; }
  void kill(kill_reason why) noexcept;
};

struct pool_core : weft::detail::wait_target {
  explicit pool_core(const process_pool_options& o);
  ~pool_core();

  process_pool_options opts;
  unsigned target_workers = 0;
  int eventfd = -1;
  std::weak_ptr<pool_core> self;

  std::vector<std::unique_ptr<worker_rec>> workers;  // by id; null while being replaced
  call_record* pending_head = nullptr;
  call_record* pending_tail = nullptr;
  std::size_t pending_count = 0;
  std::size_t running_count = 0;      // calls in workers' rings, cancelled ones excluded
  call_record* submitting = nullptr;  // the call enqueue_locked is handling

  bool closed = false;  // no new calls
  shutdown_mode closing = shutdown_mode::wait;
  std::size_t admitted = 0;  // calls made before closing, not yet enqueued
  bool destroyed = false;    // the serving tasks may end (shut down, or the object is gone)
  bool dropped = false;      // the process_pool object is gone
  std::string broken;        // why no worker can start (initializer failed...)
  pool_stats counters;
  double task_ns = 0;          // moving average of a call's time in the worker
  std::uint64_t activity = 0;  // calls made plus results taken: the reader spins while it moves

  weft::runtime* attached = nullptr;  // where the serving tasks run
  weft::event timer_wake;             // a deadline moved earlier
  weft::event changed;                // queue or workers changed (shutdown waits on it)
};

}  // namespace weft::ipc::detail
