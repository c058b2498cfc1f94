#include "weft/ipc/semaphore.hpp"

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

#include "futex.hpp"
#include "pool_wait.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/time.hpp"

namespace weft::ipc {

namespace detail {

// `count` is the futex word waiters sleep on while it is 0. `sleepers`
// lets release() skip the wake-up system call when nobody sleeps.
struct semaphore_state {
  std::atomic<std::uint32_t> count{0};
  std::atomic<std::uint32_t> sleepers{0};
};

namespace {

bool try_take(semaphore_state& s) noexcept {
  std::uint32_t c = s.count.load(std::memory_order_relaxed);
  while (c > 0)
    if (s.count.compare_exchange_weak(c, c - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
  return false;
}

void give(semaphore_state& s, std::uint32_t n) {
  std::uint32_t c = s.count.load(std::memory_order_relaxed);
  do {
    if (n > semaphore::max_value - c)
      throw std::overflow_error("weft::ipc::semaphore::release: " + std::to_string(n) + " more permits would pass " +
                                std::to_string(semaphore::max_value) + " (it holds " + std::to_string(c) + ")");
  } while (!s.count.compare_exchange_weak(c, c + n, std::memory_order_release, std::memory_order_relaxed));
  // Read with a read-modify-write, ordered against the sleeper's increment:
  // either we see it here, or the sleeper sees the new count and does not
  // sleep.
  if (s.sleepers.fetch_add(0, std::memory_order_acq_rel) > 0)
    futex_wake(s.count, static_cast<int>(std::min<std::uint32_t>(n, INT_MAX)));
}

// True once a permit is taken; false at the deadline or once the token is
// abandoned.
bool take(semaphore_state& s, const wait_token* token, weft::clock::time_point deadline) noexcept {
  for (;;) {
    if (try_take(s)) return true;
    if (token && token->abandoned_now()) break;
    const auto now = weft::clock::now();
    if (now >= deadline) break;
    s.sleepers.fetch_add(1, std::memory_order_acq_rel);
    futex_wait(s.count, 0, std::min<weft::clock::duration>(poll_interval, deadline - now));
    s.sleepers.fetch_sub(1, std::memory_order_relaxed);
  }
  // We may have taken a wake meant for another sleeper: pass it on.
  if (s.count.load(std::memory_order_relaxed) > 0 && s.sleepers.load(std::memory_order_relaxed) > 0)
    futex_wake(s.count, 1);
  return false;
}

}  // namespace
}  // namespace detail

namespace {
detail::semaphore_state& state_of(const detail::shared_ref& r) {
  if (!r) throw std::logic_error(detail::no_object_message);
  return *r.object<detail::semaphore_state>();
}
}  // namespace

semaphore::semaphore(std::uint64_t initial) {
  if (initial > max_value)
    throw std::invalid_argument("weft::ipc::semaphore: " + std::to_string(initial) + " permits, more than the " +
                                std::to_string(max_value) + " a semaphore can count");
  ref_ = detail::shared_ref(
      detail::allocate_block(kind, type_tag(), sizeof(detail::semaphore_state), alignof(detail::semaphore_state)));
  auto* s = ::new (ref_.object<detail::semaphore_state>()) detail::semaphore_state{};
  s->count.store(static_cast<std::uint32_t>(initial), std::memory_order_release);
}

detail::semaphore_state& semaphore::state() const { return state_of(ref_); }

weft::task<void> semaphore::acquire_task_(detail::shared_ref ref) {
  if (detail::try_take(*ref.object<detail::semaphore_state>())) co_return;
  auto wait = [ref](const detail::wait_token& token, weft::clock::time_point deadline) {
    return detail::take(*ref.object<detail::semaphore_state>(), &token, deadline);
  };
  auto undo = [ref]() noexcept {
    try {
      detail::give(*ref.object<detail::semaphore_state>(), 1);
    } catch (const std::overflow_error&) {
      // Others released up to max_value meanwhile: the permit is not missed.
    }
  };
  for (;;) {
    const bool got = co_await detail::wait_on_pool(wait, undo);
    if (got) co_return;
  }
}

weft::task<void> semaphore::acquire() const {
  state();  // an empty handle throws here, not inside the task
  return acquire_task_(ref_);
}

void semaphore::blocking_acquire() const {
  detail::semaphore_state& s = state();
  weft::detail::check_may_block("weft::ipc::semaphore::blocking_acquire");
  detail::take(s, nullptr, weft::clock::time_point::max());
}

bool semaphore::try_acquire_until_(std::chrono::steady_clock::time_point deadline) const {
  detail::semaphore_state& s = state();
  weft::detail::check_may_block("weft::ipc::semaphore::try_acquire_for");
  return detail::take(s, nullptr, deadline);
}

bool semaphore::try_acquire() const { return detail::try_take(state()); }

void semaphore::release(std::uint32_t n) const {
  detail::semaphore_state& s = state();
  if (n) detail::give(s, n);
}

std::uint32_t semaphore::value() const { return state().count.load(std::memory_order_relaxed); }

}  // namespace weft::ipc
