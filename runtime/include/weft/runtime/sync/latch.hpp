// weft::latch: a single-use countdown (std::latch for tasks).
//
//   weft::latch ready{3};
//   // each of 3 tasks: ...; ready.count_down();
//   co_await ready.wait();            // until the count reaches zero
//
// count_down() may be called from any thread; counting below zero is a
// precondition violation (std::logic_error).
// Cancellation: a task cancelled in wait() throws operation_cancelled
// unless the count reached zero first.
#pragma once

#include <coroutine>
#include <cstddef>

#include "weft/runtime/sync/detail/wait_queue.hpp"

namespace weft {

namespace detail {
struct latch_state : wait_target {
  explicit latch_state(std::ptrdiff_t n) noexcept : wait_target(&cancel), count(n) {}
  bool open() const noexcept { return count == 0; }
  bool pass_or_enqueue(waiter& w) noexcept {
    if (count == 0) return true;
    waiters.push_back(&w);
    return false;
  }
  static void cancel(wait_target* t, waiter* w, wake_batch&) noexcept {
    static_cast<latch_state*>(t)->waiters.remove(w);
  }
  std::ptrdiff_t count;
  wait_list waiters;
};
}  // namespace detail

class latch {
 public:
  /// Throws std::invalid_argument if count is negative.
  explicit latch(std::ptrdiff_t count);
  latch(const latch&) = delete;
  latch& operator=(const latch&) = delete;

  using wait_awaiter = detail::gate_awaiter<detail::latch_state>;

  /// Decrements the count by n; at zero every waiter is woken.
  void count_down(std::ptrdiff_t n = 1);
  /// True once the count is zero.
  bool try_wait() const noexcept;
  wait_awaiter wait() noexcept { return wait_awaiter(st_, "weft::latch::wait"); }
  /// count_down(n) at once, then returns wait() to be awaited.
  wait_awaiter arrive_and_wait(std::ptrdiff_t n = 1) {
    count_down(n);
    return wait();
  }
  /// wait() for a plain thread.
  void blocking_wait();

 private:
  mutable detail::latch_state st_;
};

}  // namespace weft
