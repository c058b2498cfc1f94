// The process-shared robust lock word (private): what ipc::mutex is, and
// what guards a process_queue's ring.
//
// One 32-bit futex word in the shared heap: 0 when free, else the owner's
// process id, with the top bit set while someone may be asleep on it (so
// an uncontended unlock makes no system call). The owner is a process, not
// a thread: a task may lock on one worker thread and unlock on another.
// A waiter that has slept poll_interval without the word changing asks
// whether the owner is still alive; if it is not, the waiter takes the lock
// over and sets `inconsistent`, which stays set, for every later holder to
// see, until one calls mark_consistent. Pid reuse between an owner's death
// and that check would hide the death; the kernel hands pids out in order,
// so that needs the pid space (4 million by default) to wrap meanwhile.
#pragma once

#include <atomic>
#include <cstdint>

#include "futex.hpp"
#include "weft/runtime/time.hpp"

namespace weft::ipc::detail {

struct mutex_state {
  static constexpr std::uint32_t waiters_bit = 0x80000000u;
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> inconsistent{0};
};

enum class lock_result { acquired, cancelled, timed_out };

/// Takes the lock if it is free or its owner is dead. Never sleeps.
bool robust_try_lock(mutex_state& s) noexcept;
/// Only the uncontended compare-exchange: no system call at all.
bool robust_try_lock_fast(mutex_state& s) noexcept;
/// Waits for the lock until `deadline`, or until `token` (if any) is
/// abandoned.
lock_result robust_lock(mutex_state& s, const wait_token* token, weft::clock::time_point deadline) noexcept;
void robust_unlock(mutex_state& s) noexcept;
/// True if the calling process holds the lock.
bool robust_held_here(const mutex_state& s) noexcept;

}  // namespace weft::ipc::detail
