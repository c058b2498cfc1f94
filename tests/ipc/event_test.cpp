// ipc::event across processes: set/clear/is_set, tasks and worker processes
// waiting, timeouts, cancellation, set() then clear() pulses, and the
// handle's serialization.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../runtime/test_support.hpp"
#include "process_pool_test_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::ipc::event;
using weft::ipc::shared_value;
using namespace ipc_test;

namespace {

// Run in pool workers (the handles arrive serialized).
int set_after(event e, int ms) {
  ::usleep(static_cast<useconds_t>(ms) * 1000);
  e.set();
  return static_cast<int>(::getpid());
}
bool worker_sees_set(event e) { return e.is_set(); }
bool worker_waits_for(event e, int ms) { return e.blocking_wait_for(std::chrono::milliseconds(ms)); }

}  // namespace

TEST_CASE("ipc::event: set clear is_set timed waits and misuse", "[ipc][event]") {
  event e;
  CHECK_FALSE(e.is_set());
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(e.blocking_wait_for(40ms));
  CHECK(ms_since(t0) >= 40);
  CHECK_FALSE(e.blocking_wait_for(0ms));
  e.set();
  CHECK(e.is_set());
  e.set();  // idempotent
  CHECK(e.is_set());
  t0 = std::chrono::steady_clock::now();
  CHECK(e.blocking_wait_for(10s));
  e.blocking_wait();  // set: passes straight through
  CHECK(ms_since(t0) < 1000);
  e.clear();
  CHECK_FALSE(e.is_set());
  CHECK_FALSE(e.blocking_wait_for(5ms));
  e.clear();  // clearing a clear event changes nothing
  CHECK_FALSE(e.is_set());

  event born_set{true};
  CHECK(born_set.is_set());
  CHECK(born_set.blocking_wait_for(0ms));

  // Copies name the same event.
  event copy = e;
  copy.set();
  CHECK(e.is_set());

  event moved = std::move(born_set);
  CHECK(moved.is_set());
  CHECK_THROWS_AS(born_set.is_set(), std::logic_error);
  CHECK_THROWS_AS(born_set.set(), std::logic_error);
  CHECK_THROWS_AS(born_set.wait(), std::logic_error);
  CHECK_THROWS_WITH(born_set.blocking_wait(), Catch::Contains("empty"));

  // blocking_wait refuses a runtime worker thread; wait() in a task on a
  // set event returns at once.
  weft::runtime rt{{.workers = 1}};
  auto err = rt.block_on([](event ev) -> task<std::exception_ptr> {
    co_await ev.wait();
    try {
      ev.blocking_wait();
    } catch (...) {
      co_return std::current_exception();
    }
    co_return nullptr;
  }(moved));
  REQUIRE(err);
  CHECK_THROWS_WITH(std::rethrow_exception(err), Catch::Contains("weft::ipc::event::blocking_wait"));
}

