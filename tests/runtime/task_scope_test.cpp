// weft/runtime/task_scope.hpp: run() joins every child, the first failure
// cancels the siblings and the body, a task_scope object with join(),
// running() and cancel(), cancelling the task that waits in join(), a
// scope destroyed unjoined.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <utility>

#include "structured_support.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft_test::fail_after;
using weft_test::tracked;

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

// A child that ends (by cancellation) while the scope is being destroyed
// reports to the scope from its own thread: the destructor must not hold
// the scope's lock while it waits for that report, or both threads wait on
// each other (this hung CI's TSan run once).
TEST_CASE("task_scope: destroying a scope while its children end does not deadlock", "[runtime][structured][cancel]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> started{0}, ended{0};
  constexpr int rounds = 2000, children = 3;
  rt.block_on([](std::atomic<int>& s, std::atomic<int>& e) -> weft::task<void> {
    for (int round = 0; round < rounds; ++round) {
      weft::task_scope scope;
      for (int i = 0; i < children; ++i)
        scope.spawn([](std::atomic<int>& s, std::atomic<int>& e) -> weft::task<void> {
          ++s;  // a child cancelled before it starts never runs
          try {
            for (;;) co_await weft::yield_now();
          } catch (const weft::operation_cancelled&) {
            ++e;
            throw;
          }
        }(s, e));
      if (round % 2) co_await weft::yield_now();  // some children started, some not
    }
    bool all = co_await weft_test::eventually([&] { return e.load() == s.load(); });
    CHECK(all);
  }(started, ended));
  CHECK(started.load() > 0);
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

TEST_CASE("task_scope: cancelling the task that waits in join() cancels every child", "[runtime][structured][cancel]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> finished{0}, cancelled{0};
  rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
    auto h = weft::spawn(weft::task_scope::run([&f, &c](weft::task_scope& scope) -> weft::task<void> {
      scope.spawn(tracked(10s, f, c));
      scope.spawn(tracked(10s, f, c));
      co_return;
    }));
    co_await weft::sleep_for(10ms);
    h.cancel();
    CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
    // join() waited for the children before it gave up.
    CHECK(c.load() == 2);
    CHECK(f.load() == 0);
  }(finished, cancelled));
}

TEST_CASE("task_scope: a scope destroyed unjoined cancels its children", "[runtime][structured][cancel]") {
  std::atomic<int> reports{0};
  weft::runtime rt{{.workers = 2, .unhandled_exception = [&](std::exception_ptr) { ++reports; }}};
  std::atomic<int> finished{0}, cancelled{0};
  rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
    {
      weft::task_scope scope;
      scope.spawn(tracked(10s, f, c));
      scope.spawn(tracked(10s, f, c));
      co_await weft::sleep_for(5ms);
      CHECK(scope.running() == 2);
    }  // no join: the children are cancelled and end detached
    bool ended = co_await weft_test::eventually([&] { return c.load() == 2; });
    CHECK(ended);
    CHECK(f.load() == 0);
  }(finished, cancelled));
  CHECK(reports == 0);  // ending in operation_cancelled is not a failure to report
}
