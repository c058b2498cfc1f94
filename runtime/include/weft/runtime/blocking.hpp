// weft::spawn_blocking: run a blocking call on the runtime's thread pool.
//
//   std::string text = co_await weft::spawn_blocking(read_whole_file, path);
//   auto h = weft::spawn_blocking([] { return legacy_db_query(); });
//   ...
//   auto rows = co_await h;
//
// A worker thread must never block: it runs hundreds of tasks. Code that
// does (a synchronous library, a big read(), compression, a DNS lookup
// through getaddrinfo) goes to the blocking pool instead, the
// ThreadPoolExecutor of weft. The pool belongs to the runtime and is
// elastic: no thread exists until the first job; a job that finds no idle
// thread starts a new one, up to runtime_options::max_blocking_threads
// (512 by default); beyond that jobs wait in a FIFO queue. A thread idle
// for runtime_options::blocking_keep_alive (10 s) exits. Threads are named
// "<thread_name>-blk".
//
// spawn_blocking(f, args...) decay-copies (or moves) f and args into the
// job, as std::thread does, and returns a plain join_handle<R> (R is f's
// result): await it for the value or f's exception, cancel() or detach()
// it, pass it to as_completed. The pool thread only runs f and stores its
// outcome; the task that waits for it is resumed on a worker, never on the
// pool thread.
//
// Cancellation (cancel(), when_any, a timeout, a failing task_scope
// sibling): a job that has not started yet is taken off the queue, f never
// runs and the handle yields weft::operation_cancelled. A job that is
// already running cannot be interrupted (a thread cannot be stopped from
// outside), so cancel() then has no effect: f runs to the end and the
// handle yields its result — like Python's Future.cancel() returning False.
// Which of the two happens is decided by one atomic transition of the job
// (queued -> running, or queued -> cancelled), so neither a wake-up nor a
// result is ever lost.
//
// Shutdown: when the runtime is destroyed, jobs still queued are dropped
// (their tasks end with operation_cancelled), running ones are waited for,
// and every pool thread is joined; none outlives the runtime.
#pragma once

#include <atomic>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/runtime/detail/result.hpp"
#include "weft/runtime/detail/stop_scope.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

namespace detail {

class blocking_pool;

/// One job for the blocking pool. Its `state` decides the race between a
/// pool thread starting it and a cancellation: both try to move it out of
/// `queued`, and only one can.
struct blocking_job {
  enum : std::uint8_t { idle, queued, running, cancelled };

  blocking_job(void (*run_fn)(blocking_job*) noexcept, void (*drop_fn)(blocking_job*) noexcept) noexcept
      : run(run_fn), drop(drop_fn) {}

