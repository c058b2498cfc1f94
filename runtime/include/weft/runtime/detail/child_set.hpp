// A set of spawned children that a parent waits for as a group: the
// machinery behind when_all, when_any and task_scope.
//
// Each child carries a listener into the set. `remaining` counts the
// children still running plus one token that the parent's wait drops, so
// the wait completes exactly when the last child has finished and the
// parent is waiting. A policy decides what a child's end means: for `all`
// and `scope`, the first failure cancels the rest; for `any`, the first
// child to finish (the winner) cancels the rest. The parent's own stop,
// while it waits, cancels every child. Children are always awaited: none
// outlives the wait.
#pragma once

#include <atomic>
#include <cassert>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <type_traits>
#include <variant>

#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"

namespace weft::detail {

class child_set : stop_callback {
 public:
  enum class policy { all, any, scope };

  explicit child_set(policy p) noexcept : stop_callback{&on_parent_stop}, policy_(p) {}
  child_set(const child_set&) = delete;
  ~child_set();

  /// Spawns t as a child; returns its cell (the set holds the handle).
  template <class T>
  task_cell<T>* spawn(task<T> t) {
    runtime_impl& rt = current_runtime();
    auto* cell = make_cell(std::move(t));
    child* c;
    {
      // Filled in under the lock: a sibling that finishes meanwhile runs
      // cancel_all(), which reads every child's cell under it.
      std::lock_guard lock(mu_);
      c = &children_.emplace_back();
      c->index = children_.size() - 1;
      c->set = this;
      c->cell = cell;
    }
    remaining_.fetch_add(1, std::memory_order_relaxed);
    cell->joiner.store(c, std::memory_order_relaxed);  // before anyone can run it
    if (cancelling_.load(std::memory_order_acquire)) cell->root_scope.request_stop();
    submit_cell(cell, rt);
    return cell;
  }

  /// Requests stop for every child.
  void cancel_all() noexcept;

  struct wait_awaiter {
    child_set& set;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) noexcept { return set.begin_wait(h); }
    void await_resume() noexcept { set.end_wait(); }
  };
  /// Waits until every child has finished.
  wait_awaiter wait() noexcept { return wait_awaiter{*this}; }

  std::exception_ptr first_error() const noexcept { return first_error_; }
  /// For `any`: the index of the first child to finish.
  std::size_t winner() const noexcept { return winner_; }
  /// Live children (not yet finished).
  std::size_t running() const noexcept {
    std::size_t r = remaining_.load(std::memory_order_acquire);
    return waiting_ ? r : r - 1;
  }

 private:
  struct child : join_listener {
    child() noexcept : join_listener{&on_child_done} {}
    child_set* set = nullptr;
    task_header* cell = nullptr;
    std::size_t index = 0;
  };

  static task_header* on_child_done(join_listener* l) noexcept;
  static void on_parent_stop(stop_callback* c) noexcept;
  bool begin_wait(std::coroutine_handle<> h) noexcept;
  void end_wait() noexcept;

  policy policy_;
  mutable std::mutex mu_;
  std::deque<child> children_;
  std::atomic<std::size_t> remaining_{1};  // + the parent's wait token
  std::atomic<bool> decided_{false};
  std::atomic<bool> cancelling_{false};
  std::exception_ptr first_error_;
  std::size_t winner_ = 0;
  task_header* parent_ = nullptr;
  bool waiting_ = false;
  bool registered_ = false;
};

template <class T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Takes a finished child's value (void becomes std::monostate).
template <class T>
value_or_monostate<T> take_value(task_cell<T>* c) {
  if constexpr (std::is_void_v<T>) {
    consume(c->res);
    return {};
  } else {
    return consume(c->res);
  }
}

}  // namespace weft::detail
