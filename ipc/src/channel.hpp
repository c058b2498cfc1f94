// The memory a parent and one worker process share: one memfd mapping per
// worker, laid out as
//
//   [control page][request ring][result ring][request arena][result arena]
//
// Each ring is single-producer single-consumer (the parent produces
// requests, the worker results), so a producer that dies can never leave a
// half-claimed slot behind for someone else: a dead worker's mapping is
// simply dropped and its replacement gets a fresh one.
//
// A slot is cache-line aligned and carries a sequence number: slot i of a
// ring is published when its seq becomes i + 1 (release), and read by the
// consumer when it sees that value (acquire). Payloads that fit the slot
// travel inline; larger ones go through the direction's arena, a byte ring
// whose head the producer advances and whose tail the consumer advances
// (in order, since both sides handle slots in order). When the arena is
// empty the producer starts again at offset 0, so the pages a pool touches
// stay those of its largest payloads.
//
// Wake-ups: a consumer that finds its ring empty spins briefly, then says
// it sleeps (a flag) and waits: the worker on a futex word in this mapping
// (shared, not FUTEX_PRIVATE: the waker is another process), the parent on
// the pool's eventfd through its runtime's driver. A producer signals only
// when the flag is set, so a ring that keeps both sides busy costs no
// system call per task.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft::ipc::detail {

inline constexpr std::size_t cache_line = 64;
inline constexpr std::uint32_t ring_slots = 64;  // a power of two
inline constexpr std::size_t slot_size = 256;
inline constexpr std::size_t page_size = 4096;
inline constexpr std::uint64_t inline_payload = ~std::uint64_t{0};
inline constexpr std::size_t max_start_hooks = 8;

enum class request_kind : std::uint32_t { call = 1, stop = 2 };
enum class result_kind : std::uint32_t { ok = 1, error = 2, skipped = 3 };

struct slot_header {
  std::atomic<std::uint64_t> seq;     // index + 1 once published
  std::atomic<std::uint32_t> cancel;  // requests: the parent asks the worker to skip it
  std::uint32_t kind;                 // request_kind or result_kind
  std::uint64_t invoker;              // requests: the invoker's address
  std::uint64_t fn;                   // requests: the function pointer, if any; results: the call's ns (0: not timed)
  std::uint64_t size;                 // payload bytes
  std::uint64_t arena_offset;         // inline_payload, or where it lies in the arena
  std::uint64_t arena_end;            // the arena head after this payload (the consumer's new tail)
};

struct alignas(cache_line) slot {
  slot_header h;
  std::byte data[slot_size - sizeof(slot_header)];
};
static_assert(sizeof(slot) == slot_size);
inline constexpr std::size_t slot_capacity = sizeof(slot::data);

/// The first page of the mapping.
struct control {
  // Written by the worker.
  alignas(cache_line) std::atomic<std::uint64_t> requests_taken;  // requests the worker took (started)
  std::atomic<std::uint64_t> request_arena_tail;                  // request arena bytes released
  std::atomic<std::uint32_t> worker_sleeping;
  std::atomic<std::uint32_t> init_failed;  // the initializer threw (message below)
  std::atomic<std::uint32_t> args_taken;   // one_shot: the call's arguments are decoded (a futex word)
  // Written by the parent.
  alignas(cache_line) std::atomic<std::uint32_t> doorbell;  // the worker's futex word
  std::atomic<std::uint32_t> parent_sleeping;               // the worker writes the eventfd if set
  std::atomic<std::uint64_t> result_arena_tail;             // result arena bytes released
  // Written by the fork server once it has reaped the worker.
  alignas(cache_line) std::atomic<std::uint32_t> exited;
  std::atomic<std::int32_t> exit_status;
  // Fixed at creation.
  alignas(cache_line) std::uint64_t arena_size;
  std::uint64_t initializer;                // void (*)(), or 0
  std::uint64_t at_start[max_start_hooks];  // void (*)() hooks of weft::ipc::at_worker_start, run first (0: none)
  std::uint32_t one_shot;                   // a weft::ipc::process: one call, then exit 0 (1 if it threw)
  char init_error[2048];
};
static_assert(sizeof(control) <= page_size);

