// weft::task_scope: a nursery. Children spawned into it are joined before
// the scope ends; the first child to fail cancels its siblings, and join()
// rethrows that failure once all have finished.
//
//   co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
//     for (auto& url : urls) scope.spawn(fetch_and_store(url));
//     co_return;
//   });
//
// run() is the safe form: the body runs as a child too, so a failing child
// cancels the body, and the join cannot be forgotten. With a task_scope
// object, `co_await scope.join()` before it goes out of scope; a scope
// destroyed unjoined cancels its children and lets them end detached.
// Cancelling the task that waits in join() cancels every child.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>

#include "weft/runtime/detail/child_set.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

class task_scope {
 public:
  task_scope() noexcept : set_(detail::child_set::policy::scope) {}
  task_scope(const task_scope&) = delete;
  task_scope& operator=(const task_scope&) = delete;

  /// Spawns t into the scope (its value, if any, is discarded).
  template <class T>
  void spawn(task<T> t) {
    set_.spawn(std::move(t));
  }

  /// Waits for every child; rethrows the first failure.
  task<void> join() {
    co_await set_.wait();
    if (auto e = set_.first_error()) std::rethrow_exception(e);
  }

  /// Requests stop for every child (they end with operation_cancelled,
  /// which join() does not treat as a failure of the scope unless it was
  /// the scope's first error).
  void cancel() noexcept { set_.cancel_all(); }

  /// Children still running.
  std::size_t running() const noexcept { return set_.running(); }

  /// Runs body(scope) as the scope's first child and joins everything.
  template <class F>
  static task<void> run(F body) {
    task_scope scope;
    scope.spawn(std::invoke(body, scope));
    co_await scope.join();
  }

 private:
  detail::child_set set_;
};

}  // namespace weft
