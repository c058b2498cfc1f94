// weft/runtime/spawn.hpp: spawn and join_handle: results, exceptions,
// detach, cancel, is_finished, a handle awaited as a temporary or kept;
// and where spawned tasks go (stealing, the inject queue, overflow).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft_test::square;

namespace {

weft::task<int> throws_logic() {
  throw std::logic_error("bad");
  co_return 0;
}

weft::task<void> sleep_long() { co_await weft::sleep_for(10s); }

}  // namespace

TEST_CASE("spawned tasks return their values", "[runtime][spawn]") {
  weft::runtime rt{{.workers = 2}};
  int r = rt.block_on([]() -> weft::task<int> {
    auto a = weft::spawn(square(3));
    auto b = weft::spawn(square(4));
    co_return co_await a + co_await b;
  }());
  CHECK(r == 25);
}

TEST_CASE("a spawned task's exception reaches its joiner", "[runtime][spawn]") {
  weft::runtime rt{{.workers = 2}};
  auto t = []() -> weft::task<void> {
    auto h = weft::spawn(throws_logic());
    CHECK_THROWS_AS(co_await h, std::logic_error);
  };
  rt.block_on(t());
}

TEST_CASE("detached tasks' exceptions go to the handler", "[runtime][spawn]") {
  std::mutex mu;
  std::vector<std::string> seen;
  {
    weft::runtime rt{{.workers = 2, .unhandled_exception = [&](std::exception_ptr e) {
                        try {
                          std::rethrow_exception(e);
                        } catch (const std::exception& ex) {
                          std::lock_guard lock(mu);
                          seen.emplace_back(ex.what());
                        }
                      }}};
    rt.block_on([]() -> weft::task<void> {
      weft::spawn(throws_logic()).detach();  // fails later, detached
      auto h = weft::spawn(throws_logic());  // fails, then the handle is dropped unjoined
      co_await weft::sleep_for(20ms);
      CHECK(h.is_finished());
      // a cancelled detached task is not reported
      auto c = weft::spawn(sleep_long());
      c.cancel();
      c.detach();
      co_await weft::sleep_for(20ms);
    }());
  }
  std::lock_guard lock(mu);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == "bad");
  CHECK(seen[1] == "bad");
}

TEST_CASE("cancel a sleeping task", "[runtime][cancel]") {
  weft::runtime rt{{.workers = 2}};
  auto start = std::chrono::steady_clock::now();
  rt.block_on([]() -> weft::task<void> {
    auto h = weft::spawn(sleep_long());
    co_await weft::sleep_for(10ms);
    CHECK_FALSE(h.is_finished());
    h.cancel();
    CHECK_THROWS_AS(co_await h, weft::operation_cancelled);
  }());
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("cancel before the task starts: it never runs", "[runtime][cancel]") {
  weft::runtime rt{{.workers = 1}};
  std::atomic<bool> ran{false};
  rt.block_on([](std::atomic<bool>& ran) -> weft::task<void> {
    auto h = weft::spawn([](std::atomic<bool>& ran) -> weft::task<void> {
      ran = true;
      co_return;
    }(ran));
    h.cancel();
    CHECK_THROWS_AS(co_await h, weft::operation_cancelled);
  }(ran));
  CHECK_FALSE(ran);
}

TEST_CASE("cancel a task that awaits another task", "[runtime][cancel]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> weft::task<void> {
    auto inner = weft::spawn(sleep_long());
    auto outer = weft::spawn([](weft::join_handle<void> inner) -> weft::task<void> {
      co_await inner;  // waits for the sleeper
    }(std::move(inner)));
    co_await weft::sleep_for(10ms);
    outer.cancel();
    CHECK_THROWS_AS(co_await outer, weft::operation_cancelled);
  }());
}

TEST_CASE("a cancelled task can catch operation_cancelled and return a value", "[runtime][cancel]") {
  weft::runtime rt{{.workers = 2}};
  int r = rt.block_on([]() -> weft::task<int> {
    auto h = weft::spawn([]() -> weft::task<int> {
      try {
        co_await weft::sleep_for(10s);
      } catch (const weft::operation_cancelled&) {
        co_return -1;
      }
      co_return 1;
    }());
    co_await weft::sleep_for(5ms);
    h.cancel();
    co_return co_await h;
  }());
  CHECK(r == -1);
}

