// weft/runtime/blocking.hpp: spawn_blocking's results and arguments, the
// pool growing, max_blocking_threads and the keep-alive, cancellation of
// queued and running jobs, shutdown, runtime::spawn_blocking.
//
// Timings are only asserted with generous bounds.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
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

// Spins (on a pool thread) until flag is set; false after 5 s.
bool wait_for_flag(const std::atomic<bool>& flag) {
  const auto give_up = clock::now() + 5s;
  while (!flag.load()) {
    if (clock::now() > give_up) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

int pool_threads_named(const std::string& name) {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::string s;
      std::getline(comm, s);
      if (s == name) ++n;
    }
    ::closedir(d);
  }
  return n;
}

struct copy_counter {
  int copies = 0;
  copy_counter() = default;
  copy_counter(const copy_counter& o) : copies(o.copies + 1) {}
  copy_counter(copy_counter&& o) noexcept : copies(o.copies) {}
};

}  // namespace

// ---------------------------------------------------------------- spawn_blocking

TEST_CASE("spawn_blocking returns the result or rethrows", "[runtime][blocking]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    int v = co_await weft::spawn_blocking([](int a, int b) { return a * b; }, 6, 7);
    CHECK(v == 42);
    std::string s = co_await weft::spawn_blocking([] { return std::string(1000, 'x'); });
    CHECK(s.size() == 1000);
    std::atomic<bool> ran{false};
    co_await weft::spawn_blocking([&ran] { ran = true; });  // void
    CHECK(ran.load());
    CO_REQUIRE_THROWS_AS(weft::spawn_blocking([]() -> int { throw std::runtime_error("boom"); }), std::runtime_error);
    // Runs on a pool thread, not on a worker.
    bool on_worker = co_await weft::spawn_blocking([] { return weft::this_worker().has_value(); });
    CHECK_FALSE(on_worker);
  }());
}

TEST_CASE("spawn_blocking copies or moves its arguments into the job", "[runtime][blocking]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    auto p = std::make_unique<int>(5);
    int got = co_await weft::spawn_blocking([](std::unique_ptr<int> q) { return *q + 1; }, std::move(p));
    CHECK(got == 6);
    CHECK(p == nullptr);

    copy_counter c;  // an lvalue: copied once, then only moved
    int copies = co_await weft::spawn_blocking([](copy_counter x) { return x.copies; }, c);
    CHECK(copies == 1);
    int moved = co_await weft::spawn_blocking([](copy_counter x) { return x.copies; }, copy_counter{});
    CHECK(moved == 0);

    std::string s = "by value";
    auto h = weft::spawn_blocking(
        [](std::string own) {
          own += "!";
          return own;
        },
        s);
    std::string r = co_await h;
    CHECK(r == "by value!");
    CHECK(s == "by value");  // the job had its own copy
  }());
}

TEST_CASE("the pool grows for many jobs", "[runtime][blocking]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> now{0}, most{0};
  const auto t0 = clock::now();
  rt.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 64; ++i)
      hs.push_back(weft::spawn_blocking([i, &now, &most] {
        int n = ++now;
        int m = most.load();
        while (n > m && !most.compare_exchange_weak(m, n)) {
        }
        std::this_thread::sleep_for(20ms);
        --now;
        return i;
      }));
    int sum = 0;
    for (auto& h : hs) sum += co_await h;
    CHECK(sum == 64 * 63 / 2);
  }());
  const auto took = clock::now() - t0;
  INFO("64 jobs of 20 ms took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  // One thread would need 1280 ms; no bound on time (sanitizers make
  // starting threads slow), but the jobs did overlap.
  CHECK(took < 64 * 20ms * 4);
  CHECK(most.load() > 2);
  // The last threads go back to idle just after waking their tasks.
  const auto give_up = clock::now() + 5s;
  while (rt.metrics().blocking_idle != rt.metrics().blocking_threads && clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  const auto m = rt.metrics();
  CHECK(m.blocking_threads > 2);
  CHECK(m.blocking_threads <= 64);
  CHECK(m.blocking_idle == m.blocking_threads);  // all idle until the keep-alive
  CHECK(m.blocking_queue_depth == 0);
  CHECK(m.workers.size() == 2);
}

TEST_CASE("max_blocking_threads caps concurrency, the rest queue", "[runtime][blocking]") {
  weft::runtime rt{{.workers = 2, .max_blocking_threads = 2}};
  std::atomic<int> now{0}, most{0};
  std::uint64_t deepest_queue = 0;
  rt.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 8; ++i)
      hs.push_back(weft::spawn_blocking([&] {
        int n = ++now;
        int m = most.load();
        while (n > m && !most.compare_exchange_weak(m, n)) {
        }
        std::this_thread::sleep_for(30ms);
        --now;
      }));
    co_await weft::sleep_for(10ms);
    deepest_queue = weft::runtime::current()->metrics().blocking_queue_depth;
    for (auto& h : hs) co_await h;
  }());
  CHECK(most.load() == 2);
  CHECK(deepest_queue >= 1);
  CHECK(rt.metrics().blocking_threads == 2);
}

