// weft/runtime/sync/shared_mutex.hpp: readers share and writers exclude on
// 2 workers, FIFO between readers and writers, a cancelled writer at the
// head of the queue, blocking locks from plain threads (refused on a
// worker), a release granting the head with the readers right behind it,
// cancelled waiters and a waiter granted before its cancel.
//
// Catch2 assertions are not thread-safe: tasks running concurrently on
// several workers record what they saw in atomics or vectors, and the
// assertions run afterwards in one place.
//
// Tests that need waiters queued in a known order run on ONE worker: there,
// a spawned task runs until it suspends in the queue before the spawner
// (which sleeps) goes on, whatever the machine's load. With two workers a
// thread preempted between "spawned" and "queued" reorders them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {
task<void> shared_mutex_readers_and_writers(std::atomic<int>& max_readers, std::atomic<bool>& overlap) {
  weft::shared_mutex m;
  std::atomic<int> readers{0}, writers{0};
  long value = 0;
  auto reader = [&]() -> task<void> {
    for (int i = 0; i < 200; ++i) {
      auto r = co_await m.lock_shared();
      int now = readers.fetch_add(1) + 1;
      int seen = max_readers.load();
      while (now > seen && !max_readers.compare_exchange_weak(seen, now)) {
      }
      if (writers.load()) overlap = true;
      co_await weft::yield_now();
      readers.fetch_sub(1);
    }
  };
  auto writer = [&]() -> task<void> {
    for (int i = 0; i < 200; ++i) {
      auto w = co_await m.lock();
      if (writers.fetch_add(1) != 0 || readers.load()) overlap = true;
      ++value;
      co_await weft::yield_now();
      writers.fetch_sub(1);
    }
  };
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 4; ++i) hs.push_back(weft::spawn(reader()));
  for (int i = 0; i < 2; ++i) hs.push_back(weft::spawn(writer()));
  for (auto& h : hs) co_await h;
  CHECK(value == 400);
}

// A reader arriving while a writer waits queues behind the writer.
task<std::vector<char>> shared_mutex_fifo() {
  weft::shared_mutex m;
  std::vector<char> order;
  auto r1 = co_await m.lock_shared();
  auto w = weft::spawn([](weft::shared_mutex& m, std::vector<char>& order) -> task<void> {
    auto g = co_await m.lock();
    order.push_back('W');
  }(m, order));
  co_await weft::sleep_for(5ms);
  auto r2 = weft::spawn([](weft::shared_mutex& m, std::vector<char>& order) -> task<void> {
    auto g = co_await m.lock_shared();
    order.push_back('R');
  }(m, order));
  co_await weft::sleep_for(5ms);
  auto early = m.try_lock_shared();  // would starve the writer
  CHECK_FALSE(early);
  r1.unlock();
  co_await w;
  co_await r2;
  co_return order;
}

// Cancelling the writer at the head lets the readers queued behind it in.
task<void> shared_mutex_cancel_head_writer() {
  weft::shared_mutex m;
  auto r1 = co_await m.lock_shared();
  auto w = weft::spawn([](weft::shared_mutex& m) -> task<void> { auto g = co_await m.lock(); }(m));
  co_await weft::sleep_for(5ms);
  auto r2 = weft::spawn([](weft::shared_mutex& m) -> task<int> {
    auto g = co_await m.lock_shared();
    co_return 7;
  }(m));
  co_await weft::sleep_for(5ms);
  CHECK_FALSE(r2.is_finished());
  w.cancel();
  CO_REQUIRE_THROWS_AS(std::move(w), weft::operation_cancelled);
  CO_CHECK_EQ(r2, 7);  // while r1 still holds its shared lock
}
}  // namespace

TEST_CASE("shared_mutex: readers share, writers exclude, FIFO between kinds", "[sync][shared_mutex]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> max_readers{0};
  std::atomic<bool> overlap{false};
  rt.block_on(shared_mutex_readers_and_writers(max_readers, overlap));
  CHECK_FALSE(overlap.load());
  CHECK(max_readers.load() >= 1);
  weft::runtime one{{.workers = 1}};
  CHECK(one.block_on(shared_mutex_fifo()) == std::vector<char>{'W', 'R'});
  one.block_on(shared_mutex_cancel_head_writer());
}

