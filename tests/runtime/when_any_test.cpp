// weft/runtime/when_any.hpp: the first to finish wins, the losers are
// cancelled (tasks awaited, join handles' tasks not), a failing winner is
// rethrown, cancelling the awaiting task cancels every child, a vector of
// void tasks, an empty vector.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "structured_support.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft_test::after;
using weft_test::fail_after;
using weft_test::tracked;

TEST_CASE("when_any: the first to finish wins, losers are cancelled and awaited", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> finished{0}, cancelled{0};
  auto r =
      rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<weft::when_any_result<void, int, void>> {
        co_return co_await weft::when_any(tracked(10s, f, c), after(5ms, 42), tracked(10s, f, c));
      }(finished, cancelled));
  CHECK(r.index == 1);
  CHECK(std::get<1>(r.value) == 42);
  CHECK(finished == 0);
  CHECK(cancelled == 2);

  auto [index, value] =
      rt.block_on(weft::when_any(std::vector<weft::task<int>>{}.size() ? std::vector<weft::task<int>>{} : [] {
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
    auto r =
        rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<weft::when_any_result<int, int, int>> {
          co_return co_await weft::when_any(weft::spawn(tracked_value(10s, 1, f, c)), weft::spawn(after(5ms, 42)),
                                            weft::spawn(tracked_value(10s, 3, f, c, true)));
        }(finished, cancelled));
    CHECK(r.index == 1);
    CHECK(std::get<1>(r.value) == 42);
    wait_until(cancelled, 2);
    CHECK(cancelled == 2);
  }
  SECTION("handles mixed with tasks; a task wins") {
    auto r =
        rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<weft::when_any_result<int, int, void>> {
          auto kept = weft::spawn(tracked_value(10s, 1, f, c));
          co_return co_await weft::when_any(std::move(kept), after(5ms, 7), tracked(10s, f, c));
        }(finished, cancelled));
    CHECK(r.index == 1);
    CHECK(std::get<1>(r.value) == 7);
    wait_until(cancelled, 2);
    CHECK(cancelled == 2);  // the handle's task, and the task (awaited)
  }
  SECTION("a vector of handles") {
    auto [index, value] =
        rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<std::pair<std::size_t, int>> {
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
    }(finished, cancelled)),
                      "lost");
    wait_until(cancelled, 1);
    CHECK(cancelled == 1);
  }
  SECTION("cancelling the awaiting task cancels every handle's task") {
    rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
      auto h = weft::spawn([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
        (void)co_await weft::when_any(weft::spawn(tracked_value(10s, 1, f, c)),
                                      weft::spawn(tracked_value(10s, 2, f, c)));
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

TEST_CASE("when_any over void tasks gives the winner's index, an empty vector is refused", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> finished{0}, cancelled{0};
  rt.block_on([](std::atomic<int>& f, std::atomic<int>& c) -> weft::task<void> {
    std::vector<weft::task<void>> vs;
    vs.push_back(tracked(10s, f, c));
    vs.push_back(tracked(1ms, f, c));
    vs.push_back(tracked(10s, f, c));
    std::size_t winner = co_await weft::when_any(std::move(vs));
    CHECK(winner == 1);
    CHECK(f.load() == 1);
    CHECK(c.load() == 2);  // the losers, awaited

    std::exception_ptr err = co_await weft_test::error_of(weft::when_any(std::vector<weft::task<int>>{}));
    REQUIRE_THROWS_AS(weft_test::rethrow_if(err), std::invalid_argument);
  }(finished, cancelled));
}