TEST_CASE("ipc::event: a task's wait() is woken by a pool worker's set()", "[ipc][event]") {
  event e;
  weft::runtime rt{rt_options()};
  rt.block_on([](event ev) -> task<void> {
    weft::ipc::process_pool pool{{.workers = 2}};
    const int parent = static_cast<int>(::getpid());
    const auto t0 = std::chrono::steady_clock::now();
    auto setter = pool.submit(set_after, ev, 150);
    co_await weft::with_timeout(60s, ev.wait());
    const long long waited = ms_since(t0);
    CHECK(ev.is_set());
    CHECK(waited >= 140);  // it did wait for the worker
    const int setter_pid = co_await setter;
    CHECK(setter_pid != parent);

    // The worker sees the flag through its own copy of the handle; a
    // worker that waits on a clear event times out there.
    const bool seen = co_await pool.call(worker_sees_set, ev);
    CHECK(seen);
    ev.clear();
    const bool waited_out = co_await pool.call(worker_waits_for, ev, 30);
    CHECK_FALSE(waited_out);

    // A worker blocked in blocking_wait_for is woken by the parent's set().
    auto waiter = pool.submit(worker_waits_for, ev, 60'000);
    co_await weft::sleep_for(100ms);
    const auto t1 = std::chrono::steady_clock::now();
    ev.set();
    const bool woke = co_await weft::with_timeout(60s, std::move(waiter));
    CHECK(woke);
    CHECK(ms_since(t1) < 10'000);
    co_await pool.shutdown();
  }(e));
}

TEST_CASE("ipc::event: one set() wakes waiters in 4 processes", "[ipc][event]") {
  event e;
  shared_value<int> waiting{0};
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k)
    kids.push_back(fork_child([=] {
      waiting.fetch_add(1);
      return e.blocking_wait_for(60s) ? 0 : 1;
    }));
  REQUIRE(eventually([&] { return waiting.load() == 4; }));
  std::this_thread::sleep_for(100ms);  // all four asleep, most likely
  const auto t0 = std::chrono::steady_clock::now();
  e.set();
  for (int code : wait_children(kids)) CHECK(code == 0);
  CHECK(ms_since(t0) < 30'000);
  CHECK(e.is_set());
}

TEST_CASE("ipc::event: a set() then clear() pulse ends the waits begun before it", "[ipc][event]") {
  event e;
  shared_value<int> ready{0};
  const pid_t child = fork_child([=] {
    ready.store(1);
    return e.blocking_wait_for(60s) ? 0 : 1;  // returns true: it was set while it waited
  });
  REQUIRE(eventually([&] { return ready.load() == 1; }));
  std::this_thread::sleep_for(200ms);
  e.set();
  e.clear();
  CHECK(wait_child(child) == 0);
  CHECK_FALSE(e.is_set());

  // The same for a task: its wait began before the pulse.
  weft::runtime rt{{.workers = 2}};
  std::thread pulser([e] {
    std::this_thread::sleep_for(150ms);
    e.set();
    e.clear();
  });
  auto err = rt.block_on(weft_test::error_of(weft::with_timeout(60s, e.wait())));
  pulser.join();
  CHECK_FALSE(err);
  CHECK_FALSE(e.is_set());
  // A wait that begins after the pulse does not see it.
  auto late = rt.block_on(e.wait_for(30ms));
  CHECK_FALSE(late);
}

TEST_CASE("ipc::event: cancelled and timed-out task waits", "[ipc][event][cancel]") {
  event e;
  weft::runtime rt{{.workers = 2}};
  auto t0 = std::chrono::steady_clock::now();
  auto err = rt.block_on(weft_test::error_of(weft::with_timeout(100ms, e.wait())));
  CHECK_THROWS_AS(std::rethrow_exception(err), weft::timeout_error);
  CHECK(ms_since(t0) >= 100);
  CHECK(ms_since(t0) < 10'000);

  auto err2 = rt.block_on([](event ev) -> task<std::exception_ptr> {
    auto h = weft::spawn(ev.wait());
    co_await weft::sleep_for(30ms);
    h.cancel();
    co_return co_await weft_test::error_of(std::move(h));
  }(e));
  CHECK_THROWS_AS(std::rethrow_exception(err2), weft::operation_cancelled);

  // wait_for reports the time passing as false, without an exception.
  t0 = std::chrono::steady_clock::now();
  const bool timed = rt.block_on(e.wait_for(60ms));
  CHECK_FALSE(timed);
  CHECK(ms_since(t0) >= 60);

  // The abandoned waits took nothing: a set() afterwards reaches new waiters.
  std::thread setter([e] {
    std::this_thread::sleep_for(50ms);
    e.set();
  });
  const bool got = rt.block_on(e.wait_for(60s));
  setter.join();
  CHECK(got);
  const bool again = rt.block_on(e.wait_for(0ms));  // set: true with no wait at all
  CHECK(again);
}

TEST_CASE("ipc::event: the handle serializes and counts references and refuses stale bytes",
          "[ipc][event][serialize]") {
  event e;
  const auto bytes = encoded(e);
  CHECK(bytes.size() == 16);
  {
    auto d = decoded<event>(bytes);
    CHECK(weft::ipc::detail::handle_access::ref(e).use_count() == 2);
    d.set();
    CHECK(e.is_set());
  }
  CHECK(weft::ipc::detail::handle_access::ref(e).use_count() == 1);
  // Another kind of object, and an event freed before it was received.
  CHECK_THROWS_AS(decoded<weft::ipc::semaphore>(bytes), weft::ipc::serialization_error);
  auto stale = encoded(event{});
  CHECK_THROWS_AS(decoded<event>(stale), weft::ipc::serialization_error);
  event moved = std::move(e);
  CHECK_THROWS_AS(encoded(e), weft::ipc::serialization_error);
  CHECK(moved.is_set());
}
