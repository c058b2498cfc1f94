// ipc::mutex across forked children: exclusion, a holder killed while
// holding, and tasks that wait (and give up) through the blocking pool; and
// that waits on ipc objects (mutex, semaphore, queue) do not hold up a
// runtime's shutdown.
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../runtime/test_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::ipc::shared_value;
using namespace ipc_test;

namespace {

// A child that takes `m`, says so through `held` and waits to be killed.
pid_t hold_until_killed(const weft::ipc::mutex& m, const shared_value<int>& held) {
  return fork_child([&] {
    auto g = m.blocking_lock();
    held.store(1);
    for (;;) ::pause();
    return 0;
  });
}

void kill_child(pid_t pid, bool reap) {
  ::kill(pid, SIGKILL);
  if (reap) CHECK(wait_child(pid) == -SIGKILL);
}

}  // namespace

// ------------------------------------------------------------------ mutex

TEST_CASE("ipc::mutex: guards, try_lock and misuse", "[ipc][mutex]") {
  weft::ipc::mutex m;
  {
    auto g = m.blocking_lock();
    CHECK(g.owns_lock());
    CHECK_FALSE(g.owner_died());
    CHECK_FALSE(m.try_lock());  // held by this process, which is alive: no takeover
    auto moved = std::move(g);
    CHECK_FALSE(g);
    CHECK(moved);
    moved.unlock();
    CHECK_FALSE(moved);
    auto t = m.try_lock();
    CHECK(t);
    m.mark_consistent();  // allowed while held (nothing to clear)
  }
  CHECK_THROWS_WITH(m.mark_consistent(), Catch::Contains("does not hold"));
  weft::ipc::lock_guard empty;
  CHECK_FALSE(empty.owner_died());
  CHECK_THROWS_AS(empty.mark_consistent(), std::logic_error);
  auto t = m.try_lock_for(10ms);
  CHECK(t);
  auto t2 = m.try_lock_for(30ms);  // held: times out
  CHECK_FALSE(t2);
  t.unlock();

  weft::ipc::mutex gone = std::move(m);
  CHECK_THROWS_AS(m.try_lock(), std::logic_error);
  CHECK_THROWS_AS(m.lock(), std::logic_error);

  // blocking_lock refuses a runtime worker thread.
  weft::runtime rt{{.workers = 1}};
  auto e = rt.block_on([](weft::ipc::mutex mx) -> task<std::exception_ptr> {
    try {
      auto g = mx.blocking_lock();
    } catch (...) {
      co_return std::current_exception();
    }
    co_return nullptr;
  }(gone));
  CHECK_THROWS_AS(std::rethrow_exception(e), std::logic_error);
}

TEST_CASE("ipc::mutex: 4 processes x 20,000 plain increments under the lock are exact", "[ipc][mutex]") {
  weft::ipc::mutex m;
  shared_value<long> counter{0};
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k)
    kids.push_back(fork_child([=] {
      for (int i = 0; i < 20'000; ++i) {
        auto g = m.blocking_lock();
        long& c = counter.unsafe_ref();
        const long seen = c;  // a non-atomic read-modify-write: races without the lock
        if (i % 1000 == 0) std::this_thread::yield();
        c = seen + 1;
      }
      return 0;
    }));
  for (int code : wait_children(kids)) CHECK(code == 0);
  CHECK(counter.load() == 80'000);
}

TEST_CASE("ipc::mutex: a task's lock() waits for a child's unlock", "[ipc][mutex]") {
  weft::ipc::mutex m;
  shared_value<int> held{0}, released{0};
  const pid_t pid = fork_child([&] {
    auto g = m.blocking_lock();
    held.store(1);
    std::this_thread::sleep_for(200ms);
    released.store(1);
    return 0;
  });
  REQUIRE(eventually([&] { return held.load() == 1; }));
  weft::runtime rt{{.workers = 2}};
  const int seen = rt.block_on([](weft::ipc::mutex mx, shared_value<int> rel) -> task<int> {
    auto g = co_await mx.lock();
    co_return rel.load() * 10 + (g.owns_lock() ? 1 : 0) + (g.owner_died() ? 100 : 0);
  }(m, released));
  CHECK(seen == 11);
  CHECK(wait_child(pid) == 0);
}

TEST_CASE("ipc::mutex: a holder killed by SIGKILL - the next task locker sees owner_died until mark_consistent",
          "[ipc][mutex][robust]") {
  weft::ipc::mutex m;
  shared_value<int> held{0};
  const pid_t holder = hold_until_killed(m, held);
  REQUIRE(eventually([&] { return held.load() == 1; }));
  kill_child(holder, false);  // not reaped: a zombie must count as dead too

  // A second child waits in blocking_lock meanwhile; it reports what it saw
  // after the parent has seen (and left) the inconsistent state.
  shared_value<int> parent_done{0};
  const pid_t second = fork_child([&] {
    while (parent_done.load() == 0) std::this_thread::sleep_for(1ms);
    auto g = m.blocking_lock();
    return g.owner_died() ? 7 : 8;
  });

  weft::runtime rt{{.workers = 2}};
  const int parent_saw = rt.block_on([](weft::ipc::mutex mx) -> task<int> {
    int saw = 0;
    {
      auto g = co_await weft::with_timeout(60s, mx.lock());
      saw += g.owner_died() ? 1 : 0;
    }
    {
      auto g = co_await mx.lock();  // sticky: nobody repaired anything
      saw += g.owner_died() ? 10 : 0;
    }
    co_return saw;
  }(m));
  CHECK(parent_saw == 11);
  parent_done.store(1);
  CHECK(wait_child(second) == 7);  // still inconsistent for another process
  CHECK(wait_child(holder) == -SIGKILL);

  {
    auto g = m.blocking_lock();
    CHECK(g.owner_died());
    g.mark_consistent();
    CHECK_FALSE(g.owner_died());
  }
  auto g = m.try_lock();
  REQUIRE(g);
  CHECK_FALSE(g.owner_died());
}

