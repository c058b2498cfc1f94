// ipc::condition_variable with ipc::mutex across processes: timed waits and
// predicates, a task woken by a pool worker's notify, notify_all reaching 4
// processes, notify_one handing out items without losing a wake-up,
// cancellation and timeouts that relock, waiters and notifiers killed, and
// the handle's serialization.
#include <catch2/catch.hpp>

#include <signal.h>
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
using weft::ipc::condition_variable;
using weft::ipc::lock_guard;
using weft::ipc::shared_value;
using namespace ipc_test;

namespace {

// Run in pool workers: the handles arrive serialized.
int produce_after(weft::ipc::mutex m, condition_variable cv, shared_value<int> items, int ms) {
  ::usleep(static_cast<useconds_t>(ms) * 1000);
  {
    auto g = m.blocking_lock();
    items.store(items.load() + 1);
  }
  cv.notify_one();
  return static_cast<int>(::getpid());
}

// Waits in the worker for `flag` under the lock; 1 if it saw it in time.
int consume_in_worker(weft::ipc::mutex m, condition_variable cv, shared_value<int> flag, shared_value<int> waiting) {
  auto g = m.blocking_lock();
  waiting.fetch_add(1);
  const bool ok = cv.blocking_wait_for(g, 60s, [&] { return flag.load() != 0; });
  return ok && g.owns_lock() ? 1 : 0;
}

}  // namespace

TEST_CASE("ipc::condition_variable: timed waits and predicates relock and misuse is refused",
          "[ipc][condition_variable]") {
  weft::ipc::mutex m;
  condition_variable cv;
  auto g = m.blocking_lock();
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(cv.blocking_wait_for(g, 40ms));  // nobody notifies
  CHECK(ms_since(t0) >= 40);
  CHECK(g.owns_lock());                                      // held again
  CHECK_FALSE(m.try_lock());                                 // really held
  CHECK(cv.blocking_wait_for(g, 10s, [] { return true; }));  // true at once: no wait
  t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(cv.blocking_wait_for(g, 30ms, [] { return false; }));
  CHECK(ms_since(t0) >= 30);
  CHECK(g.owns_lock());
  cv.blocking_wait(g, [] { return true; });
  CHECK(g.owns_lock());

  // A notify from another thread ends a wait, which holds the lock again.
  shared_value<int> ready{0};
  std::thread notifier([&] {
    auto ng = m.blocking_lock();  // only once the waiter has let go of it
    ready.store(1);
    ng.unlock();
    cv.notify_one();
  });
  cv.blocking_wait(g, [&] { return ready.load() == 1; });
  CHECK(g.owns_lock());
  notifier.join();
  // Notifying with nobody waiting is harmless and is not remembered.
  cv.notify_one();
  cv.notify_all();
  CHECK_FALSE(cv.blocking_wait_for(g, 20ms));

  // A guard that owns nothing.
  g.unlock();
  CHECK_THROWS_AS(cv.blocking_wait(g), std::logic_error);
  CHECK_THROWS_WITH(cv.blocking_wait_for(g, 10ms), Catch::Contains("does not hold"));
  CHECK(static_cast<bool>(m.try_lock()));  // and the mutex was left alone

  condition_variable moved = std::move(cv);
  CHECK_THROWS_AS(cv.notify_one(), std::logic_error);
  lock_guard g2 = m.blocking_lock();
  CHECK_THROWS_AS(cv.wait(g2), std::logic_error);

  // blocking_wait refuses a runtime worker thread, leaving the guard alone.
  weft::runtime rt{{.workers = 1}};
  g2.unlock();
  auto err = rt.block_on([](weft::ipc::mutex mx, condition_variable c) -> task<std::exception_ptr> {
    auto lk = co_await mx.lock();
    std::exception_ptr e;
    try {
      c.blocking_wait(lk);
    } catch (...) {
      e = std::current_exception();
    }
    CHECK(lk.owns_lock());
    // In a task: the predicate form returns at once when it holds, and
    // wait_for gives up with the lock held again.
    co_await c.wait(lk, [] { return true; });
    const bool notified = co_await c.wait_for(lk, 30ms);
    CHECK_FALSE(notified);
    CHECK(lk.owns_lock());
    const bool pred = co_await c.wait_for(lk, 20ms, [] { return false; });
    CHECK_FALSE(pred);
    CHECK(lk.owns_lock());
    co_return e;
  }(m, moved));
  REQUIRE(err);
  CHECK_THROWS_WITH(std::rethrow_exception(err), Catch::Contains("weft::ipc::condition_variable::blocking_wait"));
  CHECK(static_cast<bool>(m.try_lock()));
}

