// weft/runtime/sync.hpp: the sync primitives together: blocking waits
// refused on a worker thread, waiters destroyed at shutdown leaving every
// primitive usable, and fibers (weft::await) sharing mutexes, channels,
// condition variables and semaphores with tasks. Each primitive on its own:
// its header's test file (mutex_test.cpp, channel_test.cpp, ...).
//
// Catch2 assertions are not thread-safe: tasks running concurrently on
// several workers record what they saw in atomics or vectors, and the
// assertions run afterwards in one place.
#include <chrono>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "sync_support.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft_test::increment;

TEST_CASE("blocking waits refuse to run on a worker thread", "[sync]") {
  weft::runtime rt{{.workers = 1}};
  weft::mutex m;
  auto t = [](weft::mutex& m) -> task<bool> {
    try {
      auto g = m.blocking_lock();
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  };
  CHECK(rt.block_on(t(m)));
}

TEST_CASE("a task waiting on a primitive is destroyed cleanly at shutdown", "[sync][shutdown]") {
  weft::mutex m;
  weft::semaphore s{0};
  weft::event e;
  auto holder = m.blocking_lock();
  {
    weft::runtime rt{{.workers = 2}};
    rt.spawn([](weft::mutex& m) -> task<void> { auto g = co_await m.lock(); }(m)).detach();
    rt.spawn([](weft::semaphore& s) -> task<void> { co_await s.acquire(); }(s)).detach();
    rt.spawn([](weft::event& e) -> task<void> { co_await e.wait(); }(e)).detach();
    std::this_thread::sleep_for(10ms);
  }
  // The destroyed waiters left the queues: the primitives work on.
  holder.unlock();
  CHECK(m.try_lock());
  s.release();
  CHECK(s.try_acquire());
  e.set();
  e.blocking_wait();
}

// ------------------------------------------------------------------ fibers

namespace {
// Plain functions (not coroutines) that wait through weft::await.
void fiber_increment(weft::mutex& m, long& counter, int times) {
  for (int i = 0; i < times; ++i) {
    auto guard = weft::await(m.lock());
    long v = counter;
    if (i % 64 == 0) weft::await(weft::yield_now());  // hold it across a suspension
    counter = v + 1;
  }
}

long fiber_consume(weft::channel<int>& ch) {
  long sum = 0;
  while (auto v = weft::await(ch.recv())) sum += *v;
  return sum;
}

task<void> fibers_and_tasks_share_primitives() {
  weft::mutex m;
  long counter = 0;
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 3; ++i) {
    hs.push_back(weft::spawn_fiber([&] { fiber_increment(m, counter, 5'000); }));
    hs.push_back(weft::spawn(increment(m, counter, 5'000)));
  }
  for (auto& h : hs) co_await h;
  CHECK(counter == 30'000);

  // A channel between a task producer and fiber consumers, closed at the end.
  weft::channel<int> ch{4};
  auto c1 = weft::spawn_fiber([&] { return fiber_consume(ch); });
  auto c2 = weft::spawn_fiber([&] { return fiber_consume(ch); });
  for (int i = 1; i <= 1000; ++i) co_await ch.send(i);
  ch.close();
  const long a = co_await c1;
  const long b = co_await c2;
  CHECK(a + b == 500'500);

  // A condition variable with a fiber waiting and a task notifying.
  weft::condition_variable cv;
  bool ready = false;
  auto waiter = weft::spawn_fiber([&] {
    auto lk = weft::await(m.lock());
    weft::await(cv.wait(lk, [&] { return ready; }));
    return lk.owns_lock();
  });
  co_await weft::sleep_for(2ms);
  {
    auto lk = co_await m.lock();
    ready = true;
  }
  cv.notify_all();
  const bool relocked = co_await waiter;
  CHECK(relocked);

  // Cancelling a fiber waiting on a semaphore: it leaves the queue.
  weft::semaphore s{0};
  auto stuck = weft::spawn_fiber([&] { weft::await(s.acquire()); });
  co_await weft::sleep_for(2ms);
  stuck.cancel();
  CO_REQUIRE_THROWS_AS(std::move(stuck), weft::operation_cancelled);
  s.release();
  CHECK(s.available() == 1);
}
}  // namespace

TEST_CASE("fibers and tasks share mutexes, channels and condition variables", "[sync][fiber]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(fibers_and_tasks_share_primitives());
}
