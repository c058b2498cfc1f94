// The spawned-task cell and the protocol every suspension point follows.
//
// spawn() moves a task's coroutine frame into a cell: a small refcounted block
// holding what the scheduler and the join handle need (where to resume, stop
// state, the joiner, the result). Run queues hold cell pointers. The frame is
// destroyed as soon as the task completes; the cell lives on, holding the
// result, until the join handle is gone.
//
// References to a cell: the join handle, the first run-queue entry (which
// may go stale when the joiner claims a not-yet-started task and runs it
// inline), and the registry of the worker that spawned it, which holds the
// frame's reference too: shutdown finds every unfinished task there, and
// that worker drops finished cells from it now and then.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <utility>

#include "weft/runtime/detail/stop_scope.hpp"

namespace weft::detail {

struct task_header;
class runtime_impl;

/// Notified once when the task it is attached to completes.
/// Returns a task to run next on this thread (direct hand-off), or nullptr.
struct join_listener {
  task_header* (*notify)(join_listener*) noexcept;
};

/// The joiner slot holds this once the task completed.
inline join_listener* const listener_done = reinterpret_cast<join_listener*>(std::uintptr_t{1});

/// Typed operations on a cell, one static table per result type.
struct cell_ops {
  void (*abort)(task_header*) noexcept;                // store operation_cancelled as the result
  void (*destroy)(task_header*) noexcept;              // destroy the result and free the cell
  std::exception_ptr (*error)(task_header*) noexcept;  // the stored exception, if any
};

struct task_header {
  // `state` packs the flags (low byte) and the reference count (above).
  // quiet: given up on (with_timeout, when_any on a handle): whatever the
  // task ends with is not reported as unhandled. service: the runtime's or
  // a library's machinery, not counted among the tasks unfinished at
  // shutdown (inherited by the tasks it spawns).
  static constexpr std::uint32_t started = 1, complete = 2, handle_dropped = 4, quiet = 8, service = 16;
  static constexpr std::uint32_t ref_unit = 256;

  std::coroutine_handle<> resume_point;            // where the task continues when run
  std::coroutine_handle<> root;                    // the spawned frame, until completion
  std::atomic<std::uint32_t> state{3 * ref_unit};  // handle, first queue entry, registry
  std::uint32_t rt_id = 0;                         // the owning runtime (see runtime_of)
  std::atomic<join_listener*> joiner{nullptr};
  stop_scope root_scope;
  stop_scope* scope = &root_scope;  // innermost scope, where suspension points register
  task_header* next = nullptr;      // registry link
  const cell_ops* ops = nullptr;

  /// Sets flag bits; returns the flags as they were.
  std::uint32_t set_flags(std::uint32_t f) noexcept {
    return state.fetch_or(f, std::memory_order_acq_rel) & (ref_unit - 1);
  }
  bool try_start() noexcept { return !(set_flags(started) & started); }
  bool is_complete() const noexcept { return state.load(std::memory_order_acquire) & complete; }
  void release() noexcept {
    if (state.fetch_sub(ref_unit, std::memory_order_acq_rel) < 2 * ref_unit) ops->destroy(this);
  }
  /// Marks the handle dropped and drops its reference in one step (for a
  /// handle whose result was consumed: nothing left to report).
  void drop_consumed_handle() noexcept {
    constexpr std::uint32_t delta = handle_dropped - ref_unit;  // wraps: adds the flag, subtracts a ref
    if (state.fetch_add(delta, std::memory_order_acq_rel) < 2 * ref_unit) ops->destroy(this);
  }
};

/// The per-thread view of the scheduler. `current` is the task whose code
/// runs on this thread right now (nullptr outside tasks).
struct thread_context {
  void* worker = nullptr;  // opaque: the worker this thread runs, or nullptr
  task_header* current = nullptr;
  std::coroutine_handle<> next;  // trampoline slot (unoptimised builds only)
};
extern constinit thread_local thread_context tls_context;
inline thread_context& this_thread() noexcept { return tls_context; }

inline task_header* current_task() noexcept { return this_thread().current; }

// Symmetric transfer (an await_suspend returning the handle to run next)
// only keeps the stack flat when the compiler turns it into a tail call,
// which GCC does not do without optimisation, nor under sanitizers (their
// function-exit hooks break tail calls). There, transfers park the handle
// in the thread context and the worker's resume loop runs it.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define WEFT_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define WEFT_SANITIZED 1
#endif
#if !defined(__OPTIMIZE__) || defined(WEFT_SANITIZED) || defined(WEFT_FORCE_TRAMPOLINE)
#define WEFT_TRAMPOLINE 1
#else
#define WEFT_TRAMPOLINE 0
#endif

inline std::coroutine_handle<> transfer(std::coroutine_handle<> h) noexcept {
#if WEFT_TRAMPOLINE
  this_thread().next = h;
  return std::noop_coroutine();
#else
  return h;
#endif
}

/// Resumes h and whatever it transfers to (see transfer()). Always drains
/// the trampoline slot, whatever this translation unit's mode: user code
/// built without optimisation parks handles there even when the library
/// itself was optimised.
inline void resume_all(std::coroutine_handle<> h) {
  h.resume();
  while (auto n = std::exchange(this_thread().next, {})) n.resume();
}

/// Makes a suspended task runnable. Never runs it inline.
void schedule_wake(task_header* t) noexcept;

/// Direct hand-off: may `next` run right now on this thread (via symmetric
/// transfer) instead of going through a run queue? Bounded per scheduler
/// tick so a chain of hand-offs cannot starve the queue or the driver.
bool may_hand_off() noexcept;

/// Switches this thread to run `t` now; returns where to transfer to.
inline std::coroutine_handle<> hand_off(task_header* t) noexcept {
  this_thread().current = t;
  return transfer(t->resume_point);
}

/// Called from a root frame's final suspend, after the result was stored.
/// Returns where the thread continues (a joiner via hand-off, or noop).
std::coroutine_handle<> finish_task(task_header* t, bool failed) noexcept;

/// Ends a started-but-never-run task whose stop was requested: its frame
/// is destroyed unrun and it completes with operation_cancelled.
std::coroutine_handle<> abort_unstarted(task_header* t) noexcept;

/// Completion bookkeeping for one suspension: the waker and the suspending
/// thread each hold one count; whoever drops the last makes the task
/// runnable. So a wait that completes while await_suspend is still
/// registering simply does not suspend.
struct wait_node {
  task_header* task = nullptr;
  std::atomic<std::uint32_t> pending{2};

  /// The completion side: true if the task is now ready to run (the caller
  /// schedules it or hands off to it).
  bool complete() noexcept { return pending.fetch_sub(1, std::memory_order_acq_rel) == 1; }
  /// Completes and schedules.
  void wake() noexcept {
    if (complete()) schedule_wake(task);
  }
  /// The suspending side, when registration is done: true if the wait has
  /// already completed and the coroutine must not suspend.
  bool done_registering() noexcept { return pending.fetch_sub(1, std::memory_order_acq_rel) == 1; }
};

}  // namespace weft::detail
