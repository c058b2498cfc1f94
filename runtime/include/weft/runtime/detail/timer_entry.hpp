// An entry in a worker's timer wheel. It lives inside the awaiter that
// armed it; the wheel links it intrusively, so arming a timer allocates
// nothing.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

class timer_wheel;

struct timer_entry {
  timer_entry* prev = nullptr;
  timer_entry* next = nullptr;
  std::uint64_t deadline = 0;  // in wheel ticks (milliseconds since its start)
  timer_wheel* wheel = nullptr;
  /// Runs on the wheel's worker when the deadline passes; must not resume
  /// a task inline. The wheel does not touch the entry after calling it.
  void (*fire)(timer_entry*) noexcept = nullptr;
  std::atomic<std::uint8_t> state{idle};
  std::uint8_t level = 0;  // where the wheel filed it
  std::uint8_t slot = 0;

  static constexpr std::uint8_t idle = 0, linked = 1, fired = 2;
};

}  // namespace weft::detail
