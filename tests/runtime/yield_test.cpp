// weft/runtime/yield.hpp: yield_now lets the other tasks of the worker run
// (the yielding task goes behind those already queued) and throws
// operation_cancelled instead of yielding once stop was requested.
#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "weft/weft.hpp"

using namespace std::chrono_literals;

TEST_CASE("yield_now lets other tasks run and observes cancellation", "[runtime][spawn]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> weft::task<void> {
    std::vector<int> order;
    auto a = weft::spawn([](std::vector<int>& o) -> weft::task<void> {
      for (int i = 0; i < 3; ++i) {
        o.push_back(1);
        co_await weft::yield_now();
      }
    }(order));
    auto b = weft::spawn([](std::vector<int>& o) -> weft::task<void> {
      for (int i = 0; i < 3; ++i) {
        o.push_back(2);
        co_await weft::yield_now();
      }
    }(order));
    co_await a;
    co_await b;
    // Interleaved, not one after the other.
    CHECK(order == std::vector<int>{1, 2, 1, 2, 1, 2});

    auto spinner = weft::spawn([]() -> weft::task<void> {
      for (;;) co_await weft::yield_now();
    }());
    co_await weft::sleep_for(5ms);
    spinner.cancel();
    CHECK_THROWS_AS(co_await spinner, weft::operation_cancelled);
  }());
}

TEST_CASE("yield_now goes behind the tasks already queued on its worker", "[runtime][yield]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> weft::task<void> {
    std::vector<int> ran;
    std::vector<weft::join_handle<void>> hs;
    // Queued on this (the only) worker; none runs before this task suspends.
    for (int i = 0; i < 3; ++i)
      hs.push_back(weft::spawn([](std::vector<int>& ran, int i) -> weft::task<void> {
        ran.push_back(i);
        co_return;
      }(ran, i)));
    CHECK(ran.empty());
    co_await weft::yield_now();  // to the back of the queue (not the LIFO slot): the three run first
    CHECK(ran == std::vector<int>{0, 1, 2});
    for (auto& h : hs) {
      CHECK(h.is_finished());
      co_await h;
    }
  }());
}

TEST_CASE("yield_now in a task whose stop was requested throws every time, without yielding",
          "[runtime][yield][cancel]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> weft::task<void> {
    std::vector<int> steps;
    auto h = weft::spawn([](std::vector<int>& steps) -> weft::task<int> {
      try {
        co_await weft::sleep_for(10s);
      } catch (const weft::operation_cancelled&) {
        steps.push_back(-1);
      }
      // Stop stays requested: each yield throws instead of yielding.
      int caught = 0;
      for (int i = 0; i < 3; ++i) {
        try {
          co_await weft::yield_now();
          steps.push_back(i);
        } catch (const weft::operation_cancelled&) {
          ++caught;
        }
      }
      co_return caught;
    }(steps));
    co_await weft::sleep_for(5ms);  // it runs and sleeps
    h.cancel();
    int caught = co_await h;
    CHECK(caught == 3);
    CHECK(steps == std::vector<int>{-1});
  }());
}
