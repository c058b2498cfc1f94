// weft/runtime/sync/event.hpp: set() wakes every waiter, clear(), a
// cancelled waiter, with_timeout on wait(), a plain thread in blocking_wait
// (refused on a worker), an event constructed set, a waiter cancelled after
// set() passing, wait_uncancellable().
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
task<void> event_basics() {
  weft::event e;
  CHECK_FALSE(e.is_set());
  std::atomic<int> passed{0};
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 3; ++i)
    hs.push_back(weft::spawn([](weft::event& e, std::atomic<int>& passed) -> task<void> {
      co_await e.wait();
      passed.fetch_add(1);
    }(e, passed)));
  auto cancelled = weft::spawn([](weft::event& e) -> task<void> { co_await e.wait(); }(e));
  co_await weft::sleep_for(5ms);
  CHECK(passed.load() == 0);
  cancelled.cancel();
  CO_REQUIRE_THROWS_AS(std::move(cancelled), weft::operation_cancelled);
  e.set();
  for (auto& h : hs) co_await h;
  CHECK(passed.load() == 3);
  co_await e.wait();  // set: passes at once
  e.clear();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, e.wait()), weft::timeout_error);
}
}  // namespace

TEST_CASE("event: set wakes all, clear, cancelled waiter", "[sync][event]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(event_basics());
  weft::event e;
  std::thread t([&] { e.blocking_wait(); });
  rt.block_on([](weft::event& e) -> task<void> {
    co_await weft::sleep_for(2ms);
    e.set();
  }(e));
  t.join();
}

TEST_CASE("event: constructed set, blocking_wait refused on a worker thread", "[sync][event]") {
  weft::event open{true};
  CHECK(open.is_set());
  open.blocking_wait();  // set: returns at once on a plain thread
  weft::event closed{false};
  CHECK_FALSE(closed.is_set());
  weft::runtime rt{{.workers = 1}};
  rt.block_on([](weft::event& open, weft::event& closed) -> task<void> {
    co_await open.wait();                                     // passes at once
    CHECK_THROWS_AS(open.blocking_wait(), std::logic_error);  // even when set
    CHECK_THROWS_AS(closed.blocking_wait(), std::logic_error);
    open.clear();
    CHECK_FALSE(open.is_set());
    CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, open.wait()), weft::timeout_error);
  }(open, closed));
}

TEST_CASE("event: a waiter cancelled after set() passes, a set event lets a cancelled task through",
          "[sync][event][cancel]") {
  // One worker: set() and cancel() both happen before the woken waiter runs.
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::event e;
    bool passed = false;
    auto h = weft::spawn([](weft::event& e, bool& passed) -> task<void> {
      co_await e.wait();
      passed = true;
    }(e, passed));
    co_await weft::sleep_for(5ms);  // it waits
    CHECK_FALSE(passed);
    e.set();
    h.cancel();
    co_await h;  // no operation_cancelled: the event was set first
    CHECK(passed);

    // Stop requested, then a wait on an event that is set: it passes; the
    // next wait that would suspend throws.
    weft::event never;
    std::vector<int> steps;
    auto h2 = weft::spawn([](weft::event& e, weft::event& never, std::vector<int>& steps) -> task<void> {
      try {
        co_await never.wait();
      } catch (const weft::operation_cancelled&) {
        steps.push_back(1);
      }
      co_await e.wait();
      steps.push_back(2);
      co_await never.wait();
      steps.push_back(3);
    }(e, never, steps));
    co_await weft::sleep_for(5ms);
    h2.cancel();
    CO_REQUIRE_THROWS_AS(std::move(h2), weft::operation_cancelled);
    CHECK(steps == std::vector<int>{1, 2});
  }());
}

TEST_CASE("event: wait_uncancellable() waits on through a cancel until set()", "[sync][event][cancel]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::event e;
    bool passed = false;
    auto h = weft::spawn([](weft::event& e, bool& passed) -> task<void> {
      co_await e.wait_uncancellable();
      passed = true;
    }(e, passed));
    co_await weft::sleep_for(5ms);
    h.cancel();
    co_await weft::sleep_for(20ms);
    CHECK_FALSE(h.is_finished());  // still waiting
    e.set();
    co_await h;
    CHECK(passed);
    // Set already: it passes at once, as wait() does.
    co_await e.wait_uncancellable();
  }());
}
