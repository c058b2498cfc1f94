// weft/runtime/as_completed.hpp: handles yielded in completion order,
// tasks and blocking jobs mixed with errors staying per entry, handles
// finished already coming first, an empty input, a cancelled or timed-out
// waiter leaving the handles in the stream, a stream dropped early,
// cancel_all(), an empty handle refused.
//
// Timings are only asserted with generous bounds; ordering tests use gaps
// of tens of milliseconds between completions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
using weft::clock;
using weft::task;
using namespace weft_test;

task<void> nap(clock::duration d) { co_await weft::sleep_for(d); }

template <class T>
task<T> value_after(clock::duration d, T v) {
  co_await weft::sleep_for(d);
  co_return v;
}

task<int> fail_after(clock::duration d) {
  co_await weft::sleep_for(d);
  throw std::runtime_error("failed on purpose");
}

}  // namespace

TEST_CASE("as_completed yields in completion order", "[runtime][as_completed]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    std::vector<weft::join_handle<int>> hs;
    for (auto [ms, v] : {std::pair{200, 0}, {10, 1}, {100, 2}})
      hs.push_back(weft::spawn_blocking([ms = ms, v = v] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        return v * 10;
      }));
    auto stream = weft::as_completed(std::move(hs));
    CHECK(stream.remaining() == 3);
    std::vector<std::size_t> order;
    while (auto done = co_await stream.next()) {
      int v = co_await done->handle;
      CHECK(v == static_cast<int>(done->index) * 10);
      order.push_back(done->index);
    }
    CHECK(order == std::vector<std::size_t>{1, 2, 0});
    CHECK(stream.remaining() == 0);
    auto again = co_await stream.next();
    CHECK_FALSE(again.has_value());
  }());
}

TEST_CASE("as_completed mixes tasks and blocking jobs, errors stay per entry", "[runtime][as_completed]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    std::vector<weft::join_handle<int>> hs;
    hs.push_back(weft::spawn(value_after(40ms, 1)));
    hs.push_back(weft::spawn_blocking([] {
      std::this_thread::sleep_for(5ms);
      return 2;
    }));
    hs.push_back(weft::spawn(fail_after(20ms)));
    hs.push_back(weft::spawn_blocking([]() -> int { throw std::logic_error("blocking failure"); }));
    auto stream = weft::as_completed(std::move(hs));
    int sum = 0, runtime_errors = 0, logic_errors = 0, seen = 0;
    while (auto done = co_await stream.next()) {
      ++seen;
      try {
        sum += co_await done->handle;
      } catch (const std::runtime_error&) {
        ++runtime_errors;
        CHECK(done->index == 2);
      } catch (const std::logic_error&) {
        ++logic_errors;
        CHECK(done->index == 3);
      }
    }
    CHECK(seen == 4);
    CHECK(sum == 3);
    CHECK(runtime_errors == 1);
    CHECK(logic_errors == 1);
  }());
}

TEST_CASE("as_completed: handles finished already come first, empty input", "[runtime][as_completed]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    {
      auto stream = weft::as_completed(std::vector<weft::join_handle<void>>{});
      auto none = co_await stream.next();
      CHECK_FALSE(none.has_value());
    }
    std::vector<weft::join_handle<void>> hs;
    hs.push_back(weft::spawn(nap(80ms)));
    hs.push_back(weft::spawn(nap(0ms)));
    hs.push_back(weft::spawn_blocking([] {}));
    bool finished = co_await eventually([&] { return hs[1].is_finished() && hs[2].is_finished(); });
    REQUIRE(finished);
    auto stream = weft::as_completed(std::move(hs));
    std::vector<std::size_t> order;
    while (auto done = co_await stream.next()) {
      co_await done->handle;
      order.push_back(done->index);
    }
    CHECK(order == std::vector<std::size_t>{1, 2, 0});
  }());
}

