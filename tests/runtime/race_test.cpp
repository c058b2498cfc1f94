// Races between completion and cancellation, timeouts and wake-ups: every
// outcome must be one of the allowed ones, nothing may hang, crash or leak.
// Run under TSan and ASan in CI.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <random>
#include <vector>

#include "weft/weft.hpp"

using namespace std::chrono_literals;

namespace {

weft::task<int> sleepy(std::chrono::milliseconds d, int v) {
  co_await weft::sleep_for(d);
  co_return v;
}

weft::task<int> busy_then_value(int spins, int v) {
  for (int i = 0; i < spins; ++i) co_await weft::yield_now();
  co_return v;
}

}  // namespace

TEST_CASE("cancel races completion: every handle ends with its value or operation_cancelled", "[runtime][race]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> weft::task<void> {
    std::mt19937 rng(42);
    int values = 0, cancelled = 0;
    for (int round = 0; round < 20; ++round) {
      std::vector<weft::join_handle<int>> hs;
      for (int i = 0; i < 200; ++i) {
        if (i % 2) hs.push_back(weft::spawn(sleepy(std::chrono::milliseconds(rng() % 3), i)));
        else hs.push_back(weft::spawn(busy_then_value(static_cast<int>(rng() % 20), i)));
      }
      co_await weft::sleep_for(std::chrono::milliseconds(rng() % 2));
      for (std::size_t i = 0; i < hs.size(); i += 1 + rng() % 2) hs[i].cancel();
      for (std::size_t i = 0; i < hs.size(); ++i) {
        try {
          int v = co_await hs[i];
          CHECK(v == static_cast<int>(i));
          ++values;
        } catch (const weft::operation_cancelled&) {
          ++cancelled;
        }
      }
    }
    CHECK(values + cancelled == 20 * 200);
    CHECK(values > 0);
    CHECK(cancelled > 0);
  }());
  CHECK(rt.metrics().live_tasks == 0);
}

TEST_CASE("timeouts racing completion return the value or throw timeout_error", "[runtime][race]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> weft::task<void> {
    int ok = 0, timed_out = 0;
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 500; ++i)
      hs.push_back(weft::spawn([](int i) -> weft::task<int> {
        // Same nominal duration for the sleep and the deadline.
        co_return co_await weft::with_timeout(std::chrono::milliseconds(1 + i % 3),
                                              sleepy(std::chrono::milliseconds(1 + i % 3), i));
      }(i)));
    for (int i = 0; i < 500; ++i) {
      try {
        int v = co_await hs[static_cast<std::size_t>(i)];  // outside CHECK: it must not catch
        CHECK(v == i);
        ++ok;
      } catch (const weft::timeout_error&) {
        ++timed_out;
      }
    }
    CHECK(ok + timed_out == 500);
  }());
}

TEST_CASE("many joiners on many workers, from tasks and from outside", "[runtime][race]") {
  weft::runtime rt{{.workers = 3}};
  std::vector<weft::join_handle<long>> outside;
  for (int i = 0; i < 100; ++i)
    outside.push_back(rt.spawn([](int i) -> weft::task<long> {
      // Each spawns children on whatever worker it runs and joins them.
      std::vector<weft::join_handle<int>> hs;
      for (int k = 0; k < 50; ++k) hs.push_back(weft::spawn(busy_then_value(k % 4, k)));
      long s = 0;
      for (auto& h : hs) s += co_await h;
      co_return s + i;
    }(i)));
  long total = rt.block_on([](std::vector<weft::join_handle<long>>& hs) -> weft::task<long> {
    long s = 0;
    for (auto& h : hs) s += co_await h;
    co_return s;
  }(outside));
  CHECK(total == 100 * (49 * 50 / 2) + 99 * 100 / 2);
}

TEST_CASE("cancelling a when_all while its children finish", "[runtime][race]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> weft::task<void> {
    for (int round = 0; round < 50; ++round) {
      auto h = weft::spawn([](int round) -> weft::task<int> {
        auto [a, b, c] = co_await weft::when_all(sleepy(std::chrono::milliseconds(round % 3), 1),
                                                 busy_then_value(round % 5, 2), sleepy(1ms, 3));
        co_return a + b + c;
      }(round));
      if (round % 2) co_await weft::yield_now();
      h.cancel();
      try {
        int v = co_await h;
        CHECK(v == 6);
      } catch (const weft::operation_cancelled&) {
      }
    }
  }());
  CHECK(rt.metrics().live_tasks == 0);
}
