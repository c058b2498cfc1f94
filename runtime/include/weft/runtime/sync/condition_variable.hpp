// weft::condition_variable: wait for a condition under a weft::mutex
// (Python's threading.Condition, std::condition_variable for tasks).
//
//   auto lk = co_await m.lock();
//   co_await cv.wait(lk, [&] { return !queue.empty(); });   // lk held again here
//   // elsewhere, after changing the state under m:
//   cv.notify_one();
//
// wait(lk) queues the task, unlocks the mutex atomically with respect to
// notify (a notify after the unlock is never missed), and relocks it before
// returning. There are no spurious wake-ups, but another task may change
// the state between the notify and the relock, so prefer the predicate
// form, which loops until pred() holds.
// Cancellation: a task cancelled while waiting leaves the queue, relocks
// the mutex (that wait is not cancellable: the caller's guard must hold the
// lock again whatever happens) and then throws operation_cancelled. A
// notify it already received is not lost: the wait returns normally.
// With with_timeout(d, cv.wait(lk)), a timeout likewise returns with the
// lock held, throwing timeout_error.
#pragma once

#include <coroutine>

#include "weft/runtime/sync/detail/wait_queue.hpp"
#include "weft/runtime/sync/mutex.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

namespace detail {
struct condvar_state : wait_target {
  condvar_state() noexcept : wait_target(&cancel) {}
  static void cancel(wait_target* t, waiter* w, wake_batch&) noexcept {
    static_cast<condvar_state*>(t)->waiters.remove(w);
  }
  wait_list waiters;
};
}  // namespace detail

class condition_variable {
 public:
  condition_variable() noexcept = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  /// Unlocks lk's mutex, waits for a notify, relocks. lk must own its mutex
  /// (std::logic_error otherwise).
  task<void> wait(unique_lock<mutex>& lk);
  /// Waits until pred() is true; pred is evaluated with the lock held.
  template <class Predicate>
  task<void> wait(unique_lock<mutex>& lk, Predicate pred) {
    while (!pred()) co_await wait(lk);
  }

  /// Wakes the longest-waiting task or thread, if any.
  void notify_one() noexcept;
  /// Wakes every waiter.
  void notify_all() noexcept;

  /// wait() for a plain thread (blocks it).
  void blocking_wait(unique_lock<mutex>& lk);
  template <class Predicate>
  void blocking_wait(unique_lock<mutex>& lk, Predicate pred) {
    while (!pred()) blocking_wait(lk);
  }

 private:
  class wait_awaiter;
  detail::condvar_state st_;
};

}  // namespace weft
