#include "timer_wheel.hpp"

#include <bit>
#include <vector>

namespace weft::detail {

namespace {
constexpr std::uint64_t slot_mask = timer_wheel::slots - 1;
// The largest deadline the wheel can hold relative to its current time.
constexpr std::uint64_t max_span = (std::uint64_t{1} << (6 * timer_wheel::levels)) - 1;
}  // namespace

std::uint64_t timer_wheel::tick_for(clock::time_point tp) const noexcept {
  if (tp <= origin_) return 0;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(tp - origin_).count();
  return static_cast<std::uint64_t>(ns / 1'000'000 + (ns % 1'000'000 != 0));  // round up, no overflow
}

std::uint64_t timer_wheel::now_tick() const noexcept {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - origin_).count();
  return ns < 0 ? 0 : static_cast<std::uint64_t>(ns / 1'000'000);
}

int timer_wheel::level_for(std::uint64_t elapsed, std::uint64_t when) noexcept {
  std::uint64_t masked = (elapsed ^ when) | slot_mask;
  if (masked >= max_span) masked = max_span - 1;
  int significant = 63 - std::countl_zero(masked);
  return significant / 6;
}

void timer_wheel::link(timer_entry* e) noexcept {
  // File it by its deadline, or, beyond the wheel's span, at the far end:
  // it is re-filed from there, and fires only once its real deadline came.
  std::uint64_t key = e->deadline < elapsed_ ? elapsed_ : e->deadline;
  if (key - elapsed_ > max_span - 1) key = elapsed_ + max_span - 1;
  int level = level_for(elapsed_, key);
  int slot = static_cast<int>((key >> (6 * level)) & slot_mask);
  e->level = static_cast<std::uint8_t>(level);
  e->slot = static_cast<std::uint8_t>(slot);
  timer_entry*& head = heads_[level][slot];
  e->prev = nullptr;
  e->next = head;
  if (head) head->prev = e;
  head = e;
  occupied_[level] |= std::uint64_t{1} << slot;
}

void timer_wheel::unlink(timer_entry* e) noexcept {
  const int level = e->level;
  const int slot = e->slot;
  if (e->prev) e->prev->next = e->next;
  else heads_[level][slot] = e->next;
  if (e->next) e->next->prev = e->prev;
  if (!heads_[level][slot]) occupied_[level] &= ~(std::uint64_t{1} << slot);
  e->prev = e->next = nullptr;
}

void timer_wheel::insert(timer_entry* e) {
  std::lock_guard lock(mu_);
  e->wheel = this;
  e->state.store(timer_entry::linked, std::memory_order_release);
  link(e);
  ++count_;
}

bool timer_wheel::remove(timer_entry* e) noexcept {
  {
    std::lock_guard lock(mu_);
    if (e->state.load(std::memory_order_relaxed) == timer_entry::linked) {
      unlink(e);
      --count_;
      e->state.store(timer_entry::idle, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

std::optional<timer_wheel::slot_ref> timer_wheel::next_slot() const noexcept {
  for (int level = 0; level < levels; ++level) {
    if (!occupied_[level]) continue;
    const std::uint64_t slot_range = std::uint64_t{1} << (6 * level);
    const std::uint64_t level_range = slot_range << 6;
    const int now_slot = static_cast<int>((elapsed_ >> (6 * level)) & slot_mask);
    // Rotate so bit 0 is where the search starts; the first set bit is the
    // next slot. The top level starts after the current slot: an entry in
    // the current top-level slot belongs to the next lap, after all others.
    const int from = level == levels - 1 ? (now_slot + 1) % slots : now_slot;
    std::uint64_t rotated = std::rotr(occupied_[level], from);
    int slot = (from + std::countr_zero(rotated)) % slots;
    std::uint64_t level_start = elapsed_ & ~(level_range - 1);
    std::uint64_t deadline = level_start + static_cast<std::uint64_t>(slot) * slot_range;
    // Only the top level wraps: an entry there in a slot at or before the
    // current one belongs to the next lap of the wheel.
    if (level == levels - 1 && slot <= now_slot) deadline += level_range;
    return slot_ref{level, slot, deadline};
  }
  return std::nullopt;
}

std::optional<std::uint64_t> timer_wheel::next_expiry() const {
  std::lock_guard lock(mu_);
  auto s = next_slot();
  if (!s) return std::nullopt;
  // A level-0 slot is exact; a higher one is a lower bound (its entries get
  // re-filed when reached, which is when we wake up anyway).
  return s->deadline < elapsed_ ? elapsed_ : s->deadline;
}

std::size_t timer_wheel::advance(std::uint64_t now) {
  std::vector<timer_entry*> due;
  {
    std::lock_guard lock(mu_);
    for (;;) {
      auto s = next_slot();
      if (!s || s->deadline > now) break;
      if (s->deadline > elapsed_) elapsed_ = s->deadline;
      timer_entry* e = heads_[s->level][s->slot];
      heads_[s->level][s->slot] = nullptr;
      occupied_[s->level] &= ~(std::uint64_t{1} << s->slot);
      while (e) {
        timer_entry* next = e->next;
        e->prev = e->next = nullptr;
        // Only a level-0 slot is one exact tick; a higher slot's entries
        // are re-filed lower, so entries due in one big jump still fire in
        // deadline order.
        if (s->level == 0 && e->deadline <= now) {
          // Marked before fire() runs: fire may end the entry's life
          // (a woken task can finish and free it), so the wheel never
          // touches an entry again once it has fired it.
          e->state.store(timer_entry::fired, std::memory_order_release);
          due.push_back(e);
          --count_;
        } else {
          link(e);  // re-file at a lower level
        }
        e = next;
      }
    }
    if (now > elapsed_) elapsed_ = now;
  }
  // Counted before firing, so anyone who sees a woken task sees the count.
  fired_total_.fetch_add(due.size(), std::memory_order_relaxed);
  for (timer_entry* e : due) e->fire(e);
  return due.size();
}

void timer_wheel::clear() noexcept {
  std::lock_guard lock(mu_);
  for (int level = 0; level < levels; ++level)
    for (int slot = 0; slot < slots; ++slot) {
      for (timer_entry* e = heads_[level][slot]; e;) {
        timer_entry* next = e->next;
        e->prev = e->next = nullptr;
        e->state.store(timer_entry::idle, std::memory_order_relaxed);
        e = next;
      }
      heads_[level][slot] = nullptr;
    }
  occupied_ = {};
  count_.store(0, std::memory_order_relaxed);
}

}  // namespace weft::detail