  /// On a pool thread: runs the callable, stores the outcome, wakes the
  /// waiting task. The job may be gone as soon as it returns.
  void (*run)(blocking_job*) noexcept;
  /// At shutdown, for a job that never started: wakes its task, which
  /// then ends with operation_cancelled.
  void (*drop)(blocking_job*) noexcept;
  std::atomic<std::uint8_t> state{idle};
  // The pool's, guarded by its mutex.
  bool linked = false;
  blocking_job* prev = nullptr;
  blocking_job* next = nullptr;
  blocking_pool* pool = nullptr;
};

/// Queues j on the blocking pool of the runtime that owns `self`. False if
/// that runtime is shutting down (nothing was queued). Throws
/// std::system_error if no pool thread exists and none could be started.
bool submit_blocking(task_header* self, blocking_job* j);
/// Takes a queued job off the queue: true if it had not started (it never
/// will, and the caller wakes its task); false if it is running or done.
bool cancel_blocking(blocking_job* j) noexcept;

template <class R, class F, class Args>
class blocking_awaiter : blocking_job, stop_callback {
 public:
  blocking_awaiter(F& f, Args& args) noexcept
      : blocking_job(&run_job, &drop_job), stop_callback{&on_stop}, f_(f), args_(args) {}
  blocking_awaiter(const blocking_awaiter&) = delete;
  blocking_awaiter& operator=(const blocking_awaiter&) = delete;
  ~blocking_awaiter() {
    // Only a frame destroyed while its job was still queued (not by the
    // runtime, which drops queued jobs first) gets here with work to do.
    if (state.load(std::memory_order_acquire) == queued) cancel_blocking(this);
  }

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> h) {
    task_header* self = current_task();
    if (!self) throw std::logic_error("weft::spawn_blocking awaited outside a weft task");
    if (!self->scope->add(this)) {
      cancelled_ = true;  // stopped before it was queued: f never runs
      return false;
    }
    registered_ = true;
    node_.task = self;
    self->resume_point = h;
    bool queued_ok = false;
    try {
      queued_ok = submit_blocking(self, this);
    } catch (...) {
      self->scope->remove(this);
      registered_ = false;
      throw;
    }
    if (!queued_ok) {  // the runtime is shutting down
      cancelled_ = true;
      return false;
    }
    // A stop requested before the job was queued found nothing to cancel.
    if (self->scope->stop_requested() && cancel_blocking(this)) {
      cancelled_ = true;
      return false;
    }
    return !node_.done_registering();
  }

  R await_resume() {
    if (registered_) node_.task->scope->remove(this);
    if (cancelled_) throw operation_cancelled{};
    return consume(res_);
  }

 private:
  static void run_job(blocking_job* j) noexcept {
    auto* a = static_cast<blocking_awaiter*>(j);
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(std::move(a->f_), std::move(a->args_));
        a->res_.set_value();
      } else {
        a->res_.set_value(std::apply(std::move(a->f_), std::move(a->args_)));
      }
    } catch (...) {
      a->res_.set_exception(std::current_exception());
    }
    a->node_.wake();  // last touch: the task may resume and destroy *a at once
  }
  static void drop_job(blocking_job* j) noexcept {
    auto* a = static_cast<blocking_awaiter*>(j);
    a->cancelled_ = true;
    a->node_.wake();
  }
  static void on_stop(stop_callback* c) noexcept {
    auto* a = static_cast<blocking_awaiter*>(c);
    // Not queued yet: await_suspend sees the stop after queueing.
    if (cancel_blocking(a)) {
      a->cancelled_ = true;
      a->node_.wake();
    }
  }

  F& f_;
  Args& args_;
  result<R> res_;
  wait_node node_;
  bool cancelled_ = false;
  bool registered_ = false;
};

/// The spawned task behind spawn_blocking: owns f and its arguments.
template <class R, class F, class Args>
task<R> blocking_body(F f, Args args) {
  if constexpr (std::is_void_v<R>) {
    co_await blocking_awaiter<R, F, Args>(f, args);
  } else {
    co_return co_await blocking_awaiter<R, F, Args>(f, args);
  }
}

template <class F, class... Args>
using blocking_result_t = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;

/// The task that runs f(args...) on the blocking pool when spawned.
template <class F, class... Args>
task<blocking_result_t<F, Args...>> make_blocking_task(F&& f, Args&&... args) {
  using R = blocking_result_t<F, Args...>;
  return blocking_body<R>(std::decay_t<F>(std::forward<F>(f)),
                          std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...));
}

}  // namespace detail

/// Runs f(args...) on the current runtime's blocking pool; returns a handle
/// that yields f's result or rethrows its exception. Throws
/// std::logic_error outside a runtime worker (use runtime::spawn_blocking).
template <class F, class... Args>
requires std::invocable<std::decay_t<F>, std::decay_t<Args>...> join_handle<detail::blocking_result_t<F, Args...>>
spawn_blocking(F&& f, Args&&... args) {
  return spawn(detail::make_blocking_task(std::forward<F>(f), std::forward<Args>(args)...));
}

}  // namespace weft
