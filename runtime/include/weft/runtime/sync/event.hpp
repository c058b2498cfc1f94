// weft::event: a flag tasks can wait for (Python's threading.Event).
//
//   weft::event stop;
//   // worker:   while (!stop.is_set()) { ... }   or   co_await stop.wait();
//   // elsewhere: stop.set();                         wakes every waiter
//
// set() wakes all current waiters and lets later wait()s pass until
// clear(). Any thread may call set() and clear().
// Cancellation: a task cancelled in wait() throws operation_cancelled
// unless the event was set first.
#pragma once

#include <coroutine>

#include "weft/runtime/sync/detail/wait_queue.hpp"

namespace weft {

namespace detail {
struct event_state : wait_target {
  event_state() noexcept : wait_target(&cancel) {}
  bool open() const noexcept { return set; }
  bool pass_or_enqueue(waiter& w) noexcept {
    if (set) return true;
    waiters.push_back(&w);
    return false;
  }
  static void cancel(wait_target* t, waiter* w, wake_batch&) noexcept {
    static_cast<event_state*>(t)->waiters.remove(w);
  }
  bool set = false;
  wait_list waiters;
};
}  // namespace detail

class event {
 public:
  event() noexcept = default;
  explicit event(bool initially_set) noexcept { st_.set = initially_set; }
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  using wait_awaiter = detail::gate_awaiter<detail::event_state>;

  /// Sets the flag and wakes every waiter.
  void set() noexcept;
  /// Clears the flag: later wait()s wait again.
  void clear() noexcept;
  bool is_set() const noexcept;
  /// Waits until the flag is set (at once if it is).
  wait_awaiter wait() noexcept { return wait_awaiter(st_, "weft::event::wait"); }
  /// wait() that ignores cancellation, for cleanup that must complete (a
  /// cancelled server waiting for its connection tasks to end).
  wait_awaiter wait_uncancellable() noexcept { return wait_awaiter(st_, "weft::event::wait", false); }
  /// wait() for a plain thread: blocks it. Throws std::logic_error on a
  /// runtime worker thread.
  void blocking_wait();

 private:
  mutable detail::event_state st_;
};

}  // namespace weft
