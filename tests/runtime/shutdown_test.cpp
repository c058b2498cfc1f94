// Shutdown: pending tasks are destroyed (their frames' destructors run),
// nothing leaks (checked by the ASan/LSan build), threads and fds are gone.
#include <catch2/catch.hpp>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "weft/weft.hpp"

using namespace std::chrono_literals;

namespace {

std::atomic<int> constructed{0};

// Counts frames whose body started (constructed) and whose locals were
// destroyed; a task that never started has nothing to destroy.
struct counted {
  std::atomic<int>* destroyed;
  explicit counted(std::atomic<int>& d) : destroyed(&d) { ++constructed; }
  counted(const counted&) = delete;
  ~counted() { ++*destroyed; }
};

weft::task<void> sleeps_forever(std::atomic<int>& destroyed) {
  counted c(destroyed);
  co_await weft::sleep_for(1h);
}

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
