#include "weft/ipc/barrier.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "futex.hpp"
#include "pool_wait.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/time.hpp"

namespace weft::ipc {

namespace detail {

// Everything a round's outcome depends on is one 64-bit word, changed by
// compare-exchange only, so a process killed anywhere leaves it whole:
//
//   bits  0..15  arrivals in the current round (always < parties)
//   bits 16..31  the round (generation), modulo 2^16
//   bit  32      broken (the current round, until reset())
//   bits 33..35  why it broke (a cause, below)
//   bits 36..63  how the last 28 rounds ended, newest in bit 36: 0 filled,
//                1 ended by reset()
//
// A waiter remembers its round; once the round number moves on, the
// history says whether its round filled or was reset, however late the
// waiter looks (up to 28 rounds late). `seq` is the futex word waiters
// sleep on: every change they wait for (a round filling, the barrier
// breaking, a reset) adds one to it and wakes them all. `slots` follow the
// state, one per arrival index: the round and the process id of the party
// that took that index, which waiters look at now and then to notice a
// party that died waiting.
struct barrier_state {
  std::atomic<std::uint64_t> word{0};
  std::atomic<std::uint32_t> seq{0};
  std::uint32_t parties = 0;
  std::atomic<std::uint32_t> dead_pid{0};  // for the message, when a death broke it

