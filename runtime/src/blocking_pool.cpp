#include "blocking_pool.hpp"

#include <pthread.h>

#include <utility>

#include "scheduler.hpp"

namespace weft::detail {

blocking_pool::blocking_pool(std::string thread_name, std::size_t max_threads, std::chrono::nanoseconds keep_alive)
    : name_(std::move(thread_name)), max_threads_(max_threads ? max_threads : 1), keep_alive_(keep_alive) {}

blocking_pool::~blocking_pool() { shutdown(); }

void blocking_pool::push_back(blocking_job* j) noexcept {
  j->prev = tail_;
  j->next = nullptr;
  if (tail_) tail_->next = j;
  else head_ = j;
  tail_ = j;
  j->linked = true;
  ++queued_;
}

void blocking_pool::unlink(blocking_job* j) noexcept {
  if (j->prev) j->prev->next = j->next;
  else head_ = j->next;
  if (j->next) j->next->prev = j->prev;
  else tail_ = j->prev;
  j->prev = j->next = nullptr;
  j->linked = false;
  --queued_;
}

blocking_job* blocking_pool::pop_front() noexcept {
  blocking_job* j = head_;
  if (j) unlink(j);
  return j;
}

bool blocking_pool::submit(blocking_job* j) {
  std::list<std::thread> dead;
  {
    std::lock_guard lock(mu_);
    if (shutdown_) return false;
    dead.swap(exited_);
    j->pool = this;
    j->state.store(blocking_job::queued, std::memory_order_release);
    push_back(j);
    if (idle_ >= queued_) {
      work_cv_.notify_one();
    } else if (threads_ < max_threads_) {
      try {
        start_thread();
      } catch (...) {
        if (threads_ == 0) {  // nobody would ever run it
          unlink(j);
          j->state.store(blocking_job::idle, std::memory_order_relaxed);
          for (auto& t : dead) t.join();
          throw;
        }
        // Otherwise a running thread takes it when it is done.
      }
    }
  }
  for (auto& t : dead) t.join();  // they have left thread_main already
  return true;
}

void blocking_pool::start_thread() {
  live_.emplace_back();
  auto self = std::prev(live_.end());
  try {
    *self = std::thread([this, self] { thread_main(self); });
  } catch (...) {
    live_.erase(self);
    throw;
  }
  ++threads_;
}

void blocking_pool::unlink_cancelled(blocking_job* j) noexcept {
  std::lock_guard lock(mu_);
  if (j->linked) unlink(j);
}

void blocking_pool::thread_main(std::list<std::thread>::iterator self) {
  std::string name = name_.substr(0, 11) + "-blk";
  pthread_setname_np(pthread_self(), name.c_str());
  std::unique_lock lock(mu_);
  for (;;) {
    if (blocking_job* j = pop_front()) {
      std::uint8_t expected = blocking_job::queued;
      // Lost to a cancellation: the canceller wakes the task; j is not ours.
      if (!j->state.compare_exchange_strong(expected, blocking_job::running, std::memory_order_acq_rel)) continue;
      lock.unlock();
      j->run(j);  // wakes the task; j may be gone afterwards
      lock.lock();
      continue;
    }
    if (shutdown_) break;
    ++idle_;
    const bool woken = work_cv_.wait_for(lock, keep_alive_, [&] { return head_ || shutdown_; });
    --idle_;
    if (!woken) break;  // idle for keep_alive: leave
  }
  --threads_;
  exited_.splice(exited_.end(), live_, self);
  if (threads_ == 0) gone_cv_.notify_all();
}

void blocking_pool::shutdown() noexcept {
  blocking_job* dropped = nullptr;
  std::unique_lock lock(mu_);
  shutdown_ = true;
  while (blocking_job* j = pop_front()) {
    std::uint8_t expected = blocking_job::queued;
    if (j->state.compare_exchange_strong(expected, blocking_job::cancelled, std::memory_order_acq_rel)) {
      j->next = dropped;  // ours to wake; reuse the link for a local list
      dropped = j;
    }
  }
  work_cv_.notify_all();
  lock.unlock();
  while (blocking_job* j = dropped) {
    dropped = j->next;
    j->drop(j);  // may be gone afterwards
  }
  lock.lock();
  gone_cv_.wait(lock, [&] { return threads_ == 0; });
  std::list<std::thread> dead;
  dead.swap(exited_);
  lock.unlock();
  for (auto& t : dead) t.join();
}

blocking_pool::figures blocking_pool::snapshot() const {
  std::lock_guard lock(mu_);
  return {threads_, idle_, queued_};
}

bool submit_blocking(task_header* self, blocking_job* j) { return runtime_of(self)->blocking.submit(j); }

bool cancel_blocking(blocking_job* j) noexcept {
  std::uint8_t expected = blocking_job::queued;
  if (!j->state.compare_exchange_strong(expected, blocking_job::cancelled, std::memory_order_acq_rel)) return false;
  j->pool->unlink_cancelled(j);
  return true;
}

}  // namespace weft::detail
