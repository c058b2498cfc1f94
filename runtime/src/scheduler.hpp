// The work-stealing scheduler (private).
//
// Each worker owns a bounded local run queue (256 entries, thieves take
// half), a LIFO slot for the task it just woke, a driver to park in and a
// timer wheel. The inject queue takes work from outside the workers and the
// overflow of full local queues.
//
// A worker's tick: run one task (the LIFO slot first, at most 3 times in a
// row; then the local queue). Every 61 ticks it looks at the inject queue
// first and polls its driver and timers, so neither outside work nor I/O
// starves behind a busy local queue. Out of work, it becomes a searcher and
// steals from random victims, unless half the workers already search; then
// it parks in its driver until the next timer, an I/O completion or a
// notification. Whoever pushes work while nobody searches wakes one parked
// worker, and a searcher that finds work wakes the next, so work fans out
// without a thundering herd.
//
// Entries in queues are cell pointers; the low bit marks the entry made by
// spawn (the first run), which holds a reference and may be stale if the
// task was meanwhile claimed and run inline by its joiner.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "blocking_pool.hpp"
#include "driver.hpp"
#include "inject_queue.hpp"
#include "local_queue.hpp"
#include "timer_wheel.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/metrics.hpp"
#include "weft/runtime/runtime_options.hpp"

namespace weft {
class runtime;
}

namespace weft::detail {

class runtime_impl;
class stall_detector;  // stall_detector.hpp

/// The cells one worker spawned, for destroying the unfinished ones at
/// shutdown. Only its worker touches it, so spawning and finishing take no
/// lock; finished cells stay listed (holding a reference) until a sweep
/// drops them: on spawn once the list has doubled, and when the worker is
/// idle at most every 100 ms.
struct task_registry {
  task_header* head = nullptr;
  std::size_t size = 0;
  std::size_t size_after_sweep = 0;

  void insert(task_header* t) noexcept {
    t->next = head;
    head = t;
    if (++size >= 2 * size_after_sweep + 256) sweep();
  }
  void sweep() noexcept;
};

/// Counters written only by their worker, read by anyone.
struct worker_counters {
  std::atomic<std::uint64_t> polled{0}, spawned{0}, completed{0}, stolen{0}, steal_attempts{0}, steal_operations{0},
      parks{0}, wakeups{0}, inject_pops{0}, overflows{0}, lifo_polls{0}, hand_offs{0}, io_completions{0};
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

class worker {
 public:
  static constexpr std::size_t queue_capacity = 256;
  static constexpr unsigned event_interval = 61;
  static constexpr unsigned max_lifo_polls = 3;
  static constexpr unsigned max_hand_offs = 64;

  worker(runtime_impl& rt, unsigned index);
  void start();
  void join();

  // Called on this worker's own thread.
  void schedule_local(std::uintptr_t entry, bool lifo, bool notify = true);
  bool may_hand_off() noexcept;
  driver& drv() noexcept { return *driver_; }
  timer_wheel& wheel() noexcept { return wheel_; }
  unsigned index() const noexcept { return index_; }
  runtime_impl& rt() noexcept { return rt_; }
  bool in_task() const noexcept { return in_task_; }
  worker_metrics snapshot() const noexcept;

  // Any thread.
  local_queue<queue_capacity>& queue() noexcept { return queue_; }
  task_registry& registry() noexcept { return registry_; }
  void count_completed() noexcept { worker_counters::bump(counters_.completed); }
  /// Odd while the worker runs a task, even between tasks; moves on at
  /// every task (the stall detector's view of the worker).
  std::uint64_t run_seq() const noexcept { return run_seq_.load(std::memory_order_relaxed); }
  void count_stall() noexcept { stalls_.fetch_add(1, std::memory_order_relaxed); }
  std::thread::native_handle_type native_thread() noexcept { return thread_.native_handle(); }

 private:
  friend class runtime_impl;
  void main();
  void loop();
  std::uintptr_t next_task();
  std::uintptr_t search();
  void run_entry(std::uintptr_t e);
  void maintenance();
  void park();
  void compact();
  void sweep_registries();
  std::size_t fire_timers();
  void leave_searching();
  std::uint32_t random_below(std::uint32_t n) noexcept;

  runtime_impl& rt_;
  unsigned index_;
  local_queue<queue_capacity> queue_;
  std::uintptr_t lifo_ = 0;
  unsigned lifo_streak_ = 0;
  unsigned hand_offs_ = 0;
  std::uint64_t tick_ = 0;
  bool searching_ = false;
  bool in_task_ = false;
  std::uint64_t rng_;
  std::unique_ptr<driver> driver_;
  timer_wheel wheel_;
  task_registry registry_;
  std::chrono::steady_clock::time_point last_sweep_{};
  worker_counters counters_;
  std::uint64_t run_seq_local_ = 0;  // run_seq_'s value, kept here to store without a load
  std::atomic<std::uint64_t> run_seq_{0};
  std::atomic<std::uint64_t> stalls_{0};  // written by the stall detector's thread
  std::atomic<bool> notified_{false};
  std::thread thread_;
};

class runtime_impl {
 public:
  runtime_impl(weft::runtime& owner, runtime_options opts);
  ~runtime_impl();

  void submit(task_header* cell) noexcept;  // a new cell
  void wake(task_header* t) noexcept;       // a suspended task became runnable
  void push_inject(std::uintptr_t e) noexcept;
  void notify_parked() noexcept;             // after pushing work somewhere
  void notify_parked_after_push() noexcept;  // the push was a seq_cst store already
  bool any_work() const noexcept;
  void report(std::exception_ptr e) noexcept;
  runtime_metrics metrics() const;
  void shutdown() noexcept;

  weft::runtime& owner;
  runtime_options options;
  std::uint32_t id = 0;  // in the table of live runtimes
  io_backend backend = io_backend::epoll;
  std::vector<std::unique_ptr<worker>> workers;
  inject_queue inject;
  // Cells spawned from outside the workers.
  std::mutex external_mu;
  task_registry external_registry;
  std::atomic<std::uint64_t> external_spawns{0};
  // Threads outside the runtime inside wake() now (a foreign thread
  // completing a wait: weft::cluster's progress thread, a plain thread
  // setting an event). shutdown() waits for them before the drivers they
  // may be unparking are destroyed: the task they woke may be the one
  // whose end lets the runtime be destroyed.
  std::atomic<unsigned> foreign_wakers{0};
  std::atomic<bool> stopping{false};
  blocking_pool blocking;                  // threads start on first use
  std::unique_ptr<stall_detector> stalls;  // when options.stall_threshold is set

  // Idle bookkeeping.
  std::atomic<std::uint32_t> num_searching{0};
  std::atomic<std::uint32_t> num_idle{0};
  std::mutex sleepers_mu;
  std::vector<unsigned> sleepers;

  // Start-up handshake.
  std::mutex start_mu;
  std::condition_variable start_cv;
  unsigned started = 0;
  std::exception_ptr start_error;

 private:
  /// Destroys the unfinished tasks; returns how many were not service tasks.
  std::size_t destroy_remaining_tasks() noexcept;
  bool destroying_ = false;  // set once the workers are gone
};

/// The default report of a detached task's failure: a line on stderr.
void print_unhandled(std::exception_ptr e) noexcept;

/// The runtime a cell belongs to.
runtime_impl* runtime_of(const task_header* t) noexcept;

/// The worker running on this thread, or nullptr.
inline worker* this_worker_ptr() noexcept { return static_cast<worker*>(this_thread().worker); }

}  // namespace weft::detail
