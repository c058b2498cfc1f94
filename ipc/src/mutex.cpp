#include "weft/ipc/mutex.hpp"

#include <algorithm>
#include <stdexcept>

#include "pool_wait.hpp"
#include "robust_mutex.hpp"
#include "weft/runtime/runtime.hpp"

namespace weft::ipc {

namespace detail {

namespace {

constexpr std::uint32_t waiters_bit = mutex_state::waiters_bit;

std::uint32_t me() noexcept { return static_cast<std::uint32_t>(current_pid()); }

// The lock word `c` names an owner that is gone: take the lock over,
// keeping the waiters bit (others may sleep on it), and mark it.
bool take_over_if_dead(mutex_state& s, std::uint32_t c) noexcept {
  const std::uint32_t owner = c & ~waiters_bit;
  if (owner == 0 || owner == me() || process_alive(static_cast<pid_t>(owner))) return false;
  if (!s.word.compare_exchange_strong(c, me() | (c & waiters_bit), std::memory_order_acquire,
                                      std::memory_order_relaxed))
    return false;
  s.inconsistent.store(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

bool robust_try_lock_fast(mutex_state& s) noexcept {
  std::uint32_t c = 0;
  return s.word.compare_exchange_strong(c, me(), std::memory_order_acquire, std::memory_order_relaxed);
}

bool robust_try_lock(mutex_state& s) noexcept {
  std::uint32_t c = 0;
  if (s.word.compare_exchange_strong(c, me(), std::memory_order_acquire, std::memory_order_relaxed)) return true;
  return take_over_if_dead(s, c);
}

lock_result robust_lock(mutex_state& s, const wait_token* token, weft::clock::time_point deadline) noexcept {
  const std::uint32_t self = me();
  std::uint32_t c = 0;
  if (s.word.compare_exchange_strong(c, self, std::memory_order_acquire, std::memory_order_relaxed))
    return lock_result::acquired;
  // Held briefly, as it usually is: wait for it without a system call.
  if (spin_while_equal(s.word, c)) c = s.word.load(std::memory_order_relaxed);
  auto last_check = weft::clock::now();
  auto give_up = [&](lock_result r) {
    // We may have taken a wake meant for whoever locks next: pass it on.
    if (s.word.load(std::memory_order_relaxed) & waiters_bit) futex_wake(s.word, 1);
    return r;
  };
  for (;;) {
    // Before anything else: a job whose task gave up should not take the
    // lock only to hand it straight back.
    if (token && token->abandoned_now()) return give_up(lock_result::cancelled);
    if (c == 0) {
      // We cannot tell whether others sleep: keep the bit, so our unlock wakes one.
      if (s.word.compare_exchange_weak(c, self | waiters_bit, std::memory_order_acquire, std::memory_order_relaxed))
        return lock_result::acquired;
      continue;
    }
    if (!(c & waiters_bit)) {
      if (!s.word.compare_exchange_weak(c, c | waiters_bit, std::memory_order_relaxed)) continue;
      c |= waiters_bit;
    }
    const auto now = weft::clock::now();
    if (now >= deadline) return give_up(lock_result::timed_out);
    if (now - last_check >= poll_interval) {
      // The owner kept it a whole interval: is it still there?
      last_check = now;
      if (take_over_if_dead(s, c)) return lock_result::acquired;
    } else {
      futex_wait(s.word, c, std::min<weft::clock::duration>(poll_interval, deadline - now));
    }
    c = s.word.load(std::memory_order_relaxed);
  }
}

void robust_unlock(mutex_state& s) noexcept {
  if (s.word.exchange(0, std::memory_order_release) & waiters_bit) futex_wake(s.word, 1);
}

bool robust_held_here(const mutex_state& s) noexcept {
  return (s.word.load(std::memory_order_relaxed) & ~waiters_bit) == me();
}

}  // namespace detail

namespace {

detail::mutex_state& state_of(const detail::shared_ref& r) {
  if (!r) throw std::logic_error(detail::no_object_message);
  return *r.object<detail::mutex_state>();
}

}  // namespace

// ------------------------------------------------------------ lock_guard

lock_guard::lock_guard(detail::shared_ref ref) noexcept : ref_(std::move(ref)), locker_(detail::current_pid()) {}

lock_guard::lock_guard(lock_guard&& o) noexcept : ref_(std::move(o.ref_)), locker_(std::exchange(o.locker_, 0)) {}

lock_guard& lock_guard::operator=(lock_guard&& o) noexcept {
  if (this != &o) {
    unlock();
    ref_ = std::move(o.ref_);
    locker_ = std::exchange(o.locker_, 0);
  }
  return *this;
}

detail::mutex_state* lock_guard::state() const noexcept { return ref_ ? ref_.object<detail::mutex_state>() : nullptr; }

bool lock_guard::owner_died() const noexcept {
  const detail::mutex_state* s = state();
  return s && s->inconsistent.load(std::memory_order_relaxed) != 0;
}

void lock_guard::mark_consistent() {
  detail::mutex_state* s = state();
  if (!s) throw std::logic_error("weft::ipc::lock_guard::mark_consistent: the guard does not own the mutex");
  s->inconsistent.store(0, std::memory_order_relaxed);
}

void lock_guard::unlock() noexcept {
  if (!ref_) return;
  // A copy of a guard inherited through fork() never held the lock.
  if (locker_ == detail::current_pid()) detail::robust_unlock(*state());
  ref_.reset();
  locker_ = 0;
}

// ----------------------------------------------------------------- mutex

mutex::mutex()
    : ref_(detail::allocate_block(kind, type_tag(), sizeof(detail::mutex_state), alignof(detail::mutex_state))) {
  ::new (ref_.object<detail::mutex_state>()) detail::mutex_state{};
}

detail::mutex_state& mutex::state() const { return state_of(ref_); }

weft::task<lock_guard> mutex::lock_task_(detail::shared_ref ref) {
  detail::mutex_state& s = *ref.object<detail::mutex_state>();
  auto wait = [ref](const detail::wait_token& token, weft::clock::time_point deadline) {
    return detail::robust_lock(*ref.object<detail::mutex_state>(), &token, deadline) == detail::lock_result::acquired;
  };
  auto undo = [ref] { detail::robust_unlock(*ref.object<detail::mutex_state>()); };
  if (!detail::robust_try_lock_fast(s)) {
    for (;;) {
      const bool got = co_await detail::wait_on_pool(wait, undo);
      if (got) break;
    }
  }
  co_return lock_guard(std::move(ref));
}

weft::task<lock_guard> mutex::lock() const {
  state_of(ref_);  // an empty handle throws here, not inside the task
  return lock_task_(ref_);
}

lock_guard mutex::blocking_lock() const {
  detail::mutex_state& s = state();
  weft::detail::check_may_block("weft::ipc::mutex::blocking_lock");
  detail::robust_lock(s, nullptr, weft::clock::time_point::max());
  return lock_guard(ref_);
}

lock_guard mutex::try_lock_until_(std::chrono::steady_clock::time_point deadline) const {
  detail::mutex_state& s = state();
  weft::detail::check_may_block("weft::ipc::mutex::try_lock_for");
  if (detail::robust_lock(s, nullptr, deadline) != detail::lock_result::acquired) return lock_guard();
  return lock_guard(ref_);
}

lock_guard mutex::try_lock() const {
  if (!detail::robust_try_lock(state())) return lock_guard();
  return lock_guard(ref_);
}

void mutex::mark_consistent() const {
  detail::mutex_state& s = state();
  if (!detail::robust_held_here(s))
    throw std::logic_error("weft::ipc::mutex::mark_consistent: the calling process does not hold the mutex");
  s.inconsistent.store(0, std::memory_order_relaxed);
}

}  // namespace weft::ipc
