// Timers: sleep_for, sleep_until, interval, with_timeout.
//
//   co_await weft::sleep_for(100ms);
//   auto body = co_await weft::with_timeout(2s, fetch(url));  // throws weft::timeout_error
//   weft::interval tick{1s};
//   for (;;) { co_await tick.next(); report(); }
//
// Timers live in the timer wheel of the worker that armed them (1 ms
// resolution, never early); a worker with many sleepers still makes one
// wait per tick. Cancellation: a sleep ends with operation_cancelled as
// soon as stop is requested. with_timeout cancels the wrapped operation
// when the time is up and turns that into timeout_error; if the operation
// finished anyway (it raced the deadline), its result is returned.
//
// On a join_handle (`with_timeout(2s, std::move(h))`, or `with_timeout(2s,
// h)` on a handle the caller keeps) giving up cancels the spawned task too,
// as h.cancel() does (a process-pool job's worker is killed), whether the
// deadline passed or the awaiting task was cancelled. with_timeout throws
// at once: it does not wait for the cancelled task to end (a running
// spawn_blocking job cannot be interrupted), and whatever that task ends
// with is never reported as an unhandled exception. A kept handle stays
// valid: awaiting it later yields that outcome (usually
// operation_cancelled); if with_timeout returned the result instead, the
// handle is joined, as after `co_await h`. (Tokio's timeout(d, handle)
// leaves the task running; Python's wait_for cancels it and waits for it
// to end; weft cancels it and does not wait.)
#pragma once

#include <chrono>
#include <concepts>
#include <coroutine>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/stop_scope.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/detail/timer_entry.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

using clock = std::chrono::steady_clock;

namespace detail {

/// Arms `e` on the current worker's wheel to fire at `deadline`. Throws
/// std::logic_error outside a runtime worker.
void arm_timer(timer_entry* e, clock::time_point deadline);
/// Disarms e; true if it had not fired yet (then it never will).
bool disarm_timer(timer_entry* e) noexcept;

class sleep_awaiter : stop_callback {
 public:
  explicit sleep_awaiter(clock::time_point deadline) noexcept : stop_callback{&on_stop}, deadline_(deadline) {}
  /// Movable until awaited (so it can be passed to with_timeout).
  sleep_awaiter(sleep_awaiter&& o) noexcept : stop_callback{&on_stop}, deadline_(o.deadline_) {}
  sleep_awaiter(const sleep_awaiter&) = delete;
  ~sleep_awaiter() {
    if (entry_.state.load(std::memory_order_relaxed) == timer_entry::linked) disarm_timer(&entry_);
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  static void on_stop(stop_callback* c) noexcept;
  static void on_fire(timer_entry* e) noexcept;

  clock::time_point deadline_;
  timer_entry entry_;
  wait_node node_;
  bool cancelled_ = false;
  bool registered_ = false;
};

/// Opens a child stop scope that is stopped when its parent is, or when
/// the deadline passes (with_timeout's machinery).
class timeout_scope : stop_callback {
 public:
  timeout_scope() noexcept : stop_callback{&on_parent_stop} {}
  timeout_scope(const timeout_scope&) = delete;
  ~timeout_scope() { exit(); }

  /// Throws operation_cancelled if the enclosing scope is already stopped.
  void enter(clock::time_point deadline);
  /// Restores the enclosing scope and disarms the timer. Idempotent.
  void exit() noexcept;
  /// True if the deadline (not the enclosing scope) caused the stop.
  bool timed_out() const noexcept;

 private:
  static void on_parent_stop(stop_callback* c) noexcept;
  static void on_fire(timer_entry* e) noexcept;

  stop_scope child_;
  stop_scope* parent_ = nullptr;
  task_header* task_ = nullptr;
  timer_entry entry_;
  std::atomic<bool> fired_{false};
  std::atomic<bool> fire_done_{false};  // on_fire no longer touches *this
  bool active_ = false;
};

template <class A>
auto get_awaiter(A&& a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); }) return std::forward<A>(a).operator co_await();
  else if constexpr (requires { operator co_await(std::forward<A>(a)); }) return operator co_await(std::forward<A>(a));
  else return std::forward<A>(a);
}

