// weft::shared_mutex: many readers or one writer.
//
//   weft::shared_mutex m;
//   { auto r = co_await m.lock_shared(); read(table); }   // weft::shared_lock
//   { auto w = co_await m.lock();        write(table); }  // weft::unique_lock
//
// Fair (one FIFO for both kinds): a reader arriving while a writer waits
// queues behind it, so writers are not starved by a stream of readers; when
// the lock is released, the longest waiter gets it, together with every
// reader queued right behind it.
// Cancellation: as weft::mutex (a cancelled waiter leaves the queue; one
// already granted keeps the lock).
#pragma once

#include <coroutine>
#include <cstddef>
#include <mutex>

#include "weft/runtime/sync/detail/wait_queue.hpp"
#include "weft/runtime/sync/lock.hpp"

namespace weft {

namespace detail {
struct shared_mutex_state : wait_target {
  static constexpr std::uint8_t exclusive = 0, shared = 1;
  shared_mutex_state() noexcept : wait_target(&cancel) {}
  bool try_take(std::uint8_t kind) noexcept;
  bool take_or_enqueue(waiter& w) noexcept;
  /// Grants the queue's head (and the readers right behind a reader head)
  /// whatever the current holders allow.
  void dispatch(wake_batch& wake) noexcept;
  static void cancel(wait_target* t, waiter* w, wake_batch& wake) noexcept;

  std::size_t readers = 0;
  bool writer = false;
  wait_list waiters;
};
}  // namespace detail

class shared_mutex {
 public:
  shared_mutex() noexcept = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;

  template <class Guard, std::uint8_t Kind>
  class [[nodiscard]] lock_awaiter : detail::task_wait {
   public:
    explicit lock_awaiter(shared_mutex& m) noexcept : task_wait(m.st_), m_(m) { w_.kind = Kind; }
    lock_awaiter(lock_awaiter&& o) noexcept : task_wait(std::move(o)), m_(o.m_) { w_.kind = Kind; }
    ~lock_awaiter() {
      if (granted() && !consumed_) Guard release(m_, std::adopt_lock);  // frame destroyed before it resumed
    }
    bool await_ready() noexcept { return fast_ = m_.try_take(Kind); }
    bool await_suspend(std::coroutine_handle<> h) {
      return suspend_task(h, "weft::shared_mutex lock",
                          [this](detail::waiter& w) { return m_.st_.take_or_enqueue(w); });
    }
    Guard await_resume() {
      consumed_ = true;
      if (!fast_) finish_wait();
      return Guard(m_, std::adopt_lock);
    }

   private:
    shared_mutex& m_;
    bool fast_ = false;
    bool consumed_ = false;
  };
  using exclusive_awaiter = lock_awaiter<unique_lock<shared_mutex>, detail::shared_mutex_state::exclusive>;
  using shared_awaiter = lock_awaiter<shared_lock<shared_mutex>, detail::shared_mutex_state::shared>;

  /// Waits for exclusive ownership.
  exclusive_awaiter lock() noexcept { return exclusive_awaiter(*this); }
  /// Waits for shared ownership.
  shared_awaiter lock_shared() noexcept { return shared_awaiter(*this); }
  unique_lock<shared_mutex> try_lock() noexcept;
  shared_lock<shared_mutex> try_lock_shared() noexcept;
  /// For plain threads: block them. Throw std::logic_error on a worker.
  unique_lock<shared_mutex> blocking_lock();
  shared_lock<shared_mutex> blocking_lock_shared();

  /// Guards call these; the caller must hold the lock of that kind.
  void unlock() noexcept;
  void unlock_shared() noexcept;

 private:
  bool try_take(std::uint8_t kind) noexcept;
  void blocking_take(std::uint8_t kind);
  detail::shared_mutex_state st_;
};

}  // namespace weft
