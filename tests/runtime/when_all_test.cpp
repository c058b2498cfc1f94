// weft/runtime/when_all.hpp: results in order (a tuple, or a vector),
// void tasks, the first failure cancelling the others and rethrown after
// all ended (also over a vector of void tasks), an empty vector,
// cancelling the awaiting task cancelling every child.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include "structured_support.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft_test::after;
using weft_test::fail_after;
using weft_test::tracked;

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
    co_await weft::when_all(tracked(10s, f, c), fail_after(5ms, "first"), fail_after(50ms, "second"),
                            tracked(10s, f, c));
  }(finished, cancelled)),
                    "first");
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(finished == 0);
  CHECK(cancelled == 2);  // both were awaited before when_all returned
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

TEST_CASE("when_all over an empty vector, and over void tasks with a failure", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> finished{0}, cancelled{0};
  rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
    std::vector<int> none = co_await weft::when_all(std::vector<weft::task<int>>{});
    CHECK(none.empty());
    co_await weft::when_all(std::vector<weft::task<void>>{});

    std::vector<weft::task<void>> vs;
    vs.push_back(tracked(10s, f, c));
    vs.push_back([]() -> weft::task<void> {
      co_await weft::sleep_for(1ms);
      throw std::runtime_error("void task failed");
    }());
    vs.push_back(tracked(10s, f, c));
    std::exception_ptr err = co_await weft_test::error_of(weft::when_all(std::move(vs)));
    REQUIRE_THROWS_WITH(weft_test::rethrow_if(err), "void task failed");
    CHECK(c.load() == 2);  // both awaited before when_all rethrew
    CHECK(f.load() == 0);
  }(finished, cancelled));
}
