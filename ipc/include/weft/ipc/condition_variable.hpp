// weft::ipc::condition_variable: wait for a condition on shared data under
// a weft::ipc::mutex (multiprocessing.Condition).
//
//   weft::ipc::mutex m;  weft::ipc::condition_variable cv;  shared_value<int> jobs{0};
//   {
//     auto g = co_await m.lock();                              // in a task
//     co_await cv.wait(g, [&] { return jobs.load() > 0; });    // g holds m again here
//     ...
//   }
//   auto g = m.blocking_lock();                                // in a worker process
//   if (!cv.blocking_wait_for(g, 2s, [&] { return jobs.load() > 0; })) ...  // gave up
//   // elsewhere, after changing the data under m:
//   cv.notify_one();  // or notify_all()
//
// A handle: copies (in any process, or sent to a worker) name the same
// condition variable, which lives in the shared heap. It is not tied to one
// mutex: each wait uses the ipc::mutex its guard holds. wait(g) remembers
// where the notifications stand, unlocks g's mutex, waits for a notify that
// came after that point, and locks the mutex again into g, so a notify
// made after the unlock is never missed. Wake-ups may be spurious (a
// notify_one can end more than one wait, and another process may change
// the data between the notify and the relock): call wait(g) in a loop
// that checks the condition, or use the predicate forms, which do.
//
// The mutex is relocked with ipc::mutex's own lock(), so g.owner_died()
// says afterwards whether a holder died meanwhile. A waiting process that
// dies does not hold up the others: waiters hold no lock and are no list
// entry, and the kernel drops a dead process's futex wait. A notify_one
// that reaches a task whose wait is being cancelled is passed on to
// another waiter, and a timed wait that took one reports it (true) rather
// than timing out; one taken by a process killed before its wait returns
// is lost, as with any condition variable.
//
// Cancellation and deadlines: wait(g) waits on the runtime's blocking pool
// (a thread sleeps on the notify counter's futex word, not a worker). A
// task cancelled while waiting — with_timeout, when_any, cancel() — stops
// waiting at once, relocks the mutex (that wait is not cancellable: the
// guard holds the lock again whatever happens, as with weft's in-process
// condition_variable), then throws operation_cancelled (timeout_error under
// with_timeout). wait_for(g, d) and blocking_wait_for(g, d) return false
// instead when d passes first (Python's wait(timeout)), the lock held again
// too; the predicate forms return the predicate's last value. The relock
// itself is not bounded by d. Every wait needs a guard that owns its mutex
// in this process (std::logic_error otherwise). A runtime shutting down
// waits a quarter second at most for a pool thread waiting; a wait ended by
// that leaves the guard empty.
#pragma once

#include <chrono>
#include <cstdint>

#include "weft/ipc/detail/shared_block.hpp"
#include "weft/ipc/mutex.hpp"
#include "weft/runtime/task.hpp"

namespace weft::ipc {

namespace detail {
struct condition_state;
}

class condition_variable {
 public:
  /// A new condition variable in the shared heap.
  condition_variable();

  /// Unlocks g's mutex, waits for a notify, relocks it into g (see above).
  /// Wake-ups may be spurious: check the condition in a loop.
  weft::task<void> wait(lock_guard& g) const;
  /// Waits until pred() is true; pred is called with the lock held.
  template <class Predicate>
  weft::task<void> wait(lock_guard& g, Predicate pred) const {
    return wait_pred_task_(*this, g, std::move(pred));
  }
  /// wait(g) that gives up after `timeout`: false if the time passed with
  /// no notify. The lock is held again either way.
  template <class Rep, class Period>
  weft::task<bool> wait_for(lock_guard& g, std::chrono::duration<Rep, Period> timeout) const {
    return wait_until_(g, deadline_after_(timeout));
  }
  /// wait(g, pred) that gives up after `timeout`: pred()'s last value.
  template <class Rep, class Period, class Predicate>
  weft::task<bool> wait_for(lock_guard& g, std::chrono::duration<Rep, Period> timeout, Predicate pred) const {
    return wait_for_pred_task_(*this, g, deadline_after_(timeout), std::move(pred));
  }

  /// wait(g) for worker processes and plain threads: blocks the calling
  /// thread. Throws std::logic_error on a runtime worker thread.
  void blocking_wait(lock_guard& g) const;
  template <class Predicate>
  void blocking_wait(lock_guard& g, Predicate pred) const {
    while (!pred()) blocking_wait(g);
  }
  /// blocking_wait(g) that gives up after `timeout`: false if the time
  /// passed with no notify. The lock is held again either way.
  template <class Rep, class Period>
  bool blocking_wait_for(lock_guard& g, std::chrono::duration<Rep, Period> timeout) const {
    return blocking_wait_until_(g, deadline_after_(timeout));
  }
  template <class Rep, class Period, class Predicate>
  bool blocking_wait_for(lock_guard& g, std::chrono::duration<Rep, Period> timeout, Predicate pred) const {
    const auto deadline = deadline_after_(timeout);
    while (!pred())
      if (!blocking_wait_until_(g, deadline)) return pred();
    return true;
  }

  /// Wakes one waiter, in any process (maybe more: see above).
  void notify_one() const;
  /// Wakes every waiter, in every process.
  void notify_all() const;

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::condition;
  static constexpr const char* type_name = "weft::ipc::condition_variable";
  static std::uint64_t type_tag() noexcept { return 0; }

  explicit condition_variable(detail::shared_ref r) noexcept : ref_(std::move(r)) {}

  template <class Rep, class Period>
  static std::chrono::steady_clock::time_point deadline_after_(std::chrono::duration<Rep, Period> d) {
    const auto now = std::chrono::steady_clock::now();
    if (d <= d.zero()) return now;
    using wide = std::chrono::duration<long double>;
    if (wide(d) >= wide(std::chrono::steady_clock::time_point::max() - now))
      return std::chrono::steady_clock::time_point::max();
    return now + std::chrono::ceil<std::chrono::steady_clock::duration>(d);
  }

  // Handles are copied into the task frames, so a task outlives nothing.
  template <class Predicate>
  static weft::task<void> wait_pred_task_(condition_variable cv, lock_guard& g, Predicate pred) {
    while (!pred()) co_await cv.wait(g);
  }
  template <class Predicate>
  static weft::task<bool> wait_for_pred_task_(condition_variable cv, lock_guard& g,
                                              std::chrono::steady_clock::time_point deadline, Predicate pred) {
    while (!pred()) {
      const bool notified = co_await cv.wait_until_(g, deadline);
      if (!notified) co_return pred();
    }
    co_return true;
  }

  static weft::task<bool> wait_task_(detail::shared_ref ref, lock_guard& g,
                                     std::chrono::steady_clock::time_point deadline);
  static weft::task<void> wait_forever_task_(detail::shared_ref ref, lock_guard& g);
  weft::task<bool> wait_until_(lock_guard& g, std::chrono::steady_clock::time_point deadline) const;
  bool blocking_wait_until_(lock_guard& g, std::chrono::steady_clock::time_point deadline) const;
  detail::condition_state& state() const;

  detail::shared_ref ref_;
};

template <>
struct serializer<condition_variable> : detail::handle_serializer<condition_variable> {};

}  // namespace weft::ipc