TEST_CASE("idle pool threads exit after the keep-alive", "[runtime][blocking]") {
  weft::runtime rt{{.workers = 2, .thread_name = "idletest", .blocking_keep_alive = 50ms}};
  rt.block_on([]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 3; ++i) hs.push_back(weft::spawn_blocking([] { std::this_thread::sleep_for(20ms); }));
    for (auto& h : hs) co_await h;
  }());
  CHECK(rt.metrics().blocking_threads >= 1);
  const auto give_up = clock::now() + 5s;
  while (rt.metrics().blocking_threads != 0 && clock::now() < give_up) std::this_thread::sleep_for(5ms);
  CHECK(rt.metrics().blocking_threads == 0);
  CHECK(rt.metrics().blocking_idle == 0);
  // And the pool starts threads again afterwards.
  int v = rt.block_on([]() -> task<int> { co_return co_await weft::spawn_blocking([] { return 3; }); }());
  CHECK(v == 3);
}

TEST_CASE("cancelling a queued job drops it", "[runtime][blocking][cancel]") {
  weft::runtime rt{{.workers = 2, .max_blocking_threads = 1}};
  std::atomic<bool> first_started{false}, release{false}, second_ran{false};
  rt.block_on([&]() -> task<void> {
    auto first = weft::spawn_blocking([&] {
      first_started = true;
      return wait_for_flag(release);
    });
    weft::runtime& r = *weft::runtime::current();
    // Submit the second only once the first runs (the tasks that submit
    // them may run in either order on two workers): the one thread is busy,
    // so the second is queued.
    bool running = co_await eventually([&] { return first_started.load(); });
    REQUIRE(running);
    auto second = weft::spawn_blocking([&] { second_ran = true; });
    bool queued = co_await eventually([&] { return r.metrics().blocking_queue_depth == 1; });
    REQUIRE(queued);
    second.cancel();
    CO_REQUIRE_THROWS_AS(std::move(second), weft::operation_cancelled);
    CHECK(r.metrics().blocking_queue_depth == 0);
    release = true;
    bool ok = co_await first;
    CHECK(ok);
    // A later job still runs: the one thread was not lost.
    int v = co_await weft::spawn_blocking([] { return 1; });
    CHECK(v == 1);
  }());
  CHECK_FALSE(second_ran.load());
}

TEST_CASE("cancelling a running job has no effect", "[runtime][blocking][cancel]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<bool> started{false}, release{false};
  rt.block_on([&]() -> task<void> {
    auto h = weft::spawn_blocking([&] {
      started = true;
      wait_for_flag(release);
      return 99;
    });
    bool up = co_await eventually([&] { return started.load(); });
    REQUIRE(up);
    h.cancel();
    release = true;
    int v = co_await h;
    CHECK(v == 99);
  }());
}

TEST_CASE("a cancelled task never queues its job", "[runtime][blocking][cancel]") {
  weft::runtime rt{{.workers = 1}};
  std::atomic<bool> ran{false};
  rt.block_on([&]() -> task<void> {
    // On one worker the spawned body cannot start before cancel().
    auto h = weft::spawn_blocking([&] { ran = true; });
    h.cancel();
    CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
  }());
  CHECK_FALSE(ran.load());
}

