// weft/runtime/sync/condition_variable.hpp: a bounded queue with predicate
// waits, notify_all, cancelled and timed-out waiters relocking, a plain
// thread waiting (blocking_wait) for a task's notify, notify_one waking the
// longest waiter, a notify with nobody waiting not kept, a notify received
// before a cancel kept, waits without the lock refused.
//
// Catch2 assertions are not thread-safe: tasks running concurrently on
// several workers record what they saw in atomics or vectors, and the
// assertions run afterwards in one place.
#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {
struct bounded_queue {
  weft::mutex m;
  weft::condition_variable not_empty, not_full;
  std::vector<int> items;
  std::size_t cap = 4;
};

task<void> cv_producer(bounded_queue& q, int from, int n) {
  for (int i = from; i < from + n; ++i) {
    auto lk = co_await q.m.lock();
    co_await q.not_full.wait(lk, [&] { return q.items.size() < q.cap; });
    q.items.push_back(i);
    q.not_empty.notify_one();
  }
}

task<long> cv_consumer(bounded_queue& q, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    auto lk = co_await q.m.lock();
    co_await q.not_empty.wait(lk, [&] { return !q.items.empty(); });
    if (!lk.owns_lock()) throw std::logic_error("wait returned without the lock");
    sum += q.items.back();
    q.items.pop_back();
    q.not_full.notify_one();
  }
  co_return sum;
}

task<long> cv_queue() {
  bounded_queue q;
  auto p1 = weft::spawn(cv_producer(q, 0, 5000));
  auto p2 = weft::spawn(cv_producer(q, 5000, 5000));
  auto c1 = weft::spawn(cv_consumer(q, 5000));
  auto c2 = weft::spawn(cv_consumer(q, 5000));
  co_await p1;
  co_await p2;
  long a = co_await c1;
  long b = co_await c2;
  co_return a + b;
}

task<void> cv_notify_all_and_cancel() {
  weft::mutex m;
  weft::condition_variable cv;
  bool go = false;
  std::atomic<int> woke{0};
  auto waiter = [&]() -> task<void> {
    auto lk = co_await m.lock();
    co_await cv.wait(lk, [&] { return go; });
    woke.fetch_add(1);
  };
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(weft::spawn(waiter()));
  co_await weft::sleep_for(5ms);
  // A cancelled waiter relocks, then throws; the mutex is free afterwards.
  hs[0].cancel();
  CO_REQUIRE_THROWS_AS(std::move(hs[0]), weft::operation_cancelled);
  {
    auto lk = co_await m.lock();
    go = true;
  }
  cv.notify_all();
  for (std::size_t i = 1; i < hs.size(); ++i) co_await hs[i];
  CHECK(woke.load() == 4);
  // A timed-out wait returns with the lock held again (as the guard expects).
  auto lk = co_await m.lock();
  auto err = co_await weft_test::error_of(weft::with_timeout(10ms, cv.wait(lk)));
  CHECK(lk.owns_lock());
  REQUIRE_THROWS_AS(weft_test::rethrow_if(err), weft::timeout_error);
}
}  // namespace

TEST_CASE("condition_variable: a bounded queue with predicate waits", "[sync][condition_variable]") {
  weft::runtime rt{{.workers = 2}};
  CHECK(rt.block_on(cv_queue()) == 9999L * 10000 / 2);
}

TEST_CASE("condition_variable: notify_all, cancelled and timed-out waiters relock",
          "[sync][condition_variable][cancel]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(cv_notify_all_and_cancel());
}

TEST_CASE("condition_variable: a plain thread waits, a task notifies", "[sync][condition_variable]") {
  weft::runtime rt{{.workers = 2}};
  weft::mutex m;
  weft::condition_variable cv;
  bool ready = false;
  std::thread t([&] {
    auto lk = m.blocking_lock();
    cv.blocking_wait(lk, [&] { return ready; });
    CHECK(lk.owns_lock());
  });
  rt.block_on([](weft::mutex& m, weft::condition_variable& cv, bool& ready) -> task<void> {
    co_await weft::sleep_for(5ms);
    auto lk = co_await m.lock();
    ready = true;
    cv.notify_one();
  }(m, cv, ready));
  t.join();
}

TEST_CASE("condition_variable: notify_one wakes the longest waiter, a notify with nobody waiting is not kept",
          "[sync][condition_variable]") {
  // One worker: the waiters queue in the order they were spawned.
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::mutex m;
    weft::condition_variable cv;
    cv.notify_one();  // nobody waits: lost, not remembered
    cv.notify_all();
    {
      auto lk = co_await m.lock();
      std::exception_ptr err = co_await weft_test::error_of(weft::with_timeout(10ms, cv.wait(lk)));
      REQUIRE_THROWS_AS(weft_test::rethrow_if(err), weft::timeout_error);
      CHECK(lk.owns_lock());
    }
    std::vector<int> woke;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 3; ++i) {
      hs.push_back(
          weft::spawn([](weft::mutex& m, weft::condition_variable& cv, std::vector<int>& woke, int i) -> task<void> {
            auto lk = co_await m.lock();
            co_await cv.wait(lk);
            woke.push_back(i);
          }(m, cv, woke, i)));
      co_await weft::sleep_for(2ms);
    }
    cv.notify_one();
    co_await weft::sleep_for(5ms);
    CHECK(woke == std::vector<int>{0});
    cv.notify_one();
    co_await weft::sleep_for(5ms);
    CHECK(woke == std::vector<int>{0, 1});
    cv.notify_all();
    for (auto& h : hs) co_await h;
    CHECK(woke == std::vector<int>{0, 1, 2});
  }());
}

TEST_CASE("condition_variable: a notify received before a cancel is kept: the wait returns normally",
          "[sync][condition_variable][cancel]") {
  // One worker: notify_one() and cancel() both happen before the waiter runs again.
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::mutex m;
    weft::condition_variable cv;
    auto h = weft::spawn([](weft::mutex& m, weft::condition_variable& cv) -> task<bool> {
      auto lk = co_await m.lock();
      co_await cv.wait(lk);
      co_return lk.owns_lock();
    }(m, cv));
    co_await weft::sleep_for(5ms);  // it waits, the mutex free again
    CHECK(m.try_lock());
    cv.notify_one();
    h.cancel();
    bool relocked = co_await h;
    CHECK(relocked);
    CHECK(m.try_lock());  // and unlocked by its guard
  }());
}

TEST_CASE("condition_variable: waits without the lock held are refused", "[sync][condition_variable]") {
  weft::mutex m;
  weft::condition_variable cv;
  weft::unique_lock<weft::mutex> none;
  CHECK_THROWS_AS(cv.blocking_wait(none), std::logic_error);
  weft::runtime rt{{.workers = 1}};
  rt.block_on([](weft::mutex& m, weft::condition_variable& cv) -> task<void> {
    weft::unique_lock<weft::mutex> none;
    CO_REQUIRE_THROWS_AS(cv.wait(none), std::logic_error);
    auto lk = co_await m.lock();
    lk.unlock();
    CO_REQUIRE_THROWS_AS(cv.wait(lk), std::logic_error);  // unlocked by hand: owns nothing
    CHECK(m.try_lock());                                  // nothing was locked or unlocked by the refused waits
  }(m, cv));
}
