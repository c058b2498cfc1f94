// Helpers shared by the tests of what a runtime's shutdown destroys and
// reports (shutdown_test.cpp, runtime_options_test.cpp).
#pragma once

#include <atomic>
#include <chrono>

#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft_test {

/// Frames whose body started (see counted).
inline std::atomic<int> constructed{0};

// Counts frames whose body started (constructed) and whose locals were
// destroyed; a task that never started has nothing to destroy.
struct counted {
  std::atomic<int>* destroyed;
  explicit counted(std::atomic<int>& d) : destroyed(&d) { ++constructed; }
  counted(const counted&) = delete;
  ~counted() { ++*destroyed; }
};

inline weft::task<void> sleeps_forever(std::atomic<int>& destroyed) {
  counted c(destroyed);
  co_await weft::sleep_for(std::chrono::hours(1));
}

inline weft::task<int> quick(int v) { co_return v; }

// Leaves `n` sleepers behind (some may not have started: they count too),
// after joining one task that finishes (it does not count).
inline weft::task<void> leave_sleepers(int n, std::atomic<int>& destroyed) {
  for (int i = 0; i < n; ++i) weft::spawn(sleeps_forever(destroyed)).detach();
  co_await weft::spawn(quick(1));
}

}  // namespace weft_test
