#include "weft/runtime/sync/condition_variable.hpp"

#include <stdexcept>

namespace weft {

/// Queues the task on the condition variable, then unlocks the mutex, both
/// under the condition variable's lock: a notify cannot slip in between.
class condition_variable::wait_awaiter : detail::task_wait {
 public:
  wait_awaiter(condition_variable& cv, mutex& m) noexcept : task_wait(cv.st_), cv_(cv), m_(m) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    return suspend_task(h, "weft::condition_variable::wait", [this](detail::waiter& w) {
      cv_.st_.waiters.push_back(&w);
      m_.unlock();
      return false;
    });
  }
  void await_resume() { finish_wait(); }

 private:
  condition_variable& cv_;
  mutex& m_;
};

task<void> condition_variable::wait(unique_lock<mutex>& lk) {
  if (!lk) throw std::logic_error("weft::condition_variable::wait: the lock is not held");
  mutex* m = lk.release();
  bool cancelled = false;
  try {
    co_await wait_awaiter(*this, *m);
  } catch (const operation_cancelled&) {
    cancelled = true;
  }
  lk = co_await m->relock();
  if (cancelled) throw operation_cancelled{};
}

void condition_variable::notify_one() noexcept {
  detail::wake_batch wake;
  std::lock_guard lock(st_.lock);
  if (detail::waiter* w = st_.waiters.pop_front()) wake.grant(w);
}

void condition_variable::notify_all() noexcept {
  detail::wake_batch wake;
  std::lock_guard lock(st_.lock);
  while (detail::waiter* w = st_.waiters.pop_front()) wake.grant(w);
}

void condition_variable::blocking_wait(unique_lock<mutex>& lk) {
  if (!lk) throw std::logic_error("weft::condition_variable::blocking_wait: the lock is not held");
  mutex* m = lk.release();
  detail::waiter w;
  detail::block_thread(w, st_.lock, "weft::condition_variable::blocking_wait", [&](detail::waiter& me) {
    st_.waiters.push_back(&me);
    m->unlock();
    return false;
  });
  lk = m->blocking_lock();
}

}  // namespace weft
