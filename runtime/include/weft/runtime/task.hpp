// weft::task<T>: a lazy, move-only coroutine, awaited once.
//
// A task does nothing until it is awaited or spawned. Awaiting it transfers
// control straight into its frame (symmetric transfer) and its completion
// transfers straight back, so a chain of a million nested co_awaits uses no
// stack. Frames come from per-thread size-class free lists.
//
//   weft::task<int> answer() { co_return 42; }
//   weft::task<> caller() { int x = co_await answer(); }
//
// Cancellation: a task has no stop state of its own; it runs under the task
// that awaits it (or under its cell once spawned) and its suspension points
// observe that stop request.
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/frame_allocator.hpp"
#include "weft/runtime/detail/result.hpp"
#include "weft/runtime/detail/task_header.hpp"

namespace weft {

template <class T = void>
class task;

namespace detail {

template <class T>
struct task_cell;

template <class T>
class task_promise;

class promise_base {
 public:
  static void* operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }

  std::suspend_always initial_suspend() noexcept { return {}; }

  std::coroutine_handle<> continuation_;  // the awaiting coroutine (nested await)
  task_header* cell_ = nullptr;           // the cell, once spawned
};

template <class T>
struct final_awaiter {
  bool await_ready() noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<task_promise<T>> h) noexcept;
  void await_resume() noexcept {}
};

template <class T>
class task_promise : public promise_base {
 public:
  task<T> get_return_object() noexcept;
  final_awaiter<T> final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { result_.set_exception(std::current_exception()); }

  template <class U = T>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) { result_.set_value(std::forward<U>(v)); }

  result<T> result_;
};

template <class T>
class task_promise<T&> : public promise_base {
 public:
  task<T&> get_return_object() noexcept;
  final_awaiter<T&> final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { result_.set_exception(std::current_exception()); }
  void return_value(T& v) noexcept { result_.set_value(v); }
  result<T&> result_;
};

template <>
class task_promise<void> : public promise_base {
 public:
  task<void> get_return_object() noexcept;
  final_awaiter<void> final_suspend() noexcept;
  void unhandled_exception() noexcept { result_.set_exception(std::current_exception()); }
  void return_void() noexcept { result_.set_value(); }
  result<void> result_;
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }

  struct awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
      h.promise().continuation_ = caller;
      return detail::transfer(h);
    }
    decltype(auto) await_resume() { return h.promise().result_.get(); }
  };

  /// Awaiting runs the task to completion and yields its value (or rethrows).
  awaiter operator co_await() && noexcept { return awaiter{h_}; }
  awaiter operator co_await() & noexcept { return awaiter{h_}; }

  /// Gives up ownership of the frame (used by spawn).
  handle_type release() noexcept { return std::exchange(h_, {}); }

 private:
  handle_type h_;
};

namespace detail {

template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise>::from_promise(*this));
}
template <class T>
task<T&> task_promise<T&>::get_return_object() noexcept {
  return task<T&>(std::coroutine_handle<task_promise>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise>::from_promise(*this));
}
inline final_awaiter<void> task_promise<void>::final_suspend() noexcept { return {}; }

template <class T>
struct task_cell : task_header {
  result<T> res;
};

template <class T>
std::coroutine_handle<> final_awaiter<T>::await_suspend(std::coroutine_handle<task_promise<T>> h) noexcept {
  auto& p = h.promise();
  if (p.continuation_) return transfer(p.continuation_);
  // A spawned root frame: move the outcome into the cell, free the frame.
  auto* cell = static_cast<task_cell<T>*>(p.cell_);
  const bool failed = p.result_.has_error();
  cell->res.take_from(p.result_);
  cell->root = {};
  h.destroy();
  return finish_task(cell, failed);
}

}  // namespace detail
}  // namespace weft
