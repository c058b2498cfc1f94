// Shutdown: pending tasks are destroyed (their frames' destructors run),
// nothing leaks (checked by the ASan/LSan build), threads and fds are gone,
// and one line on stderr counts the destroyed tasks (not service tasks).
#include <catch2/catch.hpp>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "shutdown_support.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft_test::constructed;
using weft_test::counted;
using weft_test::leave_sleepers;
using weft_test::quick;
using weft_test::sleeps_forever;

namespace {

weft::task<void> joins(weft::join_handle<void> other, std::atomic<int>& destroyed) {
  counted c(destroyed);
  co_await other;
}

int count_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

int count_threads() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

}  // namespace

TEST_CASE("pending tasks are destroyed at shutdown", "[runtime][shutdown]") {
  std::atomic<int> destroyed{0};
  constructed = 0;
  weft_test::stderr_capture err;
  {
    weft::runtime rt{{.workers = 2}};
    rt.block_on([](std::atomic<int>& d) -> weft::task<void> {
      for (int i = 0; i < 100; ++i) weft::spawn(sleeps_forever(d)).detach();
      // A chain: each awaits the previous (handles held in frames).
      auto h = weft::spawn(sleeps_forever(d));
      for (int i = 0; i < 50; ++i) h = weft::spawn(joins(std::move(h), d));
      h.detach();
      // Spawned but never started: cancel cannot run them either.
      co_await weft::sleep_for(10ms);
    }(destroyed));
    // And a few only queued from outside, right before shutdown.
    for (int i = 0; i < 10; ++i) rt.spawn(sleeps_forever(destroyed)).detach();
  }
  CHECK(constructed >= 100 + 1 + 50);
  CHECK(destroyed == constructed);
  // Every one of them is counted, started or not: 100 + 1 + 50 + 10.
  CHECK(err.text() ==
        "weft: runtime shut down with 161 tasks unfinished; they were destroyed "
        "(runtime_options::report_unfinished = false silences this)\n");
}

TEST_CASE("a handle outlives its runtime: the task reads as cancelled", "[runtime][shutdown]") {
  std::atomic<int> destroyed{0};
  constructed = 0;
  weft::join_handle<void> h;
  {
    weft::runtime rt{{.workers = 1}};
    h = rt.spawn(sleeps_forever(destroyed));
    std::this_thread::sleep_for(20ms);  // let it start sleeping
  }
  CHECK(constructed == 1);
  CHECK(destroyed == 1);
  CHECK(h.is_finished());
}

TEST_CASE("shutdown leaves no threads or descriptors behind", "[runtime][shutdown]") {
  // Warm up lazily created process-wide state (e.g. the io_uring probe).
  { weft::runtime warm{{.workers = 1}}; }
  const int fds = count_fds();
  const int threads = count_threads();
  for (auto backend : {weft::io_backend::io_uring, weft::io_backend::epoll}) {
    std::atomic<int> destroyed{0};
    {
      weft::runtime rt{{.workers = 3, .io = backend}};
      rt.block_on([](std::atomic<int>& d) -> weft::task<void> {
        for (int i = 0; i < 10; ++i) weft::spawn(sleeps_forever(d)).detach();
        co_await weft::sleep_for(1ms);
      }(destroyed));
    }
    CHECK(destroyed == 10);  // all had started: the spawner slept after spawning
    CHECK(count_fds() == fds);
    CHECK(count_threads() == threads);
  }
}

TEST_CASE("many runtimes one after another", "[runtime][shutdown]") {
  for (int i = 0; i < 20; ++i) {
    weft::runtime rt{{.workers = 2}};
    CHECK(rt.block_on([](int i) -> weft::task<int> {
      auto h = weft::spawn([](int i) -> weft::task<int> { co_return i; }(i));
      co_return co_await h;
    }(i)) == i);
  }
}

namespace {

const std::string report_tail = "(runtime_options::report_unfinished = false silences this)\n";

// A service task that spawns a detached child and waits in when_any on two
// more children (all service tasks by inheritance), then never finishes.
weft::task<void> service_with_children(std::atomic<int>& destroyed, std::atomic<bool>& ready) {
  weft::spawn(sleeps_forever(destroyed)).detach();
  ready = true;
  co_await weft::when_any(sleeps_forever(destroyed), sleeps_forever(destroyed));
}

}  // namespace

