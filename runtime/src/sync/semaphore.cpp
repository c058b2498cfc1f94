#include "weft/runtime/sync/semaphore.hpp"

#include <mutex>

namespace weft {
namespace detail {

bool semaphore_state::try_take() noexcept {
  if (count == 0 || !waiters.empty()) return false;
  --count;
  return true;
}

bool semaphore_state::take_or_enqueue(waiter& w) noexcept {
  if (try_take()) return true;
  waiters.push_back(&w);
  return false;
}

void semaphore_state::cancel(wait_target* t, waiter* w, wake_batch&) noexcept {
  // Waiters exist only while no permit is free: nothing to pass on.
  static_cast<semaphore_state*>(t)->waiters.remove(w);
}

}  // namespace detail

bool semaphore::try_acquire() noexcept {
  std::lock_guard lock(st_.lock);
  return st_.try_take();
}

void semaphore::release(std::size_t n) noexcept {
  detail::wake_batch wake;
  std::lock_guard lock(st_.lock);
  for (; n > 0; --n) {
    detail::waiter* w = st_.waiters.pop_front();
    if (!w) {
      st_.count += n;
      break;
    }
    wake.grant(w);  // the permit goes straight to the waiter
  }
}

void semaphore::blocking_acquire() {
  detail::waiter w;
  detail::block_thread(w, st_.lock, "weft::semaphore::blocking_acquire",
                       [this](detail::waiter& me) { return st_.take_or_enqueue(me); });
}

std::size_t semaphore::available() const noexcept {
  std::lock_guard lock(st_.lock);
  return st_.count;
}

}  // namespace weft
