// weft::ipc::mutex: a lock shared by processes (multiprocessing.Lock),
// robust against a holder that dies.
//
//   weft::ipc::mutex m;                        // in the parent, then pass it to workers
//   {
//     auto g = co_await m.lock();              // in a task: never blocks the worker thread
//     if (g.owner_died()) repair(data);        // a holder died mid-update
//     update(data);
//   }                                          // unlocked here
//   auto g = m.blocking_lock();                // in a worker process or a plain thread
//   if (auto t = m.try_lock()) { ... }         // only if free right now
//
// A handle: copies (in any process, or sent to a worker) name the same lock.
// It lives in the shared heap, so it works between the parent and the
// workers of the process backend, or any processes forked after the heap
// was mapped. The owner is a process, not a thread, so a task may lock on
// one thread and unlock on another; the lock is not recursive and not fair.
//
// A holding process that dies (crash, SIGKILL) does not hang the others: within
// about 50 ms a waiter notices, takes the lock over and every guard from
// then on says owner_died(), because the data it protects may be
// half-updated, until a holder calls mark_consistent() (like pthread's
// EOWNERDEAD, except that the lock never becomes unusable). (Were the dead
// owner's pid handed to a new process before a waiter checks, which takes
// the kernel's pid counter wrapping around, the death would go unseen.)
//
// Cancellation and deadlines: lock() waits on the runtime's blocking pool
// (a thread sleeps on the lock's futex word, not a worker). A task
// cancelled while waiting — with_timeout, when_any, cancel() — throws
// operation_cancelled (timeout_error under with_timeout) at once, and the
// lock is never left taken on its behalf: if the pool thread got it in the
// meantime, it is released. The uncontended lock() is one compare-exchange,
// with no pool hop. The pool thread waits in slices of a quarter second,
// so a task still waiting when its runtime shuts down holds the shutdown
// up that long at most.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>

#include "weft/ipc/detail/shared_block.hpp"
#include "weft/runtime/task.hpp"

namespace weft::ipc {

namespace detail {
struct mutex_state;
}

class mutex;
class condition_variable;

/// Holds an ipc::mutex; unlocks it when it goes away. Move-only.
class [[nodiscard]] lock_guard {
 public:
  lock_guard() noexcept = default;
  lock_guard(lock_guard&& o) noexcept;
  lock_guard& operator=(lock_guard&& o) noexcept;
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;
  ~lock_guard() { unlock(); }

  bool owns_lock() const noexcept { return static_cast<bool>(ref_); }
  explicit operator bool() const noexcept { return owns_lock(); }
  /// True while the mutex is marked inconsistent: a process died holding
  /// it, since when nobody called mark_consistent(). False if not owned.
  bool owner_died() const noexcept;
  /// Declares the protected data repaired (see mutex::mark_consistent).
  void mark_consistent();
  /// Unlocks now (no effect if nothing is owned).
  void unlock() noexcept;

 private:
  friend class mutex;
  friend class condition_variable;  // unlocks the guard's mutex while it waits, then relocks it
  explicit lock_guard(detail::shared_ref ref) noexcept;
  detail::mutex_state* state() const noexcept;

  detail::shared_ref ref_;  // keeps the lock alive while held
  pid_t locker_ = 0;        // a guard inherited through fork() does not unlock
};

class mutex {
 public:
  /// A new, unlocked mutex in the shared heap.
  mutex();

  /// Waits for the lock in a task (see the top of this file).
  weft::task<lock_guard> lock() const;
  /// Blocks the calling thread until it holds the lock: for worker
  /// processes and plain threads. Throws std::logic_error on a runtime
  /// worker thread (co_await lock() there).
  lock_guard blocking_lock() const;
  /// blocking_lock() that gives up after `timeout`: the guard then owns nothing.
  template <class Rep, class Period>
  lock_guard try_lock_for(std::chrono::duration<Rep, Period> timeout) const {
    return try_lock_until_(std::chrono::steady_clock::now() +
                           std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }
  /// Locks if the mutex is free, or held by a dead process, right now; the
  /// guard owns nothing otherwise. Never waits.
  lock_guard try_lock() const;
  /// Clears the "owner died" mark once the holder has repaired the data.
  /// Throws std::logic_error unless the calling process holds the lock.
  void mark_consistent() const;

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::mutex;
  static constexpr const char* type_name = "weft::ipc::mutex";
  static std::uint64_t type_tag() noexcept { return 0; }

  explicit mutex(detail::shared_ref r) noexcept : ref_(std::move(r)) {}
  static weft::task<lock_guard> lock_task_(detail::shared_ref ref);
  lock_guard try_lock_until_(std::chrono::steady_clock::time_point deadline) const;
  detail::mutex_state& state() const;

  detail::shared_ref ref_;
};

template <>
struct serializer<mutex> : detail::handle_serializer<mutex> {};

}  // namespace weft::ipc