  std::atomic<std::uint64_t>* slots() noexcept { return reinterpret_cast<std::atomic<std::uint64_t>*>(this + 1); }
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the barrier's word must be lock-free to be shared");
static_assert(sizeof(barrier_state) % alignof(std::atomic<std::uint64_t>) == 0);

namespace {

enum class cause : std::uint64_t { none = 0, aborted, timed_out, cancelled, died };

constexpr std::uint64_t count_mask = 0xffff;
constexpr int gen_shift = 16;
constexpr std::uint64_t broken_bit = std::uint64_t{1} << 32;
constexpr int cause_shift = 33;
constexpr int history_shift = 36;
constexpr int history_rounds = 28;

std::uint32_t count_of(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w & count_mask); }
std::uint32_t gen_of(std::uint64_t w) noexcept { return static_cast<std::uint32_t>((w >> gen_shift) & 0xffff); }
bool broken_in(std::uint64_t w) noexcept { return (w & broken_bit) != 0; }
cause cause_of(std::uint64_t w) noexcept { return static_cast<cause>((w >> cause_shift) & 7); }

// The word of a new round after `w`'s, ended by a fill (0) or a reset (1).
std::uint64_t next_round(std::uint64_t w, std::uint64_t reset) noexcept {
  const std::uint64_t gen = (gen_of(w) + 1u) & 0xffff;
  const std::uint64_t history = ((w >> history_shift) << 1 | reset) & ((std::uint64_t{1} << history_rounds) - 1);
  return gen << gen_shift | history << history_shift;
}

void announce(barrier_state& s) noexcept {
  s.seq.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(s.seq, INT_MAX);
}

std::string ms_text(long double ms) {
  if (!(ms < 1e15L)) return "a very long time";
  char buf[64];
  if (ms >= 1 || ms <= 0) std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(std::llround(ms)));
  else std::snprintf(buf, sizeof buf, "%.3Lf ms", ms);
  return buf;
}

enum class outcome { waiting, passed, broken };

struct reading {
  outcome o;
  std::string why;  // when broken
};

std::string why_broken(const barrier_state& s, cause c) {
  switch (c) {
    case cause::aborted: return "abort() was called";
    case cause::timed_out: return "a party timed out waiting";
    case cause::cancelled: return "a party's wait was cancelled";
    case cause::died:
      return "party process " + std::to_string(s.dead_pid.load(std::memory_order_relaxed)) + " died while it waited";
    case cause::none: break;
  }
  return "broken";
}

// What the word `w` says of round `gen`.
outcome outcome_of(std::uint64_t w, std::uint32_t gen) noexcept {
  if (gen_of(w) == gen) return broken_in(w) ? outcome::broken : outcome::waiting;
  const std::uint32_t late = (gen_of(w) - gen) & 0xffff;  // rounds since ours, ours included
  if (late > history_rounds) return outcome::broken;      // cannot tell any more: do not claim it filled
  return (w >> (history_shift + late - 1)) & 1 ? outcome::broken : outcome::passed;
}

std::string why_of(const barrier_state& s, std::uint64_t w, std::uint32_t gen) {
  if (gen_of(w) == gen) return why_broken(s, cause_of(w));
  const std::uint32_t late = (gen_of(w) - gen) & 0xffff;
  if (late > history_rounds) return "more than 28 rounds passed before this party looked";
  return "reset() was called while it waited";
}

// Breaks round `gen` unless it is over or broken already. True if this
// call broke it.
bool break_round(barrier_state& s, std::uint32_t gen, cause c, std::uint32_t pid = 0) noexcept {
  std::uint64_t w = s.word.load(std::memory_order_acquire);
  for (;;) {
    if (gen_of(w) != gen || broken_in(w)) return false;
    if (c == cause::died) s.dead_pid.store(pid, std::memory_order_relaxed);
    const std::uint64_t nw = w | broken_bit | static_cast<std::uint64_t>(c) << cause_shift;
    if (s.word.compare_exchange_weak(w, nw, std::memory_order_acq_rel, std::memory_order_acquire)) break;
  }
  announce(s);
  return true;
}

struct arrival {
  std::uint32_t index;
  std::uint32_t gen;
  bool last;  // filled the round: nothing to wait for
};

arrival arrive(barrier_state& s, const char* what) {
  const auto me = static_cast<std::uint32_t>(current_pid());
  std::uint64_t w = s.word.load(std::memory_order_acquire);
  for (;;) {
    if (broken_in(w))
      throw broken_barrier(std::string(what) + ": the barrier is broken (" + why_broken(s, cause_of(w)) + ")");
    const std::uint32_t c = count_of(w);
    const std::uint32_t gen = gen_of(w);
    if (c + 1 == s.parties) {
      if (s.word.compare_exchange_weak(w, next_round(w, 0), std::memory_order_acq_rel, std::memory_order_acquire)) {
        announce(s);
        return {c, gen, true};
      }
    } else if (s.word.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      s.slots()[c].store(static_cast<std::uint64_t>(gen) << 32 | me, std::memory_order_release);
      return {c, gen, false};
    }
  }
}

// Looks at a few of the current round's other arrivals (those after
// `index`) and breaks the round if one of their processes is gone.
bool check_parties(barrier_state& s, std::uint64_t w, std::uint32_t index) noexcept {
  const std::uint32_t n = count_of(w);
  const std::uint32_t gen = gen_of(w);
  const auto me = static_cast<std::uint32_t>(current_pid());
  for (std::uint32_t k = 1; k <= std::min<std::uint32_t>(8, n); ++k) {
    const std::uint64_t slot = s.slots()[(index + k) % n].load(std::memory_order_acquire);
    // A slot not written yet this round still names an earlier one: skip it.
    if ((slot >> 32) != gen) continue;
    const auto pid = static_cast<std::uint32_t>(slot & 0xffffffffu);
    if (pid == 0 || pid == me || process_alive(static_cast<pid_t>(pid))) continue;
    return break_round(s, gen, cause::died, pid);
  }
  return false;
}

// Waits until round `a.gen` is over (filled or broken): its outcome, or
// `waiting` at the deadline or once the token is abandoned.
outcome wait_round(barrier_state& s, const arrival& a, const wait_token* token,
                   weft::clock::time_point deadline) noexcept {
  auto last_check = weft::clock::now();
  for (;;) {
    const std::uint32_t q = s.seq.load(std::memory_order_acquire);
    const std::uint64_t w = s.word.load(std::memory_order_acquire);
    const outcome o = outcome_of(w, a.gen);
    if (o != outcome::waiting) return o;
    if (token && token->abandoned_now()) return outcome::waiting;
    const auto now = weft::clock::now();
    if (now >= deadline) return outcome::waiting;
    if (now - last_check >= poll_interval) {
      // Nothing for a whole interval: are the others still there?
      last_check = now;
      if (check_parties(s, w, a.index)) continue;
    }
    futex_wait(s.seq, q, std::min<weft::clock::duration>(poll_interval, deadline - now));
  }
}

}  // namespace
}  // namespace detail

namespace {

detail::barrier_state& state_of(const detail::shared_ref& r) {
  if (!r) throw std::logic_error(detail::no_object_message);
  return *r.object<detail::barrier_state>();
}

// The arrival index if the round filled; broken_barrier if not.
std::uint32_t result_of(detail::barrier_state& s, const detail::arrival& a, const char* what) {
  const std::uint64_t w = s.word.load(std::memory_order_acquire);
  if (detail::outcome_of(w, a.gen) == detail::outcome::passed) return a.index;
  throw broken_barrier(std::string(what) + ": the barrier is broken (" + detail::why_of(s, w, a.gen) + ")");
}

}  // namespace

