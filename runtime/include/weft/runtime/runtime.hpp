// weft::runtime: the worker threads, their drivers and timers.
//
//   int main() {
//     weft::runtime rt{{.workers = 4}};
//     return rt.block_on(serve());
//   }
//
// or simply `return weft::run(serve());`.
//
// Shutdown (the destructor): workers stop, in-flight I/O is cancelled and
// drained, and every task still pending is destroyed (its frame's
// destructors run; a handle to it then yields operation_cancelled). No
// thread, descriptor or frame outlives the runtime. If any were destroyed,
// one line on stderr says how many: "weft: runtime shut down with 3 tasks
// unfinished; they were destroyed (runtime_options::report_unfinished =
// false silences this)" (service tasks, see detail::spawn_service, are not
// counted). weft::run(t) shuts down as soon as t returns, so tasks t
// spawned and did not await are among them.
#pragma once

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/runtime/blocking.hpp"
#include "weft/runtime/metrics.hpp"
#include "weft/runtime/runtime_options.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

namespace detail {
class runtime_impl;
/// Throws std::logic_error on a worker thread (blocking it would stall it).
void check_may_block(const char* what);
/// Blocks the calling (non-worker) thread until `cell` completes.
void block_until_complete(task_header* cell);
}  // namespace detail

class runtime {
 public:
  explicit runtime(runtime_options options = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Runs `t` on the workers and blocks this thread until it finishes;
  /// returns its value or rethrows its exception. Must not be called from
  /// a worker thread (that would block the worker): throws std::logic_error.
  template <class T>
  T block_on(task<T> t) {
    detail::check_may_block("weft::runtime::block_on");
    join_handle<T> h = spawn(std::move(t));
    detail::block_until_complete(h.cell());
    return detail::consume(h.cell()->res);
  }

  /// Spawns onto this runtime from any thread.
  template <class T>
  join_handle<T> spawn(task<T> t) {
    auto* cell = detail::make_cell(std::move(t));
    detail::submit_cell(cell, *impl_);
    return join_handle<T>(cell);
  }

  /// Runs f(args...) on this runtime's blocking pool, from any thread (see
  /// weft/runtime/blocking.hpp); weft::spawn_blocking does so from a task.
  template <class F, class... Args>
  requires std::invocable<std::decay_t<F>, std::decay_t<Args>...> join_handle<detail::blocking_result_t<F, Args...>>
  spawn_blocking(F&& f, Args&&... args) {
    return spawn(detail::make_blocking_task(std::forward<F>(f), std::forward<Args>(args)...));
  }

  unsigned worker_count() const noexcept;
  /// The driver actually running (never io_backend::automatic).
  weft::io_backend io_backend() const noexcept;
  runtime_metrics metrics() const;

  /// The runtime whose worker runs the calling thread, or nullptr.
  static runtime* current() noexcept;

 private:
  std::unique_ptr<detail::runtime_impl> impl_;
};

/// Creates a runtime with `options`, runs `t` to completion on it, shuts
/// the runtime down and returns t's value (or rethrows). For main().
template <class T>
T run(task<T> t, runtime_options options = {}) {
  runtime rt(std::move(options));
  return rt.block_on(std::move(t));
}

/// The index of the worker running the calling thread, if any.
std::optional<std::size_t> this_worker() noexcept;

}  // namespace weft
