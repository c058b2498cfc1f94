// weft/runtime/sync/semaphore.hpp: the bound under contention, release(n),
// cancelled waiters eat no permits (also racing release), blocking_acquire
// from a plain thread (refused on a worker), a permit granted before a
// cancel kept, permits handed to waiters in arrival order.
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
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {
task<void> bounded_worker(weft::semaphore& s, std::atomic<int>& inside, std::atomic<int>& peak) {
  for (int i = 0; i < 200; ++i) {
    co_await s.acquire();
    int now = inside.fetch_add(1) + 1;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    co_await weft::yield_now();
    inside.fetch_sub(1);
    s.release();
  }
}

task<int> semaphore_bound() {
  weft::semaphore s{3};
  std::atomic<int> inside{0}, peak{0};
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 10; ++i) hs.push_back(weft::spawn(bounded_worker(s, inside, peak)));
  for (auto& h : hs) co_await h;
  CHECK(s.available() == 3);
  co_return peak.load();
}

task<void> semaphore_release_many_and_cancel() {
  weft::semaphore s{0};
  CHECK_FALSE(s.try_acquire());
  std::atomic<int> got{0};
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 4; ++i)
    hs.push_back(weft::spawn([](weft::semaphore& s, std::atomic<int>& got) -> task<void> {
      co_await s.acquire();
      got.fetch_add(1);
    }(s, got)));
  co_await weft::sleep_for(5ms);
  hs[0].cancel();  // the first in line leaves: the permits go to the others
  CO_REQUIRE_THROWS_AS(std::move(hs[0]), weft::operation_cancelled);
  s.release(2);
  co_await hs[1];
  co_await hs[2];
  CHECK(got.load() == 2);
  CHECK_FALSE(hs[3].is_finished());
  s.release(5);
  co_await hs[3];
  CHECK(s.available() == 4);
}

// Cancel and release racing, many times: permits are conserved.
task<void> semaphore_cancel_race() {
  weft::semaphore s{0};
  for (int round = 0; round < 300; ++round) {
    std::atomic<bool> acquired{false};
    auto h = weft::spawn([](weft::semaphore& s, std::atomic<bool>& acquired) -> task<void> {
      co_await s.acquire();
      acquired = true;
    }(s, acquired));
    if (round % 2) co_await weft::yield_now();
    s.release();
    h.cancel();
    auto err = co_await weft_test::error_of(std::move(h));
    // Either it got the permit (and keeps it) or it was cancelled first and
    // the permit is still there: never both, never neither.
    if (acquired.load()) {
      CHECK(!err);
      CHECK(s.available() == 0);
    } else {
      CHECK(s.available() == 1);
      REQUIRE(s.try_acquire());
    }
  }
}
}  // namespace

TEST_CASE("semaphore: the bound is never exceeded", "[sync][semaphore]") {
  weft::runtime rt{{.workers = 2}};
  const int peak = rt.block_on(semaphore_bound());
  CHECK(peak <= 3);
  CHECK(peak >= 1);
}

TEST_CASE("semaphore: release(n), cancelled waiters eat no permits", "[sync][semaphore][cancel]") {
  weft::runtime one{{.workers = 1}};
  one.block_on(semaphore_release_many_and_cancel());
  weft::runtime rt{{.workers = 2}};
  rt.block_on(semaphore_cancel_race());
}

TEST_CASE("semaphore: blocking_acquire from a plain thread, released by a task", "[sync][semaphore]") {
  weft::runtime rt{{.workers = 2}};
  weft::semaphore s{0};
  std::thread t([&] { s.blocking_acquire(); });
  rt.block_on([](weft::semaphore& s) -> task<void> {
    co_await weft::sleep_for(5ms);
    s.release();
  }(s));
  t.join();
  CHECK(s.available() == 0);
}

TEST_CASE("semaphore: permits go to waiters in arrival order, none to a newcomer while they wait",
          "[sync][semaphore]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::semaphore s{0};
    std::vector<int> order;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 3; ++i) {
      hs.push_back(weft::spawn([](weft::semaphore& s, std::vector<int>& order, int i) -> task<void> {
        co_await s.acquire();
        order.push_back(i);
      }(s, order, i)));
      co_await weft::sleep_for(2ms);
    }
    for (int i = 0; i < 3; ++i) {
      s.release();
      CHECK_FALSE(s.try_acquire());  // handed to the longest waiter already
      CHECK(s.available() == 0);
      co_await weft::sleep_for(5ms);
      CHECK(order.size() == static_cast<std::size_t>(i + 1));
    }
    for (auto& h : hs) co_await h;
    CHECK(order == std::vector<int>{0, 1, 2});
    CHECK(s.available() == 0);  // the waiters keep their permits
  }());
}

TEST_CASE("semaphore: a permit granted before the cancel is kept, blocking_acquire refused on a worker",
          "[sync][semaphore][cancel]") {
  // One worker: release() and cancel() both happen before the waiter runs again.
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::semaphore s{0};
    auto h = weft::spawn([](weft::semaphore& s) -> task<bool> {
      co_await s.acquire();
      co_return true;
    }(s));
    co_await weft::sleep_for(5ms);  // it waits
    s.release();
    h.cancel();
    bool acquired = co_await h;
    CHECK(acquired);
    CHECK(s.available() == 0);  // it kept the permit (and never gave it back)

    CHECK_THROWS_AS(s.blocking_acquire(), std::logic_error);
    s.release();
    CHECK_THROWS_AS(s.blocking_acquire(), std::logic_error);  // even with a permit free
    CHECK(s.available() == 1);
  }());
}