TEST_CASE("ipc::mutex: a holder killed by SIGKILL - a child in blocking_lock takes over", "[ipc][mutex][robust]") {
  weft::ipc::mutex m;
  shared_value<int> held{0};
  const pid_t holder = hold_until_killed(m, held);
  REQUIRE(eventually([&] { return held.load() == 1; }));
  const pid_t waiter = fork_child([&] {
    auto g = m.blocking_lock();  // sleeps until it notices the holder is gone
    if (!g.owner_died()) return 1;
    m.mark_consistent();
    return g.owner_died() ? 2 : 0;
  });
  std::this_thread::sleep_for(20ms);  // usually asleep by now; either way it must take over
  kill_child(holder, true);
  CHECK(wait_child(waiter) == 0);
  auto g = m.try_lock();
  REQUIRE(g);
  CHECK_FALSE(g.owner_died());
}

TEST_CASE("ipc::mutex: try_lock takes over from a dead holder at once", "[ipc][mutex][robust]") {
  weft::ipc::mutex m;
  shared_value<int> held{0};
  const pid_t holder = hold_until_killed(m, held);
  REQUIRE(eventually([&] { return held.load() == 1; }));
  CHECK_FALSE(m.try_lock());
  kill_child(holder, true);
  auto g = m.try_lock();
  REQUIRE(g);
  CHECK(g.owner_died());
}

TEST_CASE("ipc::mutex: a cancelled lock() throws and leaves the mutex free", "[ipc][mutex][cancel]") {
  weft::ipc::mutex m;
  auto held = m.try_lock();  // held by this process: the task's lock() must wait
  REQUIRE(held);
  weft::runtime rt{{.workers = 2}};
  auto err = rt.block_on(weft_test::error_of(weft::with_timeout(100ms, m.lock())));
  CHECK_THROWS_AS(std::rethrow_exception(err), weft::timeout_error);
  // Cancelled through a handle too.
  auto err2 = rt.block_on([](weft::ipc::mutex mx) -> task<std::exception_ptr> {
    auto h = weft::spawn(mx.lock());
    co_await weft::sleep_for(20ms);
    h.cancel();
    co_return co_await weft_test::error_of(std::move(h));
  }(m));
  CHECK_THROWS_AS(std::rethrow_exception(err2), weft::operation_cancelled);
  held.unlock();
  // The abandoned pool waits may grab the lock a moment, but must let go.
  CHECK(eventually([&] { return static_cast<bool>(m.try_lock()); }));
}

TEST_CASE("ipc::mutex: timeouts racing the unlock never leak the lock", "[ipc][mutex][cancel]") {
  weft::ipc::mutex m;
  int got = 0, timed_out = 0;
  {
    weft::runtime rt{{.workers = 2}};
    for (int round = 0; round < 40; ++round) {
      // An abandoned wait of the round before may hold it a moment.
      weft::ipc::lock_guard g;
      REQUIRE(eventually([&] { return (g = m.try_lock()).owns_lock(); }));
      // A plain thread unlocks at about the moment the task's timeout fires.
      std::thread unlocker([&g, round] {
        std::this_thread::sleep_for(std::chrono::microseconds(500 * (round % 8)));
        g.unlock();
      });
      auto err = rt.block_on([](weft::ipc::mutex mx, int r) -> task<std::exception_ptr> {
        try {
          auto lk = co_await weft::with_timeout(std::chrono::milliseconds(1 + r % 4), mx.lock());
        } catch (...) {
          co_return std::current_exception();
        }
        co_return nullptr;
      }(m, round));
      unlocker.join();
      if (!err) ++got;
      else ++timed_out;
    }
  }
  CHECK(got + timed_out == 40);
  CHECK(eventually([&] { return static_cast<bool>(m.try_lock()); }));
}

// ------------------------------------------------------------- shutdown

TEST_CASE("ipc waits do not hold up a runtime's shutdown", "[ipc][mutex][semaphore][queue]") {
  weft::ipc::mutex m;
  weft::ipc::semaphore s{0};
  weft::ipc::process_queue<num> q{1};
  auto held = m.try_lock();
  REQUIRE(held);
  // In a child, so that a hang is reported instead of stopping the run.
  const auto outcome = weft_test::run_in_child(
      [&] {
        weft::runtime rt{{.workers = 1}};
        rt.spawn(m.lock()).detach();
        rt.spawn(s.acquire()).detach();
        rt.spawn(q.pop()).detach();
        std::this_thread::sleep_for(100ms);  // all three wait on pool threads now
        return true;                         // ~runtime must not wait for the lock, permit or item
      },
      60s);
  CHECK(outcome == weft_test::child_outcome::passed);
  held.unlock();
  CHECK(eventually([&] { return static_cast<bool>(m.try_lock()); }));
  CHECK(s.value() == 0);
  CHECK(q.size() == 0);
}
