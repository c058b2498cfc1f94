// when_all, when_any and task_scope: results, failure propagation,
// cancellation of siblings and losers, parent cancellation.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "weft/weft.hpp"

using namespace std::chrono_literals;

namespace {

weft::task<int> after(std::chrono::milliseconds d, int v) {
  co_await weft::sleep_for(d);
  co_return v;
}

weft::task<int> fail_after(std::chrono::milliseconds d, const char* msg) {
  co_await weft::sleep_for(d);
  throw std::runtime_error(msg);
}

// Counts how it ended: finished, or cancelled.
weft::task<void> tracked(std::chrono::milliseconds d, std::atomic<int>& finished, std::atomic<int>& cancelled) {
  try {
    co_await weft::sleep_for(d);
    ++finished;
  } catch (const weft::operation_cancelled&) {
    ++cancelled;
    throw;
  }
}

}  // namespace

TEST_CASE("when_all returns results in order", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  auto [a, b, c] = rt.block_on(weft::when_all(after(30ms, 1), after(1ms, 2), after(10ms, 3)));
  CHECK(a == 1);
  CHECK(b == 2);
  CHECK(c == 3);
}

TEST_CASE("when_all with void tasks and over a vector", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> weft::task<void> {
    std::atomic<int> n{0};
    auto bump = [](std::atomic<int>& n) -> weft::task<void> {
      ++n;
      co_return;
    };
    auto [x, y] = co_await weft::when_all(bump(n), after(1ms, 5));
    CHECK(y == 5);
    (void)x;
    std::vector<weft::task<int>> ts;
    for (int i = 0; i < 100; ++i) ts.push_back(after(std::chrono::milliseconds(i % 7), i));
    std::vector<int> r = co_await weft::when_all(std::move(ts));
    REQUIRE(r.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(r[static_cast<std::size_t>(i)] == i);
    std::vector<weft::task<void>> vs;
    for (int i = 0; i < 10; ++i) vs.push_back(bump(n));
    co_await weft::when_all(std::move(vs));
    CHECK(n == 11);
  }());
}

TEST_CASE("when_all: the first failure cancels the rest and is rethrown", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> finished{0}, cancelled{0};
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
                      co_await weft::when_all(tracked(10s, f, c), fail_after(5ms, "first"),
                                              fail_after(50ms, "second"), tracked(10s, f, c));
                    }(finished, cancelled)),
                    "first");
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(finished == 0);
  CHECK(cancelled == 2);  // both were awaited before when_all returned
}

TEST_CASE("when_any: the first to finish wins, losers are cancelled and awaited", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> finished{0}, cancelled{0};
  auto r = rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<weft::when_any_result<void, int, void>> {
    co_return co_await weft::when_any(tracked(10s, f, c), after(5ms, 42), tracked(10s, f, c));
  }(finished, cancelled));
  CHECK(r.index == 1);
  CHECK(std::get<1>(r.value) == 42);
  CHECK(finished == 0);
  CHECK(cancelled == 2);

  auto [index, value] = rt.block_on(weft::when_any(std::vector<weft::task<int>>{}.size() ? std::vector<weft::task<int>>{} : [] {
    std::vector<weft::task<int>> v;
    v.push_back(after(50ms, 1));
    v.push_back(after(1ms, 2));
    return v;
  }()));
  CHECK(index == 1);
  CHECK(value == 2);
}

TEST_CASE("when_any rethrows a failing winner", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  CHECK_THROWS_WITH(rt.block_on(weft::when_any(after(1s, 1), fail_after(1ms, "lost"))), "lost");
}

namespace {

// Like tracked(), with a value, and optionally failing once cancelled
// (which nobody must report: the outcome was given up on).
weft::task<int> tracked_value(std::chrono::milliseconds d, int v, std::atomic<int>& finished,
                              std::atomic<int>& cancelled, bool fail_when_cancelled = false) {
  try {
    co_await weft::sleep_for(d);
  } catch (const weft::operation_cancelled&) {
    ++cancelled;
    if (fail_when_cancelled) throw std::runtime_error("failed while being cancelled");
    throw;
  }
  ++finished;
  co_return v;
}

void wait_until(const std::atomic<int>& c, int n) {
  for (int i = 0; i < 800 && c.load() < n; ++i) std::this_thread::sleep_for(5ms);
}

}  // namespace

