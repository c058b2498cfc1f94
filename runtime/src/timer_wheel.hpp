// A hierarchical timer wheel: 6 levels of 64 slots at 1 ms resolution
// (level l slots are 64^l ms wide; the wheel spans 2^36 ms, about two
// years; a later deadline waits at the far end and is re-filed from there).
//
// An entry sits at the level where its deadline first differs from the
// wheel's current time, so every entry of a lower level expires before any
// entry of a higher one; reaching a higher-level slot re-files its entries
// further down. Insert and remove are O(1); finding the next expiry is a
// scan of 6 occupancy bitmaps. The worker that owns the wheel advances it
// and sleeps until next_expiry(); any thread may remove (cancel) an entry.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "weft/runtime/detail/timer_entry.hpp"

namespace weft::detail {

class timer_wheel {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr int levels = 6;
  static constexpr int slots = 64;

  explicit timer_wheel(clock::time_point origin = clock::now()) : origin_(origin) {}
  timer_wheel(const timer_wheel&) = delete;
  ~timer_wheel() { clear(); }

  /// The first tick at or after tp (never early).
  std::uint64_t tick_for(clock::time_point tp) const noexcept;
  clock::time_point time_of(std::uint64_t tick) const noexcept { return origin_ + std::chrono::milliseconds(tick); }
  std::uint64_t now_tick() const noexcept;

  /// Arms e (its deadline and fire must be set). Owner thread only.
  void insert(timer_entry* e);
  /// Disarms e. True if it was removed before firing; false if it was not
  /// armed or has been fired (its fire() may still be running: an owner
  /// that must outlive fire() waits for a signal of its own).
  bool remove(timer_entry* e) noexcept;

  /// Fires every entry due at tick `now`. Owner thread only. Returns the
  /// number fired.
  std::size_t advance(std::uint64_t now);
  /// The earliest tick with an armed entry.
  std::optional<std::uint64_t> next_expiry() const;

  /// Armed entries (any thread; exact only on the owner thread).
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }
  /// Entries fired so far (any thread).
  std::uint64_t fired_total() const noexcept { return fired_total_.load(std::memory_order_relaxed); }
  /// Unlinks every entry without firing it (runtime shutdown).
  void clear() noexcept;

 private:
  struct slot_ref {
    int level;
    int slot;
    std::uint64_t deadline;
  };
  static int level_for(std::uint64_t elapsed, std::uint64_t when) noexcept;
  void link(timer_entry* e) noexcept;
  void unlink(timer_entry* e) noexcept;
  std::optional<slot_ref> next_slot() const noexcept;

  clock::time_point origin_;
  mutable std::mutex mu_;
  std::uint64_t elapsed_ = 0;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::uint64_t> fired_total_{0};
  std::array<std::uint64_t, levels> occupied_{};
  std::array<std::array<timer_entry*, slots>, levels> heads_{};
};

}  // namespace weft::detail
