// weft::mutex: mutual exclusion for tasks; waiting suspends the task, never
// the worker thread.
//
//   weft::mutex m;
//   {
//     auto guard = co_await m.lock();   // weft::unique_lock<weft::mutex>
//     ++shared_counter;
//   }                                   // unlocked here
//   if (auto g = m.try_lock()) { ... }  // only if free right now
//
// Fair (FIFO): unlock() hands the mutex straight to the longest waiter, so
// nobody starves, at the price of a task switch per contended hand-off.
// The holder may unlock from another thread (a task may move between
// workers while it holds the lock). Not recursive.
// Cancellation: a task cancelled while waiting in lock() leaves the queue
// and throws operation_cancelled; if the mutex was handed to it first, it
// gets the lock (lock() returns normally).
// Plain threads use blocking_lock().
#pragma once

#include <coroutine>
#include <mutex>

#include "weft/runtime/sync/lock.hpp"
#include "weft/runtime/sync/semaphore.hpp"

namespace weft {

class mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  class [[nodiscard]] lock_awaiter {
   public:
    explicit lock_awaiter(mutex& m, bool cancellable = true) noexcept : m_(m), inner_(m.sem_, cancellable) {}
    bool await_ready() noexcept { return inner_.await_ready(); }
    bool await_suspend(std::coroutine_handle<> h) { return inner_.await_suspend(h); }
    unique_lock<mutex> await_resume() {
      inner_.await_resume();
      return unique_lock<mutex>(m_, std::adopt_lock);
    }

   private:
    mutex& m_;
    semaphore::acquire_awaiter inner_;
  };

  /// Waits for the mutex; the guard unlocks it.
  lock_awaiter lock() noexcept { return lock_awaiter(*this); }
  /// Locks if free right now; the guard owns nothing otherwise.
  unique_lock<mutex> try_lock() noexcept {
    return sem_.try_acquire() ? unique_lock<mutex>(*this, std::adopt_lock) : unique_lock<mutex>();
  }
  /// lock() for a plain thread: blocks it. Throws std::logic_error on a
  /// runtime worker thread.
  unique_lock<mutex> blocking_lock() {
    sem_.blocking_acquire();
    return unique_lock<mutex>(*this, std::adopt_lock);
  }
  /// Unlocks (guards call this); the caller must hold the mutex.
  void unlock() noexcept { sem_.release(); }

 private:
  friend class condition_variable;
  /// A lock() that ignores stop requests.
  lock_awaiter relock() noexcept { return lock_awaiter(*this, false); }
  semaphore sem_{1};
};

}  // namespace weft
