#include "weft/ipc/event.hpp"

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "futex.hpp"
#include "pool_wait.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/time.hpp"

namespace weft::ipc {

namespace detail {

// `word` is the futex word: bit 0 is the flag, the bits above count the
// set() calls that found it clear. A waiter remembers the word it started
// from and is done once the flag is set or the count moved on, so that a
// set() followed at once by clear() still ends every wait that began before
// it. (The count would have to go round 2^31 times within one of the
// waiter's looks to hide a pulse.) `sleepers` lets set() skip the wake-up
// system call when nobody sleeps; a waiter killed asleep leaves it counted,
// which only costs set() that call.
struct event_state {
  static constexpr std::uint32_t set_bit = 1;
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> sleepers{0};
};

namespace {

bool signalled(std::uint32_t now, std::uint32_t seen) noexcept {
  return (now & event_state::set_bit) || (now >> 1) != (seen >> 1);
}

// True once the event is set (or was, since `seen`); false at the deadline
// or once the token is abandoned.
bool wait_for_set(event_state& s, std::uint32_t seen, const wait_token* token,
                  weft::clock::time_point deadline) noexcept {
  for (;;) {
    const std::uint32_t w = s.word.load(std::memory_order_acquire);
    if (signalled(w, seen)) return true;
    if (token && token->abandoned_now()) return false;
    const auto now = weft::clock::now();
    if (now >= deadline) return false;
    // Counted with a read-modify-write, ordered against set()'s: either
    // set() sees us here and wakes us, or the futex sees its new word.
    s.sleepers.fetch_add(1, std::memory_order_seq_cst);
    futex_wait(s.word, w, std::min<weft::clock::duration>(poll_interval, deadline - now));
    s.sleepers.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace
}  // namespace detail

namespace {
detail::event_state& state_of(const detail::shared_ref& r) {
  if (!r) throw std::logic_error(detail::no_object_message);
  return *r.object<detail::event_state>();
}
}  // namespace

event::event(bool initially_set)
    : ref_(detail::allocate_block(kind, type_tag(), sizeof(detail::event_state), alignof(detail::event_state))) {
  auto* s = ::new (ref_.object<detail::event_state>()) detail::event_state{};
  if (initially_set) s->word.store(detail::event_state::set_bit | 2u, std::memory_order_release);
}

detail::event_state& event::state() const { return state_of(ref_); }

void event::set() const {
  detail::event_state& s = state();
  std::uint32_t w = s.word.load(std::memory_order_relaxed);
  do {
    if (w & detail::event_state::set_bit) return;  // already set: its waiters were woken then
  } while (!s.word.compare_exchange_weak(w, (w + 2u) | detail::event_state::set_bit, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
  if (s.sleepers.fetch_add(0, std::memory_order_seq_cst) > 0) detail::futex_wake(s.word, INT_MAX);
}

void event::clear() const { state().word.fetch_and(~detail::event_state::set_bit, std::memory_order_release); }

bool event::is_set() const {
  return (state().word.load(std::memory_order_acquire) & detail::event_state::set_bit) != 0;
}

weft::task<bool> event::wait_task_(detail::shared_ref ref, std::chrono::steady_clock::time_point deadline) {
  detail::event_state& s = *ref.object<detail::event_state>();
  const std::uint32_t seen = s.word.load(std::memory_order_acquire);
  if (seen & detail::event_state::set_bit) co_return true;
  auto wait = [ref, seen, deadline](const detail::wait_token& token, weft::clock::time_point slice_end) {
    return detail::wait_for_set(*ref.object<detail::event_state>(), seen, &token, std::min(slice_end, deadline));
  };
  auto undo = []() noexcept {};  // a wait takes nothing: nothing to give back
  for (;;) {
    if (co_await detail::wait_on_pool(wait, undo)) co_return true;
    if (weft::clock::now() >= deadline) co_return detail::signalled(s.word.load(std::memory_order_acquire), seen);
  }
}

weft::task<void> event::wait_forever_task_(detail::shared_ref ref) {
  co_await wait_task_(std::move(ref), weft::clock::time_point::max());
}

weft::task<void> event::wait() const {
  state();  // an empty handle throws here, not inside the task
  return wait_forever_task_(ref_);
}

weft::task<bool> event::wait_until_(std::chrono::steady_clock::time_point deadline) const {
  state();
  return wait_task_(ref_, deadline);
}

void event::blocking_wait() const {
  detail::event_state& s = state();
  weft::detail::check_may_block("weft::ipc::event::blocking_wait");
  detail::wait_for_set(s, s.word.load(std::memory_order_acquire), nullptr, weft::clock::time_point::max());
}

bool event::blocking_wait_until_(std::chrono::steady_clock::time_point deadline) const {
  detail::event_state& s = state();
  weft::detail::check_may_block("weft::ipc::event::blocking_wait_for");
  return detail::wait_for_set(s, s.word.load(std::memory_order_acquire), nullptr, deadline);
}

}  // namespace weft::ipc