/// Where everything lies in a mapping with the given arena size.
struct layout {
  std::uint64_t arena_size;
  static constexpr std::size_t requests_offset = page_size;
  static constexpr std::size_t results_offset = page_size + ring_slots * slot_size;
  std::size_t request_arena_offset() const noexcept { return results_offset + ring_slots * slot_size; }
  std::size_t result_arena_offset() const noexcept { return request_arena_offset() + arena_size; }
  std::size_t total() const noexcept { return result_arena_offset() + arena_size; }
};

/// A view of one mapping.
struct channel_view {
  std::byte* base = nullptr;
  std::uint64_t arena_size = 0;

  control& ctl() const noexcept { return *reinterpret_cast<control*>(base); }
  slot& request(std::uint64_t i) const noexcept {
    return reinterpret_cast<slot*>(base + layout::requests_offset)[i % ring_slots];
  }
  slot& result(std::uint64_t i) const noexcept {
    return reinterpret_cast<slot*>(base + layout::results_offset)[i % ring_slots];
  }
  std::byte* request_arena() const noexcept { return base + layout{arena_size}.request_arena_offset(); }
  std::byte* result_arena() const noexcept { return base + layout{arena_size}.result_arena_offset(); }
};

/// The producer's side of an arena: where the next payload of n bytes goes,
/// or false if it does not fit now (tail: what the consumer released).
/// Payloads are contiguous: one that does not fit before the end starts
/// again at offset 0.
struct arena_cursor {
  std::uint64_t head = 0;  // bytes ever allocated, wasted ends included

  bool allocate(std::uint64_t capacity, std::uint64_t tail, std::uint64_t n, std::uint64_t& offset,
                std::uint64_t& end) noexcept {
    std::uint64_t pos = head;
    if (pos == tail && pos % capacity != 0) {
      // Empty: start again at offset 0. The consumer released everything,
      // so the skipped end holds nothing of value: count from here.
      pos += capacity - pos % capacity;
      tail = pos;
    }
    std::uint64_t off = pos % capacity;
    if (off + n > capacity) {
      pos += capacity - off;
      off = 0;
    }
    if (n > capacity || pos + n - tail > capacity) return false;
    offset = off;
    end = head = pos + n;
    return true;
  }
};

/// How long a side that finds its ring empty keeps looking before it
/// sleeps. Waking a sleeper costs more than 100 us on some machines (a
/// futex wake, then the eventfd through the parent's driver), so a fixed
/// short window makes a caller that awaits one call at a time pay it every
/// time: both sides fall asleep just before the other answers. The window
/// doubles (to 500 us) when a sleep turns out short, and halves when
/// sleeps are long, so sparse work costs little spinning.
class spin_budget {
 public:
  using ns = std::chrono::nanoseconds;
  ns window() const noexcept { return window_; }
  /// Work woke us after sleeping this long.
  void woke_after(ns slept) noexcept {
    if (slept < window_ * 8) window_ = std::min<ns>(window_ * 2, max_window);
    else if (slept > std::chrono::milliseconds(20)) window_ = std::max<ns>(window_ / 2, min_window);
  }

 private:
  static constexpr ns min_window = std::chrono::microseconds(50);
  static constexpr ns max_window = std::chrono::microseconds(500);
  ns window_ = std::chrono::microseconds(100);
};

/// Whether spinning can pay at all: not when this process may run on one
/// CPU only (taskset, a cpuset), where the other side needs that very CPU
/// to produce what the spinner waits for. Looked up once per process.
bool spinning_pays() noexcept;

/// A few hundred nanoseconds of nothing, politely (the sibling hyperthread
/// gets the core).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace weft::ipc::detail