TEST_CASE("when_any on join handles cancels the losers' tasks", "[runtime][structured]") {
  std::atomic<int> reports{0};
  weft::runtime rt{{.workers = 2, .unhandled_exception = [&](std::exception_ptr) { ++reports; }}};
  std::atomic<int> finished{0}, cancelled{0};

  SECTION("handles only") {
    auto r = rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<weft::when_any_result<int, int, int>> {
      co_return co_await weft::when_any(weft::spawn(tracked_value(10s, 1, f, c)), weft::spawn(after(5ms, 42)),
                                        weft::spawn(tracked_value(10s, 3, f, c, true)));
    }(finished, cancelled));
    CHECK(r.index == 1);
    CHECK(std::get<1>(r.value) == 42);
    wait_until(cancelled, 2);
    CHECK(cancelled == 2);
  }
  SECTION("handles mixed with tasks; a task wins") {
    auto r = rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<weft::when_any_result<int, int, void>> {
      auto kept = weft::spawn(tracked_value(10s, 1, f, c));
      co_return co_await weft::when_any(std::move(kept), after(5ms, 7), tracked(10s, f, c));
    }(finished, cancelled));
    CHECK(r.index == 1);
    CHECK(std::get<1>(r.value) == 7);
    wait_until(cancelled, 2);
    CHECK(cancelled == 2);  // the handle's task, and the task (awaited)
  }
  SECTION("a vector of handles") {
    auto [index, value] = rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<std::pair<std::size_t, int>> {
      std::vector<weft::join_handle<int>> hs;
      hs.push_back(weft::spawn(tracked_value(10s, 0, f, c, true)));
      hs.push_back(weft::spawn(tracked_value(10s, 1, f, c)));
      hs.push_back(weft::spawn(tracked_value(1ms, 2, f, c)));
      co_return co_await weft::when_any(std::move(hs));
    }(finished, cancelled));
    CHECK(index == 2);
    CHECK(value == 2);
    wait_until(cancelled, 2);
    CHECK(cancelled == 2);
    CHECK(finished == 1);
  }
  SECTION("a handle already finished wins; void handles") {
    auto r = rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<weft::when_any_result<void, int>> {
      auto done = weft::spawn([]() -> weft::task<void> { co_return; }());
      while (!done.is_finished()) co_await weft::sleep_for(1ms);
      co_return co_await weft::when_any(std::move(done), weft::spawn(tracked_value(10s, 1, f, c)));
    }(finished, cancelled));
    CHECK(r.index == 0);
    wait_until(cancelled, 1);
    CHECK(cancelled == 1);
  }
  SECTION("the winner's failure is rethrown") {
    CHECK_THROWS_WITH(rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
      (void)co_await weft::when_any(weft::spawn(tracked_value(10s, 1, f, c)), weft::spawn(fail_after(1ms, "lost")));
    }(finished, cancelled)), "lost");
    wait_until(cancelled, 1);
    CHECK(cancelled == 1);
  }
  SECTION("cancelling the awaiting task cancels every handle's task") {
    rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
      auto h = weft::spawn([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
        (void)co_await weft::when_any(weft::spawn(tracked_value(10s, 1, f, c)), weft::spawn(tracked_value(10s, 2, f, c)));
      }(f, c));
      co_await weft::sleep_for(10ms);
      h.cancel();
      CHECK_THROWS_AS(co_await h, weft::operation_cancelled);
    }(finished, cancelled));
    wait_until(cancelled, 2);
    CHECK(cancelled == 2);
  }
  CHECK(finished <= 1);
  std::this_thread::sleep_for(10ms);
  CHECK(reports == 0);
}

TEST_CASE("cancelling the awaiting task cancels when_all's children", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> finished{0}, cancelled{0};
  rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
    auto h = weft::spawn([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
      co_await weft::when_all(tracked(10s, f, c), tracked(10s, f, c), tracked(10s, f, c));
    }(f, c));
    co_await weft::sleep_for(10ms);
    h.cancel();
    CHECK_THROWS_AS(co_await h, weft::operation_cancelled);
  }(finished, cancelled));
  CHECK(cancelled == 3);
  CHECK(finished == 0);
}

TEST_CASE("task_scope joins its children", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> sum{0};
  rt.block_on(weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<void> {
    for (int i = 1; i <= 100; ++i)
      scope.spawn([](std::atomic<int>& s, int i) -> weft::task<void> {
        co_await weft::sleep_for(std::chrono::milliseconds(i % 5));
        s += i;
      }(sum, i));
    co_return;
  }));
  CHECK(sum == 5050);
}

TEST_CASE("task_scope: the first failure cancels siblings and the body", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> finished{0}, cancelled{0};
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(rt.block_on(weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<void> {
                      scope.spawn(tracked(10s, finished, cancelled));
                      scope.spawn(fail_after(5ms, "child failed"));
                      scope.spawn(tracked(10s, finished, cancelled));
                      co_await weft::sleep_for(10s);  // the body is cancelled too
                    })),
                    "child failed");
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(cancelled == 2);
  CHECK(finished == 0);
}

TEST_CASE("task_scope object with join, running and cancel", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> weft::task<void> {
    weft::task_scope scope;
    std::atomic<int> finished{0}, cancelled{0};
    scope.spawn(tracked(10s, finished, cancelled));
    scope.spawn(tracked(10s, finished, cancelled));
    co_await weft::sleep_for(5ms);
    CHECK(scope.running() == 2);
    scope.cancel();
    // Children ending in operation_cancelled after cancel() are not a
    // failure of their own, but they were the first error: join reports it.
    CHECK_THROWS_AS(co_await scope.join(), weft::operation_cancelled);
    CHECK(scope.running() == 0);
    CHECK(cancelled == 2);
  }());
}

TEST_CASE("nested structured concurrency", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  int total = rt.block_on([]() -> weft::task<int> {
    auto inner = []() -> weft::task<int> {
      auto [a, b] = co_await weft::when_all(after(1ms, 1), after(2ms, 2));
      co_return a + b;
    };
    auto [x, y, z] = co_await weft::when_all(inner(), inner(), inner());
    auto w = co_await weft::when_any(inner(), after(1s, 100));
    co_return x + y + z + std::get<0>(w.value);
  }());
  CHECK(total == 12);
}