template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

}  // namespace detail

namespace detail {
/// now + d, rounded up to the clock's resolution and saturated, so that
/// "forever" (hours::max()) does not overflow into the past.
template <class Rep, class Period>
clock::time_point deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  const clock::time_point now = clock::now();
  if (d <= d.zero()) return now;
  using wide = std::chrono::duration<long double>;
  if (wide(d) >= wide(clock::time_point::max() - now)) return clock::time_point::max();
  return now + std::chrono::ceil<clock::duration>(d);
}
}  // namespace detail

/// Suspends the task until `deadline` (at once if it has passed).
inline detail::sleep_awaiter sleep_until(clock::time_point deadline) noexcept {
  return detail::sleep_awaiter(deadline);
}

/// Suspends the task for at least `d`.
template <class Rep, class Period>
detail::sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> d) noexcept {
  return detail::sleep_awaiter(detail::deadline_after(d));
}

/// Runs `op` (any awaitable: a task, an I/O operation, a join handle, a
/// lock...) with a deadline. Throws timeout_error when it passes first.
template <class Awaitable>
task<detail::await_result_t<Awaitable>> with_deadline(clock::time_point deadline, Awaitable op) {
  using R = detail::await_result_t<Awaitable>;
  detail::timeout_scope scope;
  scope.enter(deadline);
  try {
    if constexpr (std::is_void_v<R>) {
      co_await std::move(op);
      scope.exit();
      co_return;
    } else {
      R value = co_await std::move(op);
      scope.exit();
      co_return std::forward<R>(value);
    }
  } catch (const operation_cancelled&) {
    scope.exit();
    if (scope.timed_out()) throw timeout_error();
    throw;
  }
}

/// On a join handle the caller gives up (std::move(h)): cancels its task
/// when giving up on it (see the header comment).
template <class T>
task<detail::await_result_t<join_handle<T>>> with_deadline(clock::time_point deadline, join_handle<T>&& h) {
  return with_deadline(deadline, detail::owned_join<T>(std::move(h)));
}

/// On a join handle the caller keeps: cancels its task when giving up on
/// it; h must outlive the await (see the header comment).
template <class T>
task<detail::await_result_t<join_handle<T>>> with_deadline(clock::time_point deadline, join_handle<T>& h) {
  return with_deadline(deadline, detail::borrowed_join<T>(h));
}

template <class Rep, class Period, class Awaitable>
auto with_timeout(std::chrono::duration<Rep, Period> d, Awaitable op) {
  return with_deadline(detail::deadline_after(d), std::move(op));
}

template <class Rep, class Period, class T>
auto with_timeout(std::chrono::duration<Rep, Period> d, join_handle<T>&& h) {
  return with_deadline(detail::deadline_after(d), detail::owned_join<T>(std::move(h)));
}

template <class Rep, class Period, class T>
auto with_timeout(std::chrono::duration<Rep, Period> d, join_handle<T>& h) {
  return with_deadline(detail::deadline_after(d), detail::borrowed_join<T>(h));
}

/// What interval::next() does after it fell behind: a tick is missed when
/// the task gets to it more than 5 ms after it was due (as in Tokio).
enum class missed_tick { burst, delay, skip };

/// Periodic ticks: the first next() completes at once, then one per period.
class interval {
 public:
  explicit interval(clock::duration period, missed_tick behavior = missed_tick::skip);
  template <class Rep, class Period>
  explicit interval(std::chrono::duration<Rep, Period> period, missed_tick behavior = missed_tick::skip)
      : interval(std::chrono::ceil<clock::duration>(period), behavior) {}

  /// Waits for the next tick; returns the time it was scheduled for.
  task<clock::time_point> next();
  /// The next tick is one period from now.
  void reset() noexcept;
  clock::duration period() const noexcept { return period_; }

 private:
  clock::duration period_;
  missed_tick behavior_;
  clock::time_point next_;
};

}  // namespace weft
