// weft/runtime/sync/barrier.hpp: phases and the completion function on 2
// workers, arrive_and_drop, a cancelled waiter's arrival still counting,
// plain threads in blocking_arrive_and_wait, participants that must be
// positive, a completion that throws, a drop that completes a phase.
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
task<std::vector<int>> barrier_phases() {
  constexpr int n = 4, phases = 50;
  std::vector<int> completed_phases;
  std::atomic<int> arrived_this_phase{0};
  std::atomic<bool> early{false};
  std::atomic<int> leaders{0};
  weft::barrier b{n, [&] {
                    if (arrived_this_phase.load() != n) early = true;
                    arrived_this_phase = 0;
                    completed_phases.push_back(static_cast<int>(completed_phases.size()));
                  }};
  auto participant = [&]() -> task<void> {
    for (int p = 0; p < phases; ++p) {
      arrived_this_phase.fetch_add(1);
      if (co_await b.arrive_and_wait()) leaders.fetch_add(1);
    }
  };
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(weft::spawn(participant()));
  for (auto& h : hs) co_await h;
  CHECK_FALSE(early.load());
  CHECK(leaders.load() == phases);
  co_return completed_phases;
}

task<void> barrier_drop_and_cancel() {
  weft::barrier b{3};
  // One participant leaves: the next phases need two.
  auto a = weft::spawn([](weft::barrier& b) -> task<void> { co_await b.arrive_and_wait(); }(b));
  b.arrive_and_drop();
  co_await b.arrive_and_wait();  // third arrival of phase 0
  co_await a;
  auto c = weft::spawn([](weft::barrier& b) -> task<void> { co_await b.arrive_and_wait(); }(b));
  co_await weft::sleep_for(5ms);
  c.cancel();  // its arrival still counts
  CO_REQUIRE_THROWS_AS(std::move(c), weft::operation_cancelled);
  bool leader = co_await b.arrive_and_wait();
  CHECK(leader);
}
}  // namespace

TEST_CASE("barrier: phases, completion, drop, cancellation", "[sync][barrier]") {
  weft::runtime rt{{.workers = 2}};
  auto phases = rt.block_on(barrier_phases());
  REQUIRE(phases.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(phases[i] == i);
  weft::runtime one{{.workers = 1}};
  one.block_on(barrier_drop_and_cancel());
  // Plain threads.
  weft::barrier b{3};
  std::atomic<int> leaders{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i)
    ts.emplace_back([&] {
      for (int p = 0; p < 20; ++p)
        if (b.blocking_arrive_and_wait()) leaders.fetch_add(1);
    });
  for (auto& t : ts) t.join();
  CHECK(leaders.load() == 20);
}

TEST_CASE("barrier: participants must be positive", "[sync][barrier]") {
  CHECK_THROWS_AS(weft::barrier(0), std::invalid_argument);
  CHECK_THROWS_AS(weft::barrier(-2), std::invalid_argument);
  weft::barrier one{1};
  CHECK(one.blocking_arrive_and_wait());  // alone: every phase completes at once, led by it
  CHECK(one.blocking_arrive_and_wait());
}

TEST_CASE("barrier: a completion that throws fails its own participant only", "[sync][barrier]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    int completions = 0;
    weft::barrier b{2, [&] {
                      if (completions++ == 0) throw std::runtime_error("completion failed");
                    }};
    auto other = weft::spawn([](weft::barrier& b) -> task<bool> { co_return co_await b.arrive_and_wait(); }(b));
    co_await weft::sleep_for(5ms);  // `other` waits in phase 0
    // The last to arrive runs the completion, and gets its exception.
    std::exception_ptr err = co_await weft_test::error_of(b.arrive_and_wait());
    REQUIRE_THROWS_WITH(weft_test::rethrow_if(err), "completion failed");
    bool other_led = co_await other;  // released normally
    CHECK_FALSE(other_led);
    // The next phase goes on as usual.
    auto again = weft::spawn([](weft::barrier& b) -> task<bool> { co_return co_await b.arrive_and_wait(); }(b));
    co_await weft::sleep_for(5ms);
    bool led = co_await b.arrive_and_wait();
    CHECK(led);
    bool again_led = co_await again;
    CHECK_FALSE(again_led);
    CHECK(completions == 2);
  }());
}

TEST_CASE("barrier: arrive_and_drop by the last participant completes the phase", "[sync][barrier]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    int completions = 0;
    weft::barrier b{2, [&] { ++completions; }};
    auto waiter = weft::spawn([](weft::barrier& b) -> task<bool> { co_return co_await b.arrive_and_wait(); }(b));
    co_await weft::sleep_for(5ms);
    CHECK(completions == 0);
    b.arrive_and_drop();  // the second arrival: runs the completion, releases `waiter`
    CHECK(completions == 1);
    bool waiter_led = co_await waiter;
    CHECK_FALSE(waiter_led);
    // One participant left: it completes each phase on its own.
    bool led = co_await b.arrive_and_wait();
    CHECK(led);
    CHECK(completions == 2);
  }());
}