TEST_CASE("ipc::condition_variable: a task's wait is woken by a pool worker's notify", "[ipc][condition_variable]") {
  weft::ipc::mutex m;
  condition_variable cv;
  shared_value<int> items{0};
  weft::runtime rt{rt_options()};
  rt.block_on([](weft::ipc::mutex mx, condition_variable c, shared_value<int> its) -> task<void> {
    // task_timeout: one call per worker at a time, so the two waiters below
    // run side by side (and a hang ends as a failure).
    weft::ipc::process_pool pool{{.workers = 2, .task_timeout = 60s}};
    const auto t0 = std::chrono::steady_clock::now();
    auto g = co_await mx.lock();
    auto producer = pool.submit(produce_after, mx, c, its, 150);
    co_await weft::with_timeout(60s, c.wait(g, [&] { return its.load() > 0; }));
    CHECK(g.owns_lock());
    CHECK_FALSE(g.owner_died());
    CHECK(its.load() == 1);
    CHECK(ms_since(t0) >= 140);
    g.unlock();
    const int producer_pid = co_await producer;
    CHECK(producer_pid != static_cast<int>(::getpid()));

    // The other way round: workers wait, the task notifies them all.
    shared_value<int> flag{0}, waiting{0};
    auto a = pool.submit(consume_in_worker, mx, c, flag, waiting);
    auto b = pool.submit(consume_in_worker, mx, c, flag, waiting);
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (waiting.load() < 2 && std::chrono::steady_clock::now() < give_up) co_await weft::sleep_for(2ms);
    REQUIRE(waiting.load() == 2);
    {
      auto lk = co_await mx.lock();  // both waiters have let go of it: they wait
      flag.store(1);
    }
    c.notify_all();
    const int ra = co_await weft::with_timeout(60s, std::move(a));
    const int rb = co_await weft::with_timeout(60s, std::move(b));
    CHECK(ra + rb == 2);
    co_await pool.shutdown();
  }(m, cv, items));
}

TEST_CASE("ipc::condition_variable: notify_all wakes waiters in 4 processes", "[ipc][condition_variable]") {
  weft::ipc::mutex m;
  condition_variable cv;
  shared_value<int> go{0}, waiting{0}, woken{0};
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k)
    kids.push_back(fork_child([=] {
      auto g = m.blocking_lock();
      waiting.fetch_add(1);
      // No predicate loop: one notify_all must end every wait. (A spurious
      // return would show as woken before go.)
      const bool notified = cv.blocking_wait_for(g, 60s);
      if (!notified || !g.owns_lock()) return 1;
      if (go.load() != 1) return 2;
      woken.fetch_add(1);
      return 0;
    }));
  REQUIRE(eventually([&] { return waiting.load() == 4; }));
  {
    auto g = m.blocking_lock();  // all four are waiting: each let go of the lock
    go.store(1);
    cv.notify_all();
  }
  for (int code : wait_children(kids)) CHECK(code == 0);
  CHECK(woken.load() == 4);
}

