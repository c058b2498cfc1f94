// The machinery every sync primitive shares: a FIFO of waiters under a
// spinlock, and the two ways to wait in it (a task suspends, a plain thread
// blocks).
//
// A primitive keeps its state and its wait_list under one spinlock. A
// waiter is a node that lives in the waiting frame (or on the blocked
// thread's stack). Under the lock, a waiter is either queued, granted (the
// primitive handed it what it waited for: the lock, a permit, a value, the
// news that the channel closed) or cancelled (its task's stop was requested
// while it was still queued). Whoever moves a waiter out of `queued` owns
// its wake-up, and wakes it only after dropping the lock, so the woken task
// is never run inside the primitive's critical section: it is scheduled, and
// a chain of hand-offs cannot recurse.
//
// Cancellation never eats a wake-up: the stop callback takes the primitive's
// lock and cancels the waiter only if it is still queued; a waiter already
// granted keeps what it got (the operation completed anyway), and a
// cancelled one is simply unlinked, after which the primitive re-runs its
// grant logic, so whatever it could now give goes to the next in line.
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "weft/runtime/detail/stop_scope.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"

namespace weft::detail {

/// Throws std::logic_error on a runtime worker thread (defined in runtime.cpp).
void check_may_block(const char* what);

/// A test-and-test-and-set lock for the short critical sections of the
/// sync primitives (a few pointer updates). Yields the CPU after a while so
/// that a preempted holder gets to run.
class spinlock {
 public:
  void lock() noexcept {
    for (unsigned spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 64) cpu_relax();
        else std::this_thread::yield();
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

/// Blocks a plain thread until unpark(). The waker signals under the mutex,
/// so the parker (on the blocked thread's stack) cannot be gone before
/// unpark() returns.
class thread_parker {
 public:
  void park() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ready_; });
  }
  void unpark() noexcept {
    std::lock_guard lock(mu_);
    ready_ = true;
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
};

struct waiter {
  enum state_t : std::uint8_t { idle, queued, granted, cancelled };

  waiter* prev = nullptr;
  waiter* next = nullptr;
  state_t state = idle;             // guarded by the primitive's lock
  std::uint8_t kind = 0;            // the primitive's own tag (shared/exclusive...)
  bool closed = false;              // granted because the primitive closed (channels)
  void* slot = nullptr;             // the primitive's payload (a value to send or receive into)
  wait_node* task = nullptr;        // a suspended task, or
  thread_parker* thread = nullptr;  // a blocked thread

  /// Wakes whoever waits. The last touch of *this by the waker.
  void notify() noexcept {
    if (task) task->wake();
    else thread->unpark();
  }
};

/// An intrusive FIFO of waiters.
class wait_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  waiter* front() const noexcept { return head_; }

  void push_back(waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_) tail_->next = w;
    else head_ = w;
    tail_ = w;
    w->state = waiter::queued;
  }
  void remove(waiter* w) noexcept {
    if (w->prev) w->prev->next = w->next;
    else head_ = w->next;
    if (w->next) w->next->prev = w->prev;
    else tail_ = w->prev;
    w->prev = w->next = nullptr;
  }
  waiter* pop_front() noexcept {
    waiter* w = head_;
    if (w) remove(w);
    return w;
  }

 private:
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
};

/// Waiters granted under a lock, woken after it is released.
class wake_batch {
 public:
  wake_batch() = default;
  wake_batch(wake_batch&& o) noexcept
      : head_(std::exchange(o.head_, nullptr)), tail_(std::exchange(o.tail_, nullptr)) {}
  wake_batch(const wake_batch&) = delete;
  ~wake_batch() { notify_all(); }

  /// Marks w granted (it must be unlinked already) and queues its wake-up.
  void grant(waiter* w) noexcept {
    w->state = waiter::granted;
    w->next = nullptr;
    if (tail_) tail_->next = w;
    else head_ = w;
    tail_ = w;
  }
  /// Call with the lock released.
  void notify_all() noexcept {
    waiter* w = head_;
    head_ = tail_ = nullptr;
    while (w) {
      waiter* next = w->next;  // w may be gone once notified
      w->notify();
      w = next;
    }
  }

 private:
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
};

/// A primitive's lock, and what it does when a queued waiter's task is
/// cancelled: with the lock held, unlink w and hand whatever that frees up
/// to the next waiters. Primitives keep their state in a struct derived
/// from it.
struct wait_target {
  using cancel_fn = void (*)(wait_target*, waiter*, wake_batch&) noexcept;
  explicit wait_target(cancel_fn f) noexcept : cancel_locked(f) {}
  wait_target(const wait_target&) = delete;
  wait_target& operator=(const wait_target&) = delete;

  cancel_fn cancel_locked;
  spinlock lock;
};

