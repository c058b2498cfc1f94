// weft::yield_now(): let the other tasks on this worker run first.
//
//   for (auto& item : huge_batch) { process(item); co_await weft::yield_now(); }
//
// The task goes to the back of its worker's run queue (not the LIFO slot).
// Cancellation: if stop was requested, it throws operation_cancelled
// instead of yielding, so long CPU loops that yield are cancellable.
#pragma once

#include <coroutine>

#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"

namespace weft {

namespace detail {

/// Re-queues the current task at the back of its worker's queue.
void schedule_yield(task_header* t) noexcept;

struct yield_awaiter {
  bool cancelled = false;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    task_header* self = current_task();
    if (!self) return false;
    if (self->scope->stop_requested()) {
      cancelled = true;
      return false;
    }
    self->resume_point = h;
    schedule_yield(self);
    return true;
  }
  void await_resume() const {
    if (cancelled) throw operation_cancelled{};
  }
};

}  // namespace detail

[[nodiscard]] inline detail::yield_awaiter yield_now() noexcept { return {}; }

}  // namespace weft
