// Helpers shared by the tests of when_all, when_any and task_scope
// (when_all_test.cpp, when_any_test.cpp, task_scope_test.cpp,
// structured_test.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "weft/runtime/errors.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft_test {

inline weft::task<int> after(std::chrono::milliseconds d, int v) {
  co_await weft::sleep_for(d);
  co_return v;
}

inline weft::task<int> fail_after(std::chrono::milliseconds d, const char* msg) {
  co_await weft::sleep_for(d);
  throw std::runtime_error(msg);
}

// Counts how it ended: finished, or cancelled.
inline weft::task<void> tracked(std::chrono::milliseconds d, std::atomic<int>& finished, std::atomic<int>& cancelled) {
  try {
    co_await weft::sleep_for(d);
    ++finished;
  } catch (const weft::operation_cancelled&) {
    ++cancelled;
    throw;
  }
}

}  // namespace weft_test
