// weft::barrier: a reusable rendezvous of n tasks, phase after phase
// (std::barrier / Python's threading.Barrier).
//
//   weft::barrier sync{4, [] { merge_partial_results(); }};
//   for (int step = 0; step < steps; ++step) {
//     compute(step);
//     co_await sync.arrive_and_wait();   // all 4 arrive, then all go on
//   }
//
// When the last of the n participants arrives, the completion function
// runs once (on that task, before anyone is released), then every waiter
// of the phase is woken and the barrier starts the next phase.
// arrive_and_wait() returns true in exactly one participant per phase
// (the one that ran the completion), like PTHREAD_BARRIER_SERIAL_THREAD.
// If the completion throws, that participant's arrive_and_wait() rethrows;
// the others are released normally.
// Cancellation: a task cancelled while waiting throws operation_cancelled;
// its arrival still counts for the phase (an arrival cannot be undone), so
// the others are not stranded.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>

#include "weft/runtime/sync/detail/wait_queue.hpp"

namespace weft {

namespace detail {
struct barrier_state : wait_target {
  barrier_state(std::ptrdiff_t n, std::function<void()> f) noexcept
      : wait_target(&cancel), expected(n), remaining(n), completion(std::move(f)) {}
  /// Under the lock: counts an arrival. Returns true for the last one,
  /// having moved the phase's waiters into `release` and reset the count.
  bool arrive(wake_batch& release) noexcept;
  static void cancel(wait_target* t, waiter* w, wake_batch&) noexcept {
    static_cast<barrier_state*>(t)->waiters.remove(w);
  }
  std::ptrdiff_t expected;
  std::ptrdiff_t remaining;
  std::ptrdiff_t dropped = 0;  // leave at the end of this phase
  std::function<void()> completion;
  wait_list waiters;
};
}  // namespace detail

class barrier {
 public:
  /// Throws std::invalid_argument unless participants > 0.
  explicit barrier(std::ptrdiff_t participants, std::function<void()> completion = {});
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  class [[nodiscard]] arrive_awaiter : detail::task_wait {
   public:
    explicit arrive_awaiter(barrier& b) noexcept : task_wait(b.st_), b_(b) {}
    arrive_awaiter(arrive_awaiter&&) noexcept = default;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    bool await_resume();

   private:
    barrier& b_;
    detail::wake_batch release_;
    std::exception_ptr error_;
    bool leader_ = false;
  };

  /// Arrives and waits for the others; true in the one participant per
  /// phase that ran the completion.
  arrive_awaiter arrive_and_wait() noexcept { return arrive_awaiter(*this); }
  /// Arrives and leaves: later phases expect one participant fewer.
  void arrive_and_drop();
  /// arrive_and_wait() for a plain thread.
  bool blocking_arrive_and_wait();

 private:
  /// The last arrival's duty, outside the lock: run the completion, then
  /// release the phase. Returns the completion's exception.
  std::exception_ptr complete_phase(detail::wake_batch& release) noexcept;
  detail::barrier_state st_;
};

}  // namespace weft
