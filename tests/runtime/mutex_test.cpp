// weft/runtime/sync/mutex.hpp: exclusion under contention on 2 workers,
// guards and try_lock, FIFO hand-off, plain threads (blocking_lock) and
// tasks sharing one mutex, cancelled and timed-out waiters, a waiter handed
// the lock before its cancel keeping it, unlocking from another thread.
// (blocking_lock refused on a worker: sync_test.cpp.)
//
// Catch2 assertions are not thread-safe: tasks running concurrently on
// several workers record what they saw in atomics or vectors, and the
// assertions run afterwards in one place.
//
// Tests that need waiters queued in a known order run on ONE worker: there,
// a spawned task runs until it suspends in the queue before the spawner
// (which sleeps) goes on, whatever the machine's load. With two workers a
// thread preempted between "spawned" and "queued" reorders them.
#include <atomic>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "sync_support.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft_test::increment;

namespace {

// Lets the other tasks run until `cond` holds (a bounded spin on yields).
template <class Cond>
task<void> yield_until(Cond cond) {
  for (int i = 0; i < 1'000'000 && !cond(); ++i) co_await weft::yield_now();
}

task<long> contended_counter(int tasks, int times) {
  weft::mutex m;
  long counter = 0;
  std::vector<weft::join_handle<void>> hs;
  for (int t = 0; t < tasks; ++t) hs.push_back(weft::spawn(increment(m, counter, times)));
  for (auto& h : hs) co_await h;
  auto g = co_await m.lock();
  co_return counter;
}

}  // namespace

TEST_CASE("mutex: 8 tasks x 100,000 increments on 2 workers lose nothing", "[sync][mutex]") {
  weft::runtime rt{{.workers = 2}};
  CHECK(rt.block_on(contended_counter(8, 100'000)) == 800'000);
}

namespace {
task<void> mutex_basics() {
  weft::mutex m;
  {
    auto g = co_await m.lock();
    CHECK(g.owns_lock());
    CHECK(g.mutex() == &m);
    auto t = m.try_lock();
    CHECK_FALSE(t);
    g.unlock();
    CHECK_FALSE(g.owns_lock());
    auto t2 = m.try_lock();
    CHECK(t2);
  }
  auto t3 = m.try_lock();  // released by the guards' destructors
  CHECK(t3);
  weft::unique_lock<weft::mutex> moved = std::move(t3);
  CHECK(moved);
  CHECK_FALSE(t3);
}

// Tasks queue on a held mutex in a known order and must get it in that order.
task<std::vector<int>> mutex_fifo_order() {
  weft::mutex m;
  std::vector<int> order;
  std::atomic<int> queued{0};
  auto holder = co_await m.lock();
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 5; ++i) {
    hs.push_back(
        weft::spawn([](weft::mutex& m, std::vector<int>& order, std::atomic<int>& queued, int i) -> task<void> {
          queued.fetch_add(1);
          auto g = co_await m.lock();
          order.push_back(i);
        }(m, order, queued, i)));
    // Let task i reach the queue before spawning i + 1.
    co_await yield_until([&] { return queued.load() == i + 1; });
    co_await weft::sleep_for(2ms);
  }
  holder.unlock();
  for (auto& h : hs) co_await h;
  co_return order;
}
}  // namespace

TEST_CASE("mutex: guards, try_lock, FIFO hand-off", "[sync][mutex]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on(mutex_basics());
  CHECK(rt.block_on(mutex_fifo_order()) == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("mutex: plain threads and tasks share it", "[sync][mutex]") {
  weft::runtime rt{{.workers = 2}};
  weft::mutex m;
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        auto g = m.blocking_lock();
        ++counter;
      }
    });
  std::vector<weft::join_handle<void>> hs;
  for (int t = 0; t < 4; ++t) hs.push_back(rt.spawn(increment(m, counter, 20'000)));
  for (auto& th : threads) th.join();
  rt.block_on([](std::vector<weft::join_handle<void>>& hs) -> task<void> {
    for (auto& h : hs) co_await h;
  }(hs));
  CHECK(counter == 6 * 20'000);
}

namespace {
// A waiter cancelled in the queue leaves it and does not take the hand-off
// meant for the next one.
task<void> mutex_cancel_waiter() {
  weft::mutex m;
  auto holder = co_await m.lock();
  std::atomic<bool> second_got_it{false};
  auto first = weft::spawn([](weft::mutex& m) -> task<void> { auto g = co_await m.lock(); }(m));
  co_await weft::sleep_for(5ms);
  auto second = weft::spawn([](weft::mutex& m, std::atomic<bool>& got) -> task<void> {
    auto g = co_await m.lock();
    got = true;
  }(m, second_got_it));
  co_await weft::sleep_for(5ms);
  first.cancel();
  CO_REQUIRE_THROWS_AS(std::move(first), weft::operation_cancelled);
  holder.unlock();
  co_await second;
  CHECK(second_got_it.load());
  auto again = m.try_lock();  // nobody kept it
  CHECK(again);
}

task<void> mutex_lock_with_timeout() {
  weft::mutex m;
  auto holder = co_await m.lock();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, m.lock()), weft::timeout_error);
  holder.unlock();
  auto g = co_await weft::with_timeout(1s, m.lock());
  CHECK(g.owns_lock());
}
}  // namespace

TEST_CASE("mutex: cancelled and timed-out waiters", "[sync][mutex][cancel]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on(mutex_cancel_waiter());
  rt.block_on(mutex_lock_with_timeout());
}

TEST_CASE("mutex: a waiter handed the lock before its cancel keeps it", "[sync][mutex][cancel]") {
  // One worker: unlock() and cancel() both happen before the waiter runs again.
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::mutex m;
    auto holder = co_await m.lock();
    std::vector<int> steps;
    auto h = weft::spawn([](weft::mutex& m, std::vector<int>& steps) -> task<void> {
      auto g = co_await m.lock();
      steps.push_back(1);
      co_await weft::sleep_for(1ms);  // cancelled by now: throws, and the guard unlocks
      steps.push_back(2);
    }(m, steps));
    co_await weft::sleep_for(5ms);  // it waits
    holder.unlock();                // hands the mutex to it
    h.cancel();
    CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
    CHECK(steps == std::vector<int>{1});  // lock() returned normally
    auto again = m.try_lock();
    CHECK(again);
  }());
}

TEST_CASE("mutex: the holder may unlock from another thread", "[sync][mutex]") {
  weft::runtime rt{{.workers = 2}};
  weft::mutex m;
  weft::unique_lock<weft::mutex> g =
      rt.block_on([](weft::mutex& m) -> task<weft::unique_lock<weft::mutex>> { co_return co_await m.lock(); }(m));
  REQUIRE(g.owns_lock());
  auto waiter = rt.spawn([](weft::mutex& m) -> task<int> {
    auto g = co_await m.lock();
    co_return 7;
  }(m));
  std::this_thread::sleep_for(10ms);
  CHECK_FALSE(waiter.is_finished());
  g.unlock();  // from the main thread, which is no worker: hands it to the waiter
  int v = rt.block_on([](weft::join_handle<int> h) -> task<int> { co_return co_await h; }(std::move(waiter)));
  CHECK(v == 7);
  CHECK(m.try_lock());
}
