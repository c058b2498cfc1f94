#include "weft/runtime/sync/shared_mutex.hpp"

namespace weft {
namespace detail {

bool shared_mutex_state::try_take(std::uint8_t kind) noexcept {
  if (writer || !waiters.empty()) return false;
  if (kind == shared) {
    ++readers;
    return true;
  }
  if (readers) return false;
  writer = true;
  return true;
}

bool shared_mutex_state::take_or_enqueue(waiter& w) noexcept {
  if (try_take(w.kind)) return true;
  waiters.push_back(&w);
  return false;
}

void shared_mutex_state::dispatch(wake_batch& wake) noexcept {
  while (waiter* w = waiters.front()) {
    if (writer) return;
    if (w->kind == exclusive) {
      if (readers) return;
      writer = true;
    } else {
      ++readers;
    }
    waiters.remove(w);
    wake.grant(w);
  }
}

void shared_mutex_state::cancel(wait_target* t, waiter* w, wake_batch& wake) noexcept {
  auto* st = static_cast<shared_mutex_state*>(t);
  st->waiters.remove(w);
  // A cancelled writer at the head may have held back readers behind it.
  st->dispatch(wake);
}

}  // namespace detail

bool shared_mutex::try_take(std::uint8_t kind) noexcept {
  std::lock_guard lock(st_.lock);
  return st_.try_take(kind);
}

unique_lock<shared_mutex> shared_mutex::try_lock() noexcept {
  if (!try_take(detail::shared_mutex_state::exclusive)) return {};
  return unique_lock<shared_mutex>(*this, std::adopt_lock);
}

shared_lock<shared_mutex> shared_mutex::try_lock_shared() noexcept {
  if (!try_take(detail::shared_mutex_state::shared)) return {};
  return shared_lock<shared_mutex>(*this, std::adopt_lock);
}

void shared_mutex::blocking_take(std::uint8_t kind) {
  detail::waiter w;
  w.kind = kind;
  detail::block_thread(w, st_.lock, "weft::shared_mutex blocking lock",
                       [this](detail::waiter& me) { return st_.take_or_enqueue(me); });
}

unique_lock<shared_mutex> shared_mutex::blocking_lock() {
  blocking_take(detail::shared_mutex_state::exclusive);
  return unique_lock<shared_mutex>(*this, std::adopt_lock);
}

shared_lock<shared_mutex> shared_mutex::blocking_lock_shared() {
  blocking_take(detail::shared_mutex_state::shared);
  return shared_lock<shared_mutex>(*this, std::adopt_lock);
}

void shared_mutex::unlock() noexcept {
  detail::wake_batch wake;
  std::lock_guard lock(st_.lock);
  st_.writer = false;
  st_.dispatch(wake);
}

void shared_mutex::unlock_shared() noexcept {
  detail::wake_batch wake;
  std::lock_guard lock(st_.lock);
  --st_.readers;
  st_.dispatch(wake);
}

}  // namespace weft