TEST_CASE("ipc::condition_variable: notify_one hands 300 items to 4 consumer processes and none is lost",
          "[ipc][condition_variable]") {
  weft::ipc::mutex m;
  condition_variable cv;
  shared_value<int> items{0}, done{0}, consumed{0};
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k)
    kids.push_back(fork_child([=] {
      for (;;) {
        auto g = m.blocking_lock();
        if (!cv.blocking_wait_for(g, 60s, [&] { return items.load() > 0 || done.load() != 0; })) return 1;
        if (items.load() == 0) return 0;  // done, and nothing left
        items.store(items.load() - 1);
        consumed.fetch_add(1);
      }
    }));
  for (int i = 0; i < 300; ++i) {
    {
      auto g = m.blocking_lock();
      items.store(items.load() + 1);
    }
    cv.notify_one();
    if (i % 50 == 0) std::this_thread::sleep_for(2ms);
  }
  // Every item is taken without another notify: a lost wake-up would leave
  // some waiting here.
  CHECK(eventually([&] { return consumed.load() == 300; }, std::chrono::seconds(60)));
  {
    auto g = m.blocking_lock();
    done.store(1);
  }
  cv.notify_all();
  for (int code : wait_children(kids)) CHECK(code == 0);
  CHECK(items.load() == 0);
  CHECK(consumed.load() == 300);
}

TEST_CASE("ipc::condition_variable: a cancelled or timed-out task wait relocks before it throws",
          "[ipc][condition_variable][cancel]") {
  weft::ipc::mutex m;
  condition_variable cv;
  shared_value<int> let_go{0}, child_holds{0}, release{0};
  // A child takes the mutex once the task's wait has let go of it, and keeps
  // it past the task's deadline: the relock must wait for it, not give up.
  const pid_t holder = fork_child([=] {
    while (let_go.load() == 0) std::this_thread::sleep_for(1ms);
    auto g = m.blocking_lock();
    child_holds.store(1);
    while (release.load() == 0) std::this_thread::sleep_for(1ms);
    return 0;
  });
  weft::runtime rt{{.workers = 2}};
  struct seen {
    std::exception_ptr err;
    bool owns = false;
    long long ms = 0;
  };
  std::thread releaser([&] {
    eventually([&] { return child_holds.load() == 1; });
    std::this_thread::sleep_for(300ms);  // well past the 100 ms deadline
    release.store(1);
  });
  const seen s = rt.block_on([](weft::ipc::mutex mx, condition_variable c, shared_value<int> lg) -> task<seen> {
    auto g = co_await mx.lock();
    lg.store(1);  // the child blocks until the wait below lets go of the lock
    const auto t0 = std::chrono::steady_clock::now();
    seen r;
    r.err = co_await weft_test::error_of(weft::with_timeout(100ms, c.wait(g)));
    r.owns = g.owns_lock();
    r.ms = ms_since(t0);
    co_return r;
  }(m, cv, let_go));
  releaser.join();
  CHECK_THROWS_AS(std::rethrow_exception(s.err), weft::timeout_error);
  CHECK(s.owns);
  CHECK(s.ms >= 300);  // it relocked only once the child let go
  CHECK(wait_child(holder) == 0);

  // Cancelled through a handle: operation_cancelled, with the lock held.
  const bool owned_after_cancel = rt.block_on([](weft::ipc::mutex mx, condition_variable c) -> task<bool> {
    auto inner = [](weft::ipc::mutex mx2, condition_variable c2) -> task<bool> {
      auto g = co_await mx2.lock();
      try {
        co_await c2.wait(g);
      } catch (const weft::operation_cancelled&) {
        co_return g.owns_lock();
      }
      co_return false;
    };
    auto h = weft::spawn(inner(mx, c));
    co_await weft::sleep_for(50ms);
    h.cancel();
    co_return co_await h;
  }(m, cv));
  CHECK(owned_after_cancel);
  CHECK(static_cast<bool>(m.try_lock()));  // the guard let go when its task ended

  // Racing notifies against short timeouts: every round ends holding the
  // lock, one way or the other.
  int notified = 0, timed_out = 0;
  for (int round = 0; round < 30; ++round) {
    std::thread n([&cv, round] {
      std::this_thread::sleep_for(std::chrono::microseconds(500 * (round % 8)));
      cv.notify_all();
    });
    auto r = rt.block_on([](weft::ipc::mutex mx, condition_variable c, int rd) -> task<int> {
      auto g = co_await mx.lock();
      auto e = co_await weft_test::error_of(weft::with_timeout(std::chrono::milliseconds(1 + rd % 4), c.wait(g)));
      if (!g.owns_lock()) co_return -1;
      co_return e ? 1 : 0;
    }(m, cv, round));
    n.join();
    REQUIRE(r >= 0);
    if (r == 0) ++notified;
    else ++timed_out;
  }
  CHECK(notified + timed_out == 30);
  CHECK(static_cast<bool>(m.try_lock()));
}

