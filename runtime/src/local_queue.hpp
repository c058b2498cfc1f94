// A worker's bounded run queue: one producer (the owner), many consumers.
//
// The owner pushes at the tail and pops at the head; thieves take half of
// the queue from the head in one claim. The head packs two indexes: `real`
// (next entry to hand out) and `steal` (start of a batch a thief is still
// copying). A thief first advances `real` past its batch, copies, then
// moves `steal` up to `real`; the owner never overwrites slots between
// `steal` and the tail. While a steal is in flight, no other thief starts
// one, and an overflowing owner sends the task to the inject queue instead
// of moving half the queue there.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace weft::detail {

template <std::size_t Capacity>
class local_queue {
  static_assert((Capacity & (Capacity - 1)) == 0, "capacity must be a power of two");
  static constexpr std::uint32_t mask = Capacity - 1;

 public:
  using entry = std::uintptr_t;

  struct push_result {
    bool overflowed = false;  // entries went to `overflow` instead
    bool was_empty = false;   // the queue was empty: sleeping workers may need a nudge
  };

  /// Owner only. Pushes e; if full, moves half the queue plus e into
  /// `overflow(entries, n)`.
  template <class Overflow>
  push_result push_back(entry e, Overflow&& overflow) {
    for (;;) {
      std::uint64_t head = head_.load(std::memory_order_acquire);
      auto [steal, real] = unpack(head);
      std::uint32_t tail = tail_.load(std::memory_order_relaxed);
      if (tail - steal < Capacity) {
        slots_[tail & mask].store(e, std::memory_order_relaxed);
        if (real != tail) {
          tail_.store(tail + 1, std::memory_order_release);
          return {};
        }
        // Empty before: seq_cst, so the pusher may then read the idle
        // count without a fence, and a worker going to sleep (which counts
        // itself idle first, then looks at the queues) cannot miss it.
        // Pushing onto a non-empty queue needs neither: a worker sees the
        // queue non-empty and does not go to sleep.
        tail_.store(tail + 1, std::memory_order_seq_cst);
        return {false, true};
      }
      if (steal != real) {  // a thief is copying: just overflow this one entry
        overflow(&e, 1);
        return {true, false};
      }
      // Claim the oldest half for the inject queue.
      constexpr std::uint32_t half = Capacity / 2;
      std::uint64_t next = pack(real + half, real + half);
      if (!head_.compare_exchange_strong(head, next, std::memory_order_release, std::memory_order_relaxed))
        continue;  // a thief took some; there may be room now
      std::array<entry, half + 1> batch;
      for (std::uint32_t i = 0; i < half; ++i) batch[i] = slots_[(real + i) & mask].load(std::memory_order_relaxed);
      batch[half] = e;
      overflow(batch.data(), half + 1);
      return {true, false};
    }
  }

  /// Owner only.
  entry pop() {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      auto [steal, real] = unpack(head);
      std::uint32_t tail = tail_.load(std::memory_order_relaxed);
      if (real == tail) return 0;
      std::uint32_t next_real = real + 1;
      std::uint64_t next = steal == real ? pack(next_real, next_real) : pack(steal, next_real);
      if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel, std::memory_order_acquire))
        return slots_[real & mask].load(std::memory_order_relaxed);
    }
  }

  /// Owner only: takes every entry at once (one claim) into out, which
  /// has room for Capacity entries; returns how many.
  std::uint32_t take_all(entry* out) {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    for (;;) {
      auto [steal, real] = unpack(head);
      if (steal != real) return 0;  // a thief is copying; try another time
      std::uint32_t tail = tail_.load(std::memory_order_relaxed);
      if (real == tail) return 0;
      if (head_.compare_exchange_weak(head, pack(tail, tail), std::memory_order_acq_rel, std::memory_order_acquire)) {
        for (std::uint32_t i = 0; i < tail - real; ++i)
          out[i] = slots_[(real + i) & mask].load(std::memory_order_relaxed);
        return tail - real;
      }
    }
  }

  /// Thief: moves about half of this queue into `dst` (owned by the
  /// calling thread) and returns one of the stolen entries to run now, or 0.
  entry steal_into(local_queue& dst) {
    std::uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed);
    auto [dst_steal, dst_real] = unpack(dst.head_.load(std::memory_order_acquire));
    (void)dst_real;
    if (dst_tail - dst_steal > Capacity / 2) return 0;  // no room; we have work anyway

    std::uint64_t head = head_.load(std::memory_order_acquire);
    std::uint32_t first, n;
    for (;;) {
      auto [steal, real] = unpack(head);
      if (steal != real) return 0;  // another thief is active
      std::uint32_t tail = tail_.load(std::memory_order_acquire);
      n = tail - real;
      n -= n / 2;
      if (n == 0) return 0;
      std::uint64_t next = pack(steal, real + n);
      if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        first = real;
        break;
      }
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      entry e = slots_[(first + i) & mask].load(std::memory_order_relaxed);
      dst.slots_[(dst_tail + i) & mask].store(e, std::memory_order_relaxed);
    }
    // Release the claimed range: steal catches up with real.
    head = head_.load(std::memory_order_acquire);
    for (;;) {
      auto [steal, real] = unpack(head);
      (void)steal;
      std::uint64_t next = pack(real, real);
      if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel, std::memory_order_acquire)) break;
    }
    // Keep the last stolen entry to run; publish the rest in dst.
    --n;
    entry run_now = dst.slots_[(dst_tail + n) & mask].load(std::memory_order_relaxed);
    if (n) dst.tail_.store(dst_tail + n, std::memory_order_release);
    return run_now;
  }

  /// Approximate length, for any thread.
  std::uint32_t size() const noexcept {
    auto [steal, real] = unpack(head_.load(std::memory_order_acquire));
    (void)steal;
    return tail_.load(std::memory_order_acquire) - real;
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  static std::pair<std::uint32_t, std::uint32_t> unpack(std::uint64_t v) noexcept {
    return {static_cast<std::uint32_t>(v >> 32), static_cast<std::uint32_t>(v)};
  }
  static std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept {
    return (static_cast<std::uint64_t>(steal) << 32) | real;
  }

  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  alignas(64) std::array<std::atomic<entry>, Capacity> slots_{};
};

}  // namespace weft::detail