TEST_CASE("as_completed: cancelling the waiter leaves the handles in the stream", "[runtime][as_completed][cancel]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    std::vector<weft::join_handle<int>> hs;
    hs.push_back(weft::spawn(value_after(100ms, 7)));
    auto stream = weft::as_completed(std::move(hs));
    CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, stream.next()), weft::timeout_error);
    CHECK(stream.remaining() == 1);
    auto done = co_await stream.next();
    REQUIRE(done.has_value());
    int v = co_await done->handle;
    CHECK(v == 7);

    // The same through cancel() on a task that waits in next().
    std::vector<weft::join_handle<int>> more;
    more.push_back(weft::spawn(value_after(10s, 1)));
    auto waiter = weft::spawn([](std::vector<weft::join_handle<int>> hs) -> task<std::size_t> {
      auto s = weft::as_completed(std::move(hs));
      auto d = co_await s.next();
      co_return d ? d->index : 99;
    }(std::move(more)));
    co_await weft::sleep_for(10ms);
    waiter.cancel();
    CO_REQUIRE_THROWS_AS(std::move(waiter), weft::operation_cancelled);
  }());
}

TEST_CASE("as_completed: dropping a stream early detaches the rest", "[runtime][as_completed]") {
  std::atomic<int> reported{0};
  weft::runtime rt{{.workers = 2, .unhandled_exception = [&](std::exception_ptr) { ++reported; }}};
  std::atomic<bool> slow_done{false};
  rt.block_on([&]() -> task<void> {
    {
      std::vector<weft::join_handle<int>> hs;
      hs.push_back(weft::spawn(value_after(0ms, 1)));
      hs.push_back(weft::spawn(fail_after(30ms)));
      hs.push_back(weft::spawn_blocking([&] {
        std::this_thread::sleep_for(40ms);
        slow_done = true;
        return 3;
      }));
      auto stream = weft::as_completed(std::move(hs));
      auto first = co_await stream.next();
      REQUIRE(first.has_value());
      CHECK(first->index == 0);
    }  // the stream goes with two tasks unfinished
    bool both = co_await eventually([&] { return slow_done.load() && reported.load() == 1; });
    CHECK(both);
  }());
  CHECK(reported.load() == 1);

  // Many streams dropped while their tasks finish: the teardown races them.
  rt.block_on([]() -> task<void> {
    for (int round = 0; round < 50; ++round) {
      std::vector<weft::join_handle<int>> hs;
      for (int i = 0; i < 4; ++i) hs.push_back(weft::spawn(value_after(0ms, i)));
      hs.push_back(weft::spawn_blocking([] { return 9; }));
      auto stream = weft::as_completed(std::move(hs));
      if (round % 2) (void)co_await stream.next();
    }
  }());
}

TEST_CASE("as_completed: cancel_all() cancels the tasks not yet yielded, an empty handle is refused",
          "[runtime][as_completed][cancel]") {
  CHECK_THROWS_AS(weft::as_completed(std::vector<weft::join_handle<int>>(1)), std::invalid_argument);
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    std::vector<weft::join_handle<int>> hs;
    hs.push_back(weft::spawn(value_after(1ms, 1)));
    hs.push_back(weft::spawn(value_after(10s, 2)));
    hs.push_back(weft::spawn(value_after(10s, 3)));
    auto stream = weft::as_completed(std::move(hs));
    auto first = co_await stream.next();
    REQUIRE(first.has_value());
    CHECK(first->index == 0);
    int v = co_await first->handle;
    CHECK(v == 1);
    CHECK(stream.remaining() == 2);
    stream.cancel_all();
    // They still come out of next(), with operation_cancelled.
    std::vector<std::size_t> cancelled;
    while (auto done = co_await stream.next()) {
      std::exception_ptr err = co_await error_of(std::move(done->handle));
      CHECK_THROWS_AS(rethrow_if(err), weft::operation_cancelled);
      cancelled.push_back(done->index);
    }
    std::sort(cancelled.begin(), cancelled.end());
    CHECK(cancelled == std::vector<std::size_t>{1, 2});
    CHECK(stream.remaining() == 0);
  }());
}
