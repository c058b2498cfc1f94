// Waiting across processes (private): futex calls on words in the shared
// heap, and telling whether a process is still alive.
//
// The futex calls never use FUTEX_PRIVATE_FLAG: a private futex is keyed
// by the waiter's address space, so a wake from another process would
// never reach it (the trap std::mutex and std::atomic::wait fall into on
// shared memory). Every wait is bounded (poll_interval), so a waiter
// notices a dead owner, a cancellation or a deadline even when no wake
// comes.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace weft::ipc::detail {

/// The longest a waiter sleeps before it looks around again.
inline constexpr std::chrono::milliseconds poll_interval{50};

/// Sleeps while *word == expected, at most `timeout`, or until woken.
/// Returns at once if *word != expected. Spurious returns are possible.
void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept;
/// Spins briefly (a few microseconds) while *word == expected: locks and
/// queue slots are held for microseconds, and a wait that ends during the
/// spin costs no system call on either side. True if the word changed.
bool spin_while_equal(const std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept;
/// Wakes up to n waiters of `word` in any process.
void futex_wake(const std::atomic<std::uint32_t>& word, int n) noexcept;

/// False once `pid` has exited (a zombie counts as exited) or never existed.
bool process_alive(pid_t pid) noexcept;

/// What a wait on the blocking pool watches to know that the task waiting
/// for it gave up (see pool_wait.hpp); nullptr when nobody can give up.
struct wait_token {
  enum : int { waiting, claimed, abandoned };
  std::atomic<int> state{waiting};
  bool abandoned_now() const noexcept { return state.load(std::memory_order_acquire) == abandoned; }
};

}  // namespace weft::ipc::detail