TEST_CASE("a million spawned tasks each run exactly once", "[runtime][spawn]") {
  constexpr int n = 1'000'000;
  std::vector<std::atomic<unsigned char>> runs(n);
  weft::runtime rt{{.workers = 2}};
  rt.block_on([](std::vector<std::atomic<unsigned char>>& runs) -> weft::task<void> {
    std::vector<weft::join_handle<void>> hs;
    hs.reserve(runs.size());
    for (std::size_t i = 0; i < runs.size(); ++i)
      hs.push_back(weft::spawn([](std::atomic<unsigned char>& r) -> weft::task<void> {
        r.fetch_add(1, std::memory_order_relaxed);
        co_return;
      }(runs[i])));
    for (auto& h : hs) co_await h;
  }(runs));
  std::size_t bad = 0;
  for (auto& r : runs) bad += r.load() != 1;
  CHECK(bad == 0);
  CHECK(rt.metrics().live_tasks == 0);
}

TEST_CASE("workers steal when one worker spawns all the work", "[runtime][scheduler]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> done{0};
  rt.block_on([](std::atomic<int>& done) -> weft::task<void> {
    std::vector<weft::join_handle<void>> hs;
    // Fewer than a local queue holds: none spill to the inject queue, so
    // the other worker can only get them by stealing.
    for (int i = 0; i < 200; ++i)
      hs.push_back(weft::spawn([](std::atomic<int>& d) -> weft::task<void> {
        d.fetch_add(1);
        co_return;
      }(done)));
    // Hold this worker (no suspension) until the other one has taken work
    // from our queue: only stealing can make progress meanwhile.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (done.load() == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    CHECK(done.load() > 0);
    for (auto& h : hs) co_await h;
  }(done));
  CHECK(done == 200);
  auto m = rt.metrics();
  REQUIRE(m.workers.size() == 2);
  CHECK(m.total().tasks_stolen > 0);
  CHECK(m.total().steal_operations > 0);
  CHECK(m.workers[0].tasks_polled > 0);
  CHECK(m.workers[1].tasks_polled > 0);
}

TEST_CASE("work from outside the runtime goes through the inject queue", "[runtime][scheduler]") {
  weft::runtime rt{{.workers = 2}};
  std::vector<weft::join_handle<int>> hs;
  std::vector<std::thread> threads;
  std::mutex mu;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) {
        auto h = rt.spawn(square(t * 1000 + i));
        std::lock_guard lock(mu);
        hs.push_back(std::move(h));
      }
    });
  for (auto& th : threads) th.join();
  long sum = rt.block_on([](std::vector<weft::join_handle<int>>& hs) -> weft::task<long> {
    long s = 0;
    for (auto& h : hs) s += co_await h;
    co_return s;
  }(hs));
  long want = 0;
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < 250; ++i) want += static_cast<long>(t * 1000 + i) * (t * 1000 + i);
  CHECK(sum == want);
  CHECK(rt.metrics().total().inject_pops > 0);
}

TEST_CASE("local queue overflow spills to the inject queue", "[runtime][scheduler]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> weft::task<void> {
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 5000; ++i) hs.push_back(weft::spawn(square(i)));
    long s = 0;
    for (auto& h : hs) s += co_await h;
    CHECK(s > 0);
  }());
  CHECK(rt.metrics().total().local_overflows > 0);
}

TEST_CASE("a handle awaited as a temporary is cancelled with its waiter, an lvalue one runs on", "[runtime][spawn]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> weft::task<void> {
    auto sleeper = [](std::shared_ptr<std::atomic<int>> ended) -> weft::task<void> {
      try {
        co_await weft::sleep_for(std::chrono::seconds(5));
        ended->store(1);
      } catch (const weft::operation_cancelled&) {
        ended->store(2);
        throw;
      }
    };
    auto temp_end = std::make_shared<std::atomic<int>>(0);
    auto waiter =
        weft::spawn([](auto s, auto end) -> weft::task<void> { co_await weft::spawn(s(end)); }(sleeper, temp_end));
    co_await weft::sleep_for(std::chrono::milliseconds(50));
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const weft::operation_cancelled&) {
    }
    for (int i = 0; i < 100 && temp_end->load() == 0; ++i) co_await weft::sleep_for(std::chrono::milliseconds(5));
    CHECK(temp_end->load() == 2);  // cancelled, not left sleeping

    auto kept_end = std::make_shared<std::atomic<int>>(0);
    auto kept = weft::spawn(sleeper(kept_end));
    auto waiter2 = weft::spawn([](weft::join_handle<void>& h) -> weft::task<void> { co_await h; }(kept));
    co_await weft::sleep_for(std::chrono::milliseconds(50));
    waiter2.cancel();
    try {
      co_await waiter2;
    } catch (const weft::operation_cancelled&) {
    }
    co_await weft::sleep_for(std::chrono::milliseconds(50));
    CHECK(kept_end->load() == 0);  // still running: we hold its handle
    kept.cancel();
  }());
}