TEST_CASE("shutdown reports the tasks it destroys unfinished in one line", "[runtime][shutdown]") {
  std::atomic<int> destroyed{0};
  SECTION("several") {
    weft_test::stderr_capture err;
    {
      weft::runtime rt{{.workers = 2}};
      rt.block_on(leave_sleepers(3, destroyed));
    }
    CHECK(err.text() == "weft: runtime shut down with 3 tasks unfinished; they were destroyed " + report_tail);
  }
  SECTION("one") {
    weft_test::stderr_capture err;
    {
      weft::runtime rt{{.workers = 1}};
      rt.block_on(leave_sleepers(1, destroyed));
    }
    CHECK(err.text() == "weft: runtime shut down with 1 task unfinished; it was destroyed " + report_tail);
  }
  SECTION("weft::run returns while a task it spawned still runs") {
    weft_test::stderr_capture err;
    CHECK(weft::run(
              [](std::atomic<int>& d) -> weft::task<int> {
                weft::spawn(sleeps_forever(d)).detach();
                co_return 7;
              }(destroyed),
              {.workers = 2}) == 7);
    CHECK(err.text() == "weft: runtime shut down with 1 task unfinished; it was destroyed " + report_tail);
  }
  SECTION("spawned from outside the workers, never started") {
    weft_test::stderr_capture err;
    {
      weft::runtime rt{{.workers = 1}};
      for (int i = 0; i < 4; ++i) rt.spawn(sleeps_forever(destroyed)).detach();
      auto h = rt.spawn(sleeps_forever(destroyed));  // a handle kept: counted too
    }
    CHECK(err.text() == "weft: runtime shut down with 5 tasks unfinished; they were destroyed " + report_tail);
  }
  SECTION("nothing unfinished: no line") {
    weft_test::stderr_capture err;
    {
      weft::runtime rt{{.workers = 2}};
      CHECK(rt.block_on(quick(5)) == 5);
      rt.block_on([]() -> weft::task<void> {
        std::vector<weft::join_handle<int>> hs;
        for (int i = 0; i < 20; ++i) hs.push_back(weft::spawn(quick(i)));
        for (auto& h : hs) (void)co_await h;
      }());
    }
    CHECK(err.text().empty());
  }
}

TEST_CASE("service tasks and their children are not counted at shutdown", "[runtime][shutdown]") {
  std::atomic<int> destroyed{0};
  constructed = 0;
  auto body = [](std::atomic<int>& d, int user_tasks) -> weft::task<void> {
    std::atomic<bool> ready{false};
    weft::detail::spawn_service(sleeps_forever(d));
    weft::detail::spawn_service(service_with_children(d, ready));
    for (int i = 0; i < user_tasks; ++i) weft::spawn(sleeps_forever(d)).detach();
    while (!ready) co_await weft::sleep_for(1ms);
    co_await weft::sleep_for(20ms);  // the when_any children are spawned by now
  };
  SECTION("services only: no line") {
    weft_test::stderr_capture err;
    {
      weft::runtime rt{{.workers = 2}};
      rt.block_on(body(destroyed, 0));
    }
    CHECK(err.text().empty());
  }
  SECTION("services and two tasks of the program's own") {
    weft_test::stderr_capture err;
    {
      weft::runtime rt{{.workers = 2}};
      rt.block_on(body(destroyed, 2));
    }
    CHECK(err.text() == "weft: runtime shut down with 2 tasks unfinished; they were destroyed " + report_tail);
  }
  // Service tasks are destroyed all the same.
  CHECK(destroyed == constructed);
}

TEST_CASE("a service task's failure is still reported", "[runtime][shutdown]") {
  std::atomic<int> reports{0};
  weft::runtime rt{{.workers = 1, .unhandled_exception = [&](std::exception_ptr) { ++reports; }}};
  rt.block_on([]() -> weft::task<void> {
    weft::detail::spawn_service([]() -> weft::task<void> {
      co_await weft::sleep_for(1ms);
      throw std::runtime_error("service failed");
    }());
    co_await weft::sleep_for(50ms);
  }());
  for (int i = 0; i < 400 && reports == 0; ++i) std::this_thread::sleep_for(5ms);
  CHECK(reports == 1);
}
