#include "weft/runtime/sync/latch.hpp"

#include <mutex>
#include <stdexcept>

namespace weft {

latch::latch(std::ptrdiff_t count) : st_(count) {
  if (count < 0) throw std::invalid_argument("weft::latch: negative count");
}

void latch::count_down(std::ptrdiff_t n) {
  detail::wake_batch wake;
  std::lock_guard lock(st_.lock);
  if (n < 0 || n > st_.count) throw std::logic_error("weft::latch::count_down: would count below zero");
  st_.count -= n;
  if (st_.count == 0)
    while (detail::waiter* w = st_.waiters.pop_front()) wake.grant(w);
}

bool latch::try_wait() const noexcept {
  std::lock_guard lock(st_.lock);
  return st_.count == 0;
}

void latch::blocking_wait() {
  detail::waiter w;
  detail::block_thread(w, st_.lock, "weft::latch::blocking_wait",
                       [this](detail::waiter& me) { return st_.pass_or_enqueue(me); });
}

}  // namespace weft