TEST_CASE("ipc::condition_variable: a waiter killed by SIGKILL does not block the others",
          "[ipc][condition_variable][robust]") {
  weft::ipc::mutex m;
  condition_variable cv;
  shared_value<int> go{0}, waiting{0};
  auto waiter = [&] {
    return fork_child([=] {
      auto g = m.blocking_lock();
      waiting.fetch_add(1);
      cv.blocking_wait(g, [&] { return go.load() != 0; });
      return g.owns_lock() && !g.owner_died() ? 0 : 1;
    });
  };
  const pid_t doomed = waiter();
  REQUIRE(eventually([&] { return waiting.load() == 1; }));
  const pid_t survivor = waiter();
  REQUIRE(eventually([&] { return waiting.load() == 2; }));
  {
    auto g = m.blocking_lock();  // both are waiting
  }
  ::kill(doomed, SIGKILL);
  CHECK(wait_child(doomed) == -SIGKILL);
  {
    auto g = m.blocking_lock();
    CHECK_FALSE(g.owner_died());  // it died waiting, not holding the lock
    go.store(1);
  }
  cv.notify_one();  // the one waiter left must get it
  CHECK(wait_child(survivor) == 0);
}

TEST_CASE("ipc::condition_variable: a notifier killed holding the mutex - the waiter relocks with owner_died",
          "[ipc][condition_variable][robust]") {
  weft::ipc::mutex m;
  condition_variable cv;
  shared_value<int> data{0}, waiting{0};
  const pid_t notifier = fork_child([=] {
    while (waiting.load() == 0) std::this_thread::sleep_for(1ms);
    auto g = m.blocking_lock();  // the waiter let go of it
    data.store(1);
    cv.notify_one();
    for (;;) ::pause();  // killed here, still holding the lock
    return 0;
  });
  weft::runtime rt{{.workers = 2}};
  std::thread killer([&] {
    eventually([&] { return data.load() == 1; });
    std::this_thread::sleep_for(50ms);
    ::kill(notifier, SIGKILL);
  });
  const int saw =
      rt.block_on([](weft::ipc::mutex mx, condition_variable c, shared_value<int> d, shared_value<int> w) -> task<int> {
        auto g = co_await mx.lock();
        w.store(1);
        co_await weft::with_timeout(60s, c.wait(g, [&] { return d.load() == 1; }));
        co_return (g.owns_lock() ? 1 : 0) + (g.owner_died() ? 10 : 0);
      }(m, cv, data, waiting));
  killer.join();
  CHECK(saw == 11);
  CHECK(wait_child(notifier) == -SIGKILL);
  m.blocking_lock().mark_consistent();
}

TEST_CASE("ipc::condition_variable: the handle serializes and counts references",
          "[ipc][condition_variable][serialize]") {
  condition_variable cv;
  weft::ipc::mutex m;
  const auto bytes = encoded(cv);
  CHECK(bytes.size() == 16);
  auto d = decoded<condition_variable>(bytes);
  CHECK(weft::ipc::detail::handle_access::ref(cv).use_count() == 2);
  // The decoded copy's notify ends a wait on the original.
  auto g = m.blocking_lock();
  std::thread n([&] {
    { auto ng = m.blocking_lock(); }  // the waiter let go of it
    d.notify_all();
  });
  CHECK(cv.blocking_wait_for(g, 60s));
  n.join();
  CHECK_THROWS_AS(decoded<weft::ipc::event>(bytes), weft::ipc::serialization_error);
  auto stale = encoded(condition_variable{});
  CHECK_THROWS_AS(decoded<condition_variable>(stale), weft::ipc::serialization_error);
}