/// The task side of one wait: registration with the task's stop scope and
/// the suspend/wake race. A primitive's awaiter derives from it, and from
/// await_suspend calls suspend_task() with a function that, under the
/// primitive's lock, either completes the wait at once (returns true) or
/// queues the waiter (returns false).
class task_wait : stop_callback {
 public:
  explicit task_wait(wait_target& target) noexcept : stop_callback{&on_stop}, target_(&target) {}
  /// Movable until awaited (so awaiters can be passed to with_timeout).
  task_wait(task_wait&& o) noexcept : stop_callback{&on_stop}, target_(o.target_), cancellable_(o.cancellable_) {}
  task_wait(const task_wait&) = delete;
  task_wait& operator=(const task_wait&) = delete;
  ~task_wait() {
    // Destroyed while queued: its frame is being destroyed (runtime shutdown).
    if (w_.state == waiter::queued) {
      wake_batch wake;
      std::lock_guard lock(target_->lock);
      if (w_.state == waiter::queued) target_->cancel_locked(target_, &w_, wake);
    }
  }

 protected:
  template <class TryOrEnqueue>
  bool suspend_task(std::coroutine_handle<> h, const char* what, TryOrEnqueue&& try_or_enqueue) {
    task_header* self = current_task();
    if (!self) throw std::logic_error(std::string(what) + " awaited outside a weft task");
    self->resume_point = h;
    node_.task = self;
    w_.task = &node_;
    {
      std::lock_guard lock(target_->lock);
      if (try_or_enqueue(w_)) return false;
    }
    if (!cancellable_) return !node_.done_registering();
    registered_ = self->scope->add(this);
    if (!registered_) {
      // Stop was requested before we got here: cancel unless already granted.
      wake_batch wake;
      std::lock_guard lock(target_->lock);
      if (w_.state == waiter::queued) {
        target_->cancel_locked(target_, &w_, wake);
        w_.state = waiter::cancelled;
        return false;
      }
    }
    return !node_.done_registering();
  }

  /// Unregisters from the stop scope; throws operation_cancelled if the
  /// wait was cancelled before it was granted.
  void finish_wait() {
    if (registered_) node_.task->scope->remove(this);
    registered_ = false;
    if (w_.state == waiter::cancelled) throw operation_cancelled{};
  }

  bool granted() const noexcept { return w_.state == waiter::granted; }
  /// An uncancellable wait ignores stop requests (condition_variable's
  /// relock, which must succeed).
  void set_cancellable(bool c) noexcept { cancellable_ = c; }

  waiter w_;

 private:
  static void on_stop(stop_callback* c) noexcept {
    auto* self = static_cast<task_wait*>(c);
    bool cancelled = false;
    {
      wake_batch wake;
      {
        std::lock_guard lock(self->target_->lock);
        if (self->w_.state == waiter::queued) {
          self->target_->cancel_locked(self->target_, &self->w_, wake);
          self->w_.state = waiter::cancelled;
          cancelled = true;
        }
      }
    }
    // Still inside the stop callback: the task's await_resume waits for it
    // to return before it touches the awaiter.
    if (cancelled) self->node_.wake();
  }

  wait_target* target_;
  wait_node node_;
  bool registered_ = false;
  bool cancellable_ = true;
};

/// The awaiter of a gate-like primitive (event, latch): passes at once when
/// the gate is open, otherwise queues until it opens. State provides
/// `bool open() const` and `bool pass_or_enqueue(waiter&)`, under its lock.
template <class State>
class gate_awaiter : task_wait {
 public:
  gate_awaiter(State& st, const char* what, bool cancellable = true) noexcept : task_wait(st), st_(st), what_(what) {
    set_cancellable(cancellable);
  }
  gate_awaiter(gate_awaiter&& o) noexcept : task_wait(std::move(o)), st_(o.st_), what_(o.what_) {}
  bool await_ready() noexcept {
    std::lock_guard lock(st_.lock);
    return fast_ = st_.open();
  }
  bool await_suspend(std::coroutine_handle<> h) {
    return suspend_task(h, what_, [this](waiter& w) { return st_.pass_or_enqueue(w); });
  }
  void await_resume() {
    if (!fast_) finish_wait();
  }

 private:
  State& st_;
  const char* what_;
  bool fast_ = false;
};

/// The thread side: blocks the calling (non-worker) thread until granted.
/// try_or_enqueue is as for task_wait::suspend_task.
template <class TryOrEnqueue>
void block_thread(waiter& w, spinlock& lock, const char* what, TryOrEnqueue&& try_or_enqueue) {
  check_may_block(what);
  thread_parker parker;
  w.thread = &parker;
  {
    std::lock_guard guard(lock);
    if (try_or_enqueue(w)) return;
  }
  parker.park();
}

}  // namespace weft::detail
