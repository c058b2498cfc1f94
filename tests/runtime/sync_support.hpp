// Helpers shared by the tests of the sync primitives (mutex_test.cpp,
// sync_test.cpp).
#pragma once

#include "weft/runtime/sync/mutex.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/yield.hpp"

namespace weft_test {

/// Increments `counter` `times` times under `m`, with a read-modify-write
/// that races without the lock, sometimes holding the lock across a
/// suspension.
inline weft::task<void> increment(weft::mutex& m, long& counter, int times) {
  for (int i = 0; i < times; ++i) {
    auto guard = co_await m.lock();
    long v = counter;                             // a read-modify-write that races without the lock
    if (i % 64 == 0) co_await weft::yield_now();  // sometimes hold it across a suspension
    counter = v + 1;
  }
}

}  // namespace weft_test