TEST_CASE("shared_mutex: blocking locks from plain threads", "[sync][shared_mutex]") {
  weft::shared_mutex m;
  int value = 0;
  {
    auto r1 = m.blocking_lock_shared();
    auto r2 = m.blocking_lock_shared();  // readers share
    CHECK_FALSE(m.try_lock());
  }
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 5'000; ++i) {
        auto w = m.blocking_lock();
        ++value;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(value == 20'000);
}

TEST_CASE("shared_mutex: a release grants the longest waiter with the readers queued right behind it",
          "[sync][shared_mutex]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::shared_mutex m;
    weft::event done_reading;
    std::vector<std::string> order;
    auto reader = [](weft::shared_mutex& m, weft::event& done, std::vector<std::string>& order,
                     std::string name) -> task<void> {
      auto g = co_await m.lock_shared();
      order.push_back(name);
      co_await done.wait();  // holds the shared lock until then
    };
    auto writer = [](weft::shared_mutex& m, std::vector<std::string>& order, std::string name) -> task<void> {
      auto g = co_await m.lock();
      order.push_back(name);
    };
    auto w1 = co_await m.lock();
    std::vector<weft::join_handle<void>> hs;
    // Queued in this order behind w1: R1 R2 W2 R3.
    hs.push_back(weft::spawn(reader(m, done_reading, order, "R1")));
    co_await weft::sleep_for(2ms);
    hs.push_back(weft::spawn(reader(m, done_reading, order, "R2")));
    co_await weft::sleep_for(2ms);
    hs.push_back(weft::spawn(writer(m, order, "W2")));
    co_await weft::sleep_for(2ms);
    hs.push_back(weft::spawn(reader(m, done_reading, order, "R3")));
    co_await weft::sleep_for(2ms);
    CHECK(order.empty());
    w1.unlock();  // R1 and R2 together; W2 waits for them, R3 behind W2
    co_await weft::sleep_for(5ms);
    // Both granted at once (in which order the worker then runs them is
    // the scheduler's business).
    std::sort(order.begin(), order.end());
    CHECK(order == std::vector<std::string>{"R1", "R2"});
    CHECK_FALSE(m.try_lock_shared());  // a newcomer queues behind W2 too
    done_reading.set();
    for (auto& h : hs) co_await h;
    REQUIRE(order.size() == 4);
    CHECK(std::vector<std::string>(order.begin() + 2, order.end()) == std::vector<std::string>{"W2", "R3"});
  }());
}

TEST_CASE("shared_mutex: cancelled waiters leave, one granted before its cancel keeps the lock",
          "[sync][shared_mutex][cancel]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::shared_mutex m;
    auto w = co_await m.lock();
    auto reader = weft::spawn([](weft::shared_mutex& m) -> task<void> { auto g = co_await m.lock_shared(); }(m));
    auto writer = weft::spawn([](weft::shared_mutex& m) -> task<void> { auto g = co_await m.lock(); }(m));
    co_await weft::sleep_for(5ms);
    reader.cancel();
    writer.cancel();
    CO_REQUIRE_THROWS_AS(std::move(reader), weft::operation_cancelled);
    CO_REQUIRE_THROWS_AS(std::move(writer), weft::operation_cancelled);

    // Granted first (by the unlock), cancelled second: lock_shared() returns normally.
    auto granted = weft::spawn([](weft::shared_mutex& m) -> task<bool> {
      auto g = co_await m.lock_shared();
      co_return g.owns_lock();
    }(m));
    co_await weft::sleep_for(5ms);
    w.unlock();
    granted.cancel();
    bool owned = co_await granted;
    CHECK(owned);
    // Nobody holds it now: the cancelled waiters left nothing behind.
    auto free = m.try_lock();
    CHECK(free);
  }());
}

TEST_CASE("shared_mutex: blocking locks are refused on a worker thread", "[sync][shared_mutex]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::shared_mutex m;
    CHECK_THROWS_AS(m.blocking_lock(), std::logic_error);
    CHECK_THROWS_AS(m.blocking_lock_shared(), std::logic_error);
    auto w = m.try_lock();  // and neither took it
    CHECK(w);
    co_return;
  }());
}
