// weft::semaphore: a counting semaphore (Python's threading.Semaphore).
//
//   weft::semaphore slots{4};          // at most 4 downloads at once
//   co_await slots.acquire();
//   auto body = co_await fetch(url);
//   slots.release();
//
// Fair: permits go to waiters in arrival order, and a newcomer never takes
// a permit while others wait. release(n) may be called from any thread.
// Cancellation: a task cancelled while waiting in acquire() leaves the
// queue and throws operation_cancelled; a permit it was granted first is
// kept (acquire() then returns normally), never lost.
#pragma once

#include <coroutine>
#include <cstddef>

#include "weft/runtime/sync/detail/wait_queue.hpp"

namespace weft {

namespace detail {
struct semaphore_state : wait_target {
  explicit semaphore_state(std::size_t n) noexcept : wait_target(&cancel), count(n) {}
  /// Under the lock: takes a permit if one is free and nobody waits.
  bool try_take() noexcept;
  /// Under the lock: takes a permit or queues w.
  bool take_or_enqueue(waiter& w) noexcept;
  static void cancel(wait_target* t, waiter* w, wake_batch& wake) noexcept;

  std::size_t count;
  wait_list waiters;  // non-empty only while count == 0
};
}  // namespace detail

class semaphore {
 public:
  explicit semaphore(std::size_t initial) noexcept : st_(initial) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  class [[nodiscard]] acquire_awaiter : detail::task_wait {
   public:
    explicit acquire_awaiter(semaphore& s, bool cancellable = true) noexcept : task_wait(s.st_), s_(s) {
      set_cancellable(cancellable);
    }
    acquire_awaiter(acquire_awaiter&&) noexcept = default;
    ~acquire_awaiter() {
      if (granted() && !consumed_) s_.release();  // frame destroyed before it resumed
    }
    bool await_ready() noexcept { return fast_ = s_.try_acquire(); }
    bool await_suspend(std::coroutine_handle<> h) {
      return suspend_task(h, "weft::semaphore::acquire",
                          [this](detail::waiter& w) { return s_.st_.take_or_enqueue(w); });
    }
    void await_resume() {
      consumed_ = true;
      if (!fast_) finish_wait();
    }

   private:
    semaphore& s_;
    bool fast_ = false;
    bool consumed_ = false;
  };

  /// Waits for a permit and takes it.
  acquire_awaiter acquire() noexcept { return acquire_awaiter(*this); }
  /// Takes a permit if one is free right now (and nobody is waiting).
  bool try_acquire() noexcept;
  /// Returns n permits, waking up to n waiters.
  void release(std::size_t n = 1) noexcept;
  /// acquire() for a plain thread: blocks it. Throws std::logic_error on a
  /// runtime worker thread.
  void blocking_acquire();
  /// Permits free right now.
  std::size_t available() const noexcept;

 private:
  mutable detail::semaphore_state st_;
};

}  // namespace weft