barrier::barrier(std::uint32_t parties) {
  if (parties == 0 || parties > max_parties)
    throw std::invalid_argument("weft::ipc::barrier: " + std::to_string(parties) + " parties; a barrier takes 1 to " +
                                std::to_string(max_parties));
  const std::size_t size = sizeof(detail::barrier_state) + std::size_t{parties} * sizeof(std::uint64_t);
  ref_ = detail::shared_ref(detail::allocate_block(kind, type_tag(), size, alignof(detail::barrier_state)));
  auto* s = ::new (ref_.object<detail::barrier_state>()) detail::barrier_state{};
  s->parties = parties;
  for (std::uint32_t i = 0; i < parties; ++i) ::new (&s->slots()[i]) std::atomic<std::uint64_t>{~std::uint64_t{0}};
  // Others see the object once the handle is sent, which orders after this.
  s->word.store(0, std::memory_order_release);
}

detail::barrier_state& barrier::state() const { return state_of(ref_); }

weft::task<std::uint32_t> barrier::arrive_task_(detail::shared_ref ref) {
  static constexpr const char* what = "weft::ipc::barrier::arrive_and_wait";
  detail::barrier_state& s = *ref.object<detail::barrier_state>();
  const detail::arrival a = detail::arrive(s, what);
  if (a.last) co_return a.index;
  auto wait = [ref, a](const detail::wait_token& token, weft::clock::time_point deadline) {
    return detail::wait_round(*ref.object<detail::barrier_state>(), a, &token, deadline) != detail::outcome::waiting;
  };
  auto undo = []() noexcept {};  // a wait takes nothing: nothing to give back
  try {
    for (;;)
      if (co_await detail::wait_on_pool(wait, undo)) break;
  } catch (...) {
    // Cancelled (or the pool refused the wait): the arrival cannot be taken
    // back, so the others must not wait for a round that cannot fill.
    detail::break_round(s, a.gen, detail::cause::cancelled);
    throw;
  }
  co_return result_of(s, a, what);
}

weft::task<std::uint32_t> barrier::arrive_and_wait() const {
  state();  // an empty handle throws here, not inside the task
  return arrive_task_(ref_);
}

std::uint32_t barrier::blocking_arrive_and_wait() const {
  static constexpr const char* what = "weft::ipc::barrier::blocking_arrive_and_wait";
  detail::barrier_state& s = state();
  weft::detail::check_may_block(what);
  const detail::arrival a = detail::arrive(s, what);
  if (a.last) return a.index;
  detail::wait_round(s, a, nullptr, weft::clock::time_point::max());
  return result_of(s, a, what);
}

std::uint32_t barrier::blocking_wait_until_(std::chrono::steady_clock::time_point deadline,
                                            long double timeout_ms) const {
  static constexpr const char* what = "weft::ipc::barrier::blocking_wait_for";
  detail::barrier_state& s = state();
  weft::detail::check_may_block(what);
  const detail::arrival a = detail::arrive(s, what);
  if (a.last) return a.index;
  if (detail::wait_round(s, a, nullptr, deadline) == detail::outcome::waiting &&
      detail::break_round(s, a.gen, detail::cause::timed_out))
    throw broken_barrier(std::string(what) + ": timed out after " + detail::ms_text(timeout_ms) +
                         "; the barrier is now broken");
  // Filled, or broken by another, meanwhile.
  return result_of(s, a, what);
}

void barrier::abort() const {
  detail::barrier_state& s = state();
  std::uint64_t w = s.word.load(std::memory_order_acquire);
  for (;;) {
    if (detail::broken_in(w)) return;
    const std::uint64_t nw =
        w | detail::broken_bit | static_cast<std::uint64_t>(detail::cause::aborted) << detail::cause_shift;
    if (s.word.compare_exchange_weak(w, nw, std::memory_order_acq_rel, std::memory_order_acquire)) break;
  }
  detail::announce(s);
}

void barrier::reset() const {
  detail::barrier_state& s = state();
  std::uint64_t w = s.word.load(std::memory_order_acquire);
  for (;;) {
    if (detail::count_of(w) == 0 && !detail::broken_in(w)) return;  // empty and whole already
    if (s.word.compare_exchange_weak(w, detail::next_round(w, 1), std::memory_order_acq_rel, std::memory_order_acquire))
      break;
  }
  detail::announce(s);
}

std::uint32_t barrier::parties() const { return state().parties; }

std::uint32_t barrier::n_waiting() const {
  const std::uint64_t w = state().word.load(std::memory_order_acquire);
  return detail::broken_in(w) ? 0 : detail::count_of(w);
}

bool barrier::broken() const { return detail::broken_in(state().word.load(std::memory_order_acquire)); }

}  // namespace weft::ipc
