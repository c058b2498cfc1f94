// weft/runtime/sync/latch.hpp: count_down to zero releases the waiters,
// try_wait, counting below zero, arrive_and_wait, count_down(n) and
// arrive_and_wait(n), a latch of zero, cancelled and timed-out waiters, a
// plain thread in blocking_wait (refused on a worker).
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
task<void> latch_basics() {
  weft::latch done{3};
  CHECK_FALSE(done.try_wait());
  for (int i = 0; i < 3; ++i)
    weft::spawn([](weft::latch& l) -> task<void> {
      co_await weft::sleep_for(1ms);
      l.count_down();
    }(done))
        .detach();
  co_await done.wait();
  CHECK(done.try_wait());
  CHECK_THROWS_AS(done.count_down(), std::logic_error);
  weft::latch two{2};
  auto other = weft::spawn([](weft::latch& l) -> task<void> { co_await l.arrive_and_wait(); }(two));
  co_await two.arrive_and_wait();
  co_await other;
}
}  // namespace

TEST_CASE("latch: count_down to zero releases the waiters", "[sync][latch]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(latch_basics());
  CHECK_THROWS_AS(weft::latch(-1), std::invalid_argument);
}

TEST_CASE("latch: count_down(n), arrive_and_wait(n), a latch of zero", "[sync][latch]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::latch zero{0};
    CHECK(zero.try_wait());
    co_await zero.wait();  // open from the start
    CHECK_THROWS_AS(zero.count_down(), std::logic_error);

    weft::latch l{5};
    std::vector<int> released;
    auto waiter = weft::spawn([](weft::latch& l, std::vector<int>& released) -> task<void> {
      co_await l.wait();
      released.push_back(1);
    }(l, released));
    l.count_down(2);  // 3 left
    CHECK_FALSE(l.try_wait());
    CHECK_THROWS_AS(l.count_down(4), std::logic_error);  // would go below zero: nothing counted
    CHECK_FALSE(l.try_wait());
    co_await weft::sleep_for(5ms);
    CHECK(released.empty());
    co_await l.arrive_and_wait(3);  // the last 3 at once: passes, and releases the waiter
    CHECK(l.try_wait());
    co_await waiter;
    CHECK(released == std::vector<int>{1});
  }());
}

TEST_CASE("latch: cancelled and timed-out waiters leave, one cancelled after the count reached zero passes",
          "[sync][latch][cancel]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::latch l{1};
    CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, l.wait()), weft::timeout_error);
    auto cancelled = weft::spawn([](weft::latch& l) -> task<void> { co_await l.wait(); }(l));
    co_await weft::sleep_for(5ms);
    cancelled.cancel();
    CO_REQUIRE_THROWS_AS(std::move(cancelled), weft::operation_cancelled);
    CHECK_FALSE(l.try_wait());  // the count is untouched

    bool passed = false;
    auto late = weft::spawn([](weft::latch& l, bool& passed) -> task<void> {
      co_await l.wait();
      passed = true;
    }(l, passed));
    co_await weft::sleep_for(5ms);
    l.count_down();  // zero: `late` is released...
    late.cancel();   // ...before its cancellation
    co_await late;
    CHECK(passed);
  }());
}

TEST_CASE("latch: a plain thread in blocking_wait, blocking_wait refused on a worker thread", "[sync][latch]") {
  weft::runtime rt{{.workers = 2}};
  weft::latch l{2};
  std::thread t([&] { l.blocking_wait(); });
  const bool refused = rt.block_on([](weft::latch& l) -> task<bool> {
    co_await weft::sleep_for(2ms);
    l.count_down();
    bool refused = false;
    try {
      l.blocking_wait();
    } catch (const std::logic_error&) {
      refused = true;
    }
    l.count_down();
    co_return refused;
  }(l));
  t.join();
  CHECK(refused);
  CHECK(l.try_wait());
}
