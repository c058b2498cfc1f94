#include "weft/runtime/sync/event.hpp"

#include <mutex>

namespace weft {

void event::set() noexcept {
  detail::wake_batch wake;
  std::lock_guard lock(st_.lock);
  st_.set = true;
  while (detail::waiter* w = st_.waiters.pop_front()) wake.grant(w);
}

void event::clear() noexcept {
  std::lock_guard lock(st_.lock);
  st_.set = false;
}

bool event::is_set() const noexcept {
  std::lock_guard lock(st_.lock);
  return st_.set;
}

void event::blocking_wait() {
  detail::waiter w;
  detail::block_thread(w, st_.lock, "weft::event::blocking_wait",
                       [this](detail::waiter& me) { return st_.pass_or_enqueue(me); });
}

}  // namespace weft