TEST_CASE("shutdown drops queued jobs, waits for running ones, joins the threads", "[runtime][blocking]") {
  std::atomic<bool> started{false}, finished{false}, queued_ran{false};
  {
    weft::runtime rt{{.workers = 2, .thread_name = "shut", .max_blocking_threads = 1}};
    auto running = rt.spawn_blocking([&] {
      started = true;
      std::this_thread::sleep_for(100ms);
      finished = true;
    });
    // Only once the first job runs is the second submitted: the two tasks
    // that submit them may run in either order on two workers.
    const auto give_up = clock::now() + 5s;
    while (!started && clock::now() < give_up) std::this_thread::sleep_for(1ms);
    REQUIRE(started.load());
    auto queued = rt.spawn_blocking([&] { queued_ran = true; });
    while (rt.metrics().blocking_queue_depth != 1 && clock::now() < give_up) std::this_thread::sleep_for(1ms);
    REQUIRE(rt.metrics().blocking_queue_depth == 1);
    CHECK(pool_threads_named("shut-blk") == 1);
  }
  CHECK(finished.load());
  CHECK_FALSE(queued_ran.load());
  CHECK(pool_threads_named("shut-blk") == 0);
}

namespace shutdown_cancel {
// A task that, when its frame is destroyed, cancels a handle it holds.
struct cancel_on_destroy {
  weft::join_handle<void>* h;
  ~cancel_on_destroy() { h->cancel(); }
};
task<void> hold_and_cancel(weft::join_handle<void> h, weft::event& never) {
  cancel_on_destroy guard{&h};
  co_await never.wait();
}
task<void> spawn_then_hold(weft::event& never) {
  auto after = weft::spawn_blocking([] {});
  co_await hold_and_cancel(std::move(after), never);
}
}  // namespace shutdown_cancel

// A frame destroyed at shutdown may cancel handles of tasks whose frames
// are already gone (in either order of destruction): cancel() must then do
// nothing, not run a stop callback its destroyed frame left behind.
TEST_CASE("at shutdown a destroyed frame may cancel handles of destroyed tasks", "[runtime][blocking][cancel]") {
  using namespace shutdown_cancel;
  std::atomic<bool> started{false};
  weft::event never;
  {
    weft::runtime rt{{.workers = 1, .max_blocking_threads = 1}};
    auto busy = rt.spawn_blocking([&] {
      started = true;
      std::this_thread::sleep_for(50ms);
    });
    const auto give_up = clock::now() + 5s;
    while (!started && clock::now() < give_up) std::this_thread::sleep_for(1ms);
    REQUIRE(started.load());
    // Queued behind `busy`: their tasks stay suspended with a stop callback.
    auto before = rt.spawn_blocking([] {});
    auto holder1 = rt.spawn(hold_and_cancel(std::move(before), never));
    auto holder2 = rt.spawn(spawn_then_hold(never));
    while (rt.metrics().blocking_queue_depth != 2 && clock::now() < give_up) std::this_thread::sleep_for(1ms);
    REQUIRE(rt.metrics().blocking_queue_depth == 2);
    holder1.detach();
    holder2.detach();
  }
  SUCCEED("the runtime shut down without touching a destroyed frame");
}

TEST_CASE("runtime::spawn_blocking from outside the runtime", "[runtime][blocking]") {
  weft::runtime rt{{.workers = 2, .thread_name = "outer"}};
  auto h = rt.spawn_blocking(
      [](int x) {
        char name[16] = {};
        pthread_getname_np(pthread_self(), name, sizeof name);
        return std::string(name) + ":" + std::to_string(x * 2);
      },
      21);
  std::string r =
      rt.block_on([](weft::join_handle<std::string> h) -> task<std::string> { co_return co_await h; }(std::move(h)));
  CHECK(r == "outer-blk:42");
  CHECK(rt.metrics().blocking_threads == 1);
}
