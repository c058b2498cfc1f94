// weft::mutex and weft::shared_mutex: waiting suspends the task, never the
// worker thread.
#include <weft/weft.hpp>

#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;

// [start mutex]
weft::task<> add(weft::mutex& m, long& total, int times) {
  for (int i = 0; i < times; ++i) {
    auto guard = co_await m.lock();  // a weft::unique_lock<weft::mutex>
    long seen = total;
    co_await weft::yield_now();  // other tasks run meanwhile, but none gets in here
    total = seen + 1;
  }  // unlocked as the guard goes
}

weft::task<> counter() {
  weft::mutex m;
  long total = 0;
  std::vector<weft::task<>> adders;
  for (int i = 0; i < 8; ++i) adders.push_back(add(m, total, 100));
  co_await weft::when_all(std::move(adders));  // eight tasks, on every worker
  CHECK(total == 800);                         // no update lost
}
// [end mutex]

weft::task<> try_and_timeout() {
  // [start try]
  weft::mutex m;
  auto guard = co_await m.lock();
  CHECK(!m.try_lock());  // held: try_lock() returns a guard that owns nothing
  try {
    auto never = co_await weft::with_timeout(10ms, m.lock());  // a waiter that gives up leaves the queue
    CHECK(false);
  } catch (const weft::timeout_error&) {
  }
  guard.unlock();
  if (auto g = m.try_lock()) {
    // free again: g owns it until the end of this block
  } else {
    CHECK(false);
  }
  // [end try]
}

weft::task<> readers_writer() {
  // [start shared]
  weft::shared_mutex table;
  {
    auto r1 = co_await table.lock_shared();  // many readers at once...
    auto r2 = co_await table.lock_shared();
    CHECK(!table.try_lock());  // ...but no writer meanwhile
  }
  auto w = co_await table.lock();  // one writer: a weft::unique_lock<weft::shared_mutex>
  CHECK(!table.try_lock_shared());
  // [end shared]
}

int main() {
  weft::run(counter());
  weft::run(try_and_timeout());
  weft::run(readers_writer());
}
