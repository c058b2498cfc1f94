// Sync primitives: mutex, shared_mutex, semaphore, condition_variable,
// event, latch, barrier. (Channels and oneshot: channel_test.cpp.)
//
// Catch2 assertions are not thread-safe: tasks running concurrently on
// several workers record what they saw in atomics or vectors, and the
// assertions run afterwards in one place.
//
// Tests that need waiters queued in a known order run on ONE worker: there,
// a spawned task runs until it suspends in the queue before the spawner
// (which sleeps) goes on, whatever the machine's load. With two workers a
// thread preempted between "spawned" and "queued" reorders them.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {

// Lets the other tasks run until `cond` holds (a bounded spin on yields).
template <class Cond>
task<void> yield_until(Cond cond) {
  for (int i = 0; i < 1'000'000 && !cond(); ++i) co_await weft::yield_now();
}

// ------------------------------------------------------------------ mutex

task<void> increment(weft::mutex& m, long& counter, int times) {
  for (int i = 0; i < times; ++i) {
    auto guard = co_await m.lock();
    long v = counter;  // a read-modify-write that races without the lock
    if (i % 64 == 0) co_await weft::yield_now();  // sometimes hold it across a suspension
    counter = v + 1;
  }
}

task<long> contended_counter(int tasks, int times) {
  weft::mutex m;
  long counter = 0;
  std::vector<weft::join_handle<void>> hs;
  for (int t = 0; t < tasks; ++t) hs.push_back(weft::spawn(increment(m, counter, times)));
  for (auto& h : hs) co_await h;
  auto g = co_await m.lock();
  co_return counter;
}

}  // namespace

TEST_CASE("mutex: 8 tasks x 100,000 increments on 2 workers lose nothing", "[sync][mutex]") {
  weft::runtime rt{{.workers = 2}};
  CHECK(rt.block_on(contended_counter(8, 100'000)) == 800'000);
}

namespace {
task<void> mutex_basics() {
  weft::mutex m;
  {
    auto g = co_await m.lock();
    CHECK(g.owns_lock());
    CHECK(g.mutex() == &m);
    auto t = m.try_lock();
    CHECK_FALSE(t);
    g.unlock();
    CHECK_FALSE(g.owns_lock());
    auto t2 = m.try_lock();
    CHECK(t2);
  }
  auto t3 = m.try_lock();  // released by the guards' destructors
  CHECK(t3);
  weft::unique_lock<weft::mutex> moved = std::move(t3);
  CHECK(moved);
  CHECK_FALSE(t3);
}

// Tasks queue on a held mutex in a known order and must get it in that order.
task<std::vector<int>> mutex_fifo_order() {
  weft::mutex m;
  std::vector<int> order;
  std::atomic<int> queued{0};
  auto holder = co_await m.lock();
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 5; ++i) {
    hs.push_back(weft::spawn([](weft::mutex& m, std::vector<int>& order, std::atomic<int>& queued, int i) -> task<void> {
      queued.fetch_add(1);
      auto g = co_await m.lock();
      order.push_back(i);
    }(m, order, queued, i)));
    // Let task i reach the queue before spawning i + 1.
    co_await yield_until([&] { return queued.load() == i + 1; });
    co_await weft::sleep_for(2ms);
  }
  holder.unlock();
  for (auto& h : hs) co_await h;
  co_return order;
}
}  // namespace

TEST_CASE("mutex: guards, try_lock, FIFO hand-off", "[sync][mutex]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on(mutex_basics());
  CHECK(rt.block_on(mutex_fifo_order()) == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("mutex: plain threads and tasks share it", "[sync][mutex]") {
  weft::runtime rt{{.workers = 2}};
  weft::mutex m;
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        auto g = m.blocking_lock();
        ++counter;
      }
    });
  std::vector<weft::join_handle<void>> hs;
  for (int t = 0; t < 4; ++t) hs.push_back(rt.spawn(increment(m, counter, 20'000)));
  for (auto& th : threads) th.join();
  rt.block_on([](std::vector<weft::join_handle<void>>& hs) -> task<void> {
    for (auto& h : hs) co_await h;
  }(hs));
  CHECK(counter == 6 * 20'000);
}

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

namespace {
// A waiter cancelled in the queue leaves it and does not take the hand-off
// meant for the next one.
task<void> mutex_cancel_waiter() {
  weft::mutex m;
  auto holder = co_await m.lock();
  std::atomic<bool> second_got_it{false};
  auto first = weft::spawn([](weft::mutex& m) -> task<void> { auto g = co_await m.lock(); }(m));
  co_await weft::sleep_for(5ms);
  auto second = weft::spawn([](weft::mutex& m, std::atomic<bool>& got) -> task<void> {
    auto g = co_await m.lock();
    got = true;
  }(m, second_got_it));
  co_await weft::sleep_for(5ms);
  first.cancel();
  CO_REQUIRE_THROWS_AS(std::move(first), weft::operation_cancelled);
  holder.unlock();
  co_await second;
  CHECK(second_got_it.load());
  auto again = m.try_lock();  // nobody kept it
  CHECK(again);
}

task<void> mutex_lock_with_timeout() {
  weft::mutex m;
  auto holder = co_await m.lock();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, m.lock()), weft::timeout_error);
  holder.unlock();
  auto g = co_await weft::with_timeout(1s, m.lock());
  CHECK(g.owns_lock());
}
}  // namespace

TEST_CASE("mutex: cancelled and timed-out waiters", "[sync][mutex][cancel]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on(mutex_cancel_waiter());
  rt.block_on(mutex_lock_with_timeout());
}

// ------------------------------------------------------------------ shared_mutex

namespace {
task<void> shared_mutex_readers_and_writers(std::atomic<int>& max_readers, std::atomic<bool>& overlap) {
  weft::shared_mutex m;
  std::atomic<int> readers{0}, writers{0};
  long value = 0;
  auto reader = [&]() -> task<void> {
    for (int i = 0; i < 200; ++i) {
      auto r = co_await m.lock_shared();
      int now = readers.fetch_add(1) + 1;
      int seen = max_readers.load();
      while (now > seen && !max_readers.compare_exchange_weak(seen, now)) {}
      if (writers.load()) overlap = true;
      co_await weft::yield_now();
      readers.fetch_sub(1);
    }
  };
  auto writer = [&]() -> task<void> {
    for (int i = 0; i < 200; ++i) {
      auto w = co_await m.lock();
      if (writers.fetch_add(1) != 0 || readers.load()) overlap = true;
      ++value;
      co_await weft::yield_now();
      writers.fetch_sub(1);
    }
  };
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 4; ++i) hs.push_back(weft::spawn(reader()));
  for (int i = 0; i < 2; ++i) hs.push_back(weft::spawn(writer()));
  for (auto& h : hs) co_await h;
  CHECK(value == 400);
}

// A reader arriving while a writer waits queues behind the writer.
task<std::vector<char>> shared_mutex_fifo() {
  weft::shared_mutex m;
  std::vector<char> order;
  auto r1 = co_await m.lock_shared();
  auto w = weft::spawn([](weft::shared_mutex& m, std::vector<char>& order) -> task<void> {
    auto g = co_await m.lock();
    order.push_back('W');
  }(m, order));
  co_await weft::sleep_for(5ms);
  auto r2 = weft::spawn([](weft::shared_mutex& m, std::vector<char>& order) -> task<void> {
    auto g = co_await m.lock_shared();
    order.push_back('R');
  }(m, order));
  co_await weft::sleep_for(5ms);
  auto early = m.try_lock_shared();  // would starve the writer
  CHECK_FALSE(early);
  r1.unlock();
  co_await w;
  co_await r2;
  co_return order;
}

// Cancelling the writer at the head lets the readers queued behind it in.
task<void> shared_mutex_cancel_head_writer() {
  weft::shared_mutex m;
  auto r1 = co_await m.lock_shared();
  auto w = weft::spawn([](weft::shared_mutex& m) -> task<void> { auto g = co_await m.lock(); }(m));
  co_await weft::sleep_for(5ms);
  auto r2 = weft::spawn([](weft::shared_mutex& m) -> task<int> {
    auto g = co_await m.lock_shared();
    co_return 7;
  }(m));
  co_await weft::sleep_for(5ms);
  CHECK_FALSE(r2.is_finished());
  w.cancel();
  CO_REQUIRE_THROWS_AS(std::move(w), weft::operation_cancelled);
  CO_CHECK_EQ(r2, 7);  // while r1 still holds its shared lock
}
}  // namespace

TEST_CASE("shared_mutex: readers share, writers exclude, FIFO between kinds", "[sync][shared_mutex]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> max_readers{0};
  std::atomic<bool> overlap{false};
  rt.block_on(shared_mutex_readers_and_writers(max_readers, overlap));
  CHECK_FALSE(overlap.load());
  CHECK(max_readers.load() >= 1);
  weft::runtime one{{.workers = 1}};
  CHECK(one.block_on(shared_mutex_fifo()) == std::vector<char>{'W', 'R'});
  one.block_on(shared_mutex_cancel_head_writer());
}

TEST_CASE("shared_mutex: blocking locks from plain threads", "[sync][shared_mutex]") {
  weft::shared_mutex m;
  int value = 0;
  {
    auto r1 = m.blocking_lock_shared();
    auto r2 = m.blocking_lock_shared();  // readers share
    CHECK_FALSE(m.try_lock());
  }
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 5'000; ++i) {
        auto w = m.blocking_lock();
        ++value;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(value == 20'000);
}

// ------------------------------------------------------------------ semaphore

namespace {
task<void> bounded_worker(weft::semaphore& s, std::atomic<int>& inside, std::atomic<int>& peak) {
  for (int i = 0; i < 200; ++i) {
    co_await s.acquire();
    int now = inside.fetch_add(1) + 1;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {}
    co_await weft::yield_now();
    inside.fetch_sub(1);
    s.release();
  }
}

task<int> semaphore_bound() {
  weft::semaphore s{3};
  std::atomic<int> inside{0}, peak{0};
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 10; ++i) hs.push_back(weft::spawn(bounded_worker(s, inside, peak)));
  for (auto& h : hs) co_await h;
  CHECK(s.available() == 3);
  co_return peak.load();
}

task<void> semaphore_release_many_and_cancel() {
  weft::semaphore s{0};
  CHECK_FALSE(s.try_acquire());
  std::atomic<int> got{0};
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 4; ++i)
    hs.push_back(weft::spawn([](weft::semaphore& s, std::atomic<int>& got) -> task<void> {
      co_await s.acquire();
      got.fetch_add(1);
    }(s, got)));
  co_await weft::sleep_for(5ms);
  hs[0].cancel();  // the first in line leaves: the permits go to the others
  CO_REQUIRE_THROWS_AS(std::move(hs[0]), weft::operation_cancelled);
  s.release(2);
  co_await hs[1];
  co_await hs[2];
  CHECK(got.load() == 2);
  CHECK_FALSE(hs[3].is_finished());
  s.release(5);
  co_await hs[3];
  CHECK(s.available() == 4);
}

// Cancel and release racing, many times: permits are conserved.
task<void> semaphore_cancel_race() {
  weft::semaphore s{0};
  for (int round = 0; round < 300; ++round) {
    std::atomic<bool> acquired{false};
    auto h = weft::spawn([](weft::semaphore& s, std::atomic<bool>& acquired) -> task<void> {
      co_await s.acquire();
      acquired = true;
    }(s, acquired));
    if (round % 2) co_await weft::yield_now();
    s.release();
    h.cancel();
    auto err = co_await weft_test::error_of(std::move(h));
    // Either it got the permit (and keeps it) or it was cancelled first and
    // the permit is still there: never both, never neither.
    if (acquired.load()) {
      CHECK(!err);
      CHECK(s.available() == 0);
    } else {
      CHECK(s.available() == 1);
      REQUIRE(s.try_acquire());
    }
  }
}
}  // namespace

TEST_CASE("semaphore: the bound is never exceeded", "[sync][semaphore]") {
  weft::runtime rt{{.workers = 2}};
  const int peak = rt.block_on(semaphore_bound());
  CHECK(peak <= 3);
  CHECK(peak >= 1);
}

TEST_CASE("semaphore: release(n), cancelled waiters eat no permits", "[sync][semaphore][cancel]") {
  weft::runtime one{{.workers = 1}};
  one.block_on(semaphore_release_many_and_cancel());
  weft::runtime rt{{.workers = 2}};
  rt.block_on(semaphore_cancel_race());
}

TEST_CASE("semaphore: blocking_acquire from a plain thread, released by a task", "[sync][semaphore]") {
  weft::runtime rt{{.workers = 2}};
  weft::semaphore s{0};
  std::thread t([&] { s.blocking_acquire(); });
  rt.block_on([](weft::semaphore& s) -> task<void> {
    co_await weft::sleep_for(5ms);
    s.release();
  }(s));
  t.join();
  CHECK(s.available() == 0);
}

// ------------------------------------------------------------------ condition_variable

namespace {
struct bounded_queue {
  weft::mutex m;
  weft::condition_variable not_empty, not_full;
  std::vector<int> items;
  std::size_t cap = 4;
};

task<void> cv_producer(bounded_queue& q, int from, int n) {
  for (int i = from; i < from + n; ++i) {
    auto lk = co_await q.m.lock();
    co_await q.not_full.wait(lk, [&] { return q.items.size() < q.cap; });
    q.items.push_back(i);
    q.not_empty.notify_one();
  }
}

task<long> cv_consumer(bounded_queue& q, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    auto lk = co_await q.m.lock();
    co_await q.not_empty.wait(lk, [&] { return !q.items.empty(); });
    if (!lk.owns_lock()) throw std::logic_error("wait returned without the lock");
    sum += q.items.back();
    q.items.pop_back();
    q.not_full.notify_one();
  }
  co_return sum;
}

task<long> cv_queue() {
  bounded_queue q;
  auto p1 = weft::spawn(cv_producer(q, 0, 5000));
  auto p2 = weft::spawn(cv_producer(q, 5000, 5000));
  auto c1 = weft::spawn(cv_consumer(q, 5000));
  auto c2 = weft::spawn(cv_consumer(q, 5000));
  co_await p1;
  co_await p2;
  long a = co_await c1;
  long b = co_await c2;
  co_return a + b;
}

task<void> cv_notify_all_and_cancel() {
  weft::mutex m;
  weft::condition_variable cv;
  bool go = false;
  std::atomic<int> woke{0};
  auto waiter = [&]() -> task<void> {
    auto lk = co_await m.lock();
    co_await cv.wait(lk, [&] { return go; });
    woke.fetch_add(1);
  };
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(weft::spawn(waiter()));
  co_await weft::sleep_for(5ms);
  // A cancelled waiter relocks, then throws; the mutex is free afterwards.
  hs[0].cancel();
  CO_REQUIRE_THROWS_AS(std::move(hs[0]), weft::operation_cancelled);
  {
    auto lk = co_await m.lock();
    go = true;
  }
  cv.notify_all();
  for (std::size_t i = 1; i < hs.size(); ++i) co_await hs[i];
  CHECK(woke.load() == 4);
  // A timed-out wait returns with the lock held again (as the guard expects).
  auto lk = co_await m.lock();
  auto err = co_await weft_test::error_of(weft::with_timeout(10ms, cv.wait(lk)));
  CHECK(lk.owns_lock());
  REQUIRE_THROWS_AS(weft_test::rethrow_if(err), weft::timeout_error);
}
}  // namespace

TEST_CASE("condition_variable: a bounded queue with predicate waits", "[sync][condition_variable]") {
  weft::runtime rt{{.workers = 2}};
  CHECK(rt.block_on(cv_queue()) == 9999L * 10000 / 2);
}

TEST_CASE("condition_variable: notify_all, cancelled and timed-out waiters relock", "[sync][condition_variable][cancel]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(cv_notify_all_and_cancel());
}

TEST_CASE("condition_variable: a plain thread waits, a task notifies", "[sync][condition_variable]") {
  weft::runtime rt{{.workers = 2}};
  weft::mutex m;
  weft::condition_variable cv;
  bool ready = false;
  std::thread t([&] {
    auto lk = m.blocking_lock();
    cv.blocking_wait(lk, [&] { return ready; });
    CHECK(lk.owns_lock());
  });
  rt.block_on([](weft::mutex& m, weft::condition_variable& cv, bool& ready) -> task<void> {
    co_await weft::sleep_for(5ms);
    auto lk = co_await m.lock();
    ready = true;
    cv.notify_one();
  }(m, cv, ready));
  t.join();
}

// ------------------------------------------------------------------ event, latch, barrier

namespace {
task<void> event_basics() {
  weft::event e;
  CHECK_FALSE(e.is_set());
  std::atomic<int> passed{0};
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < 3; ++i)
    hs.push_back(weft::spawn([](weft::event& e, std::atomic<int>& passed) -> task<void> {
      co_await e.wait();
      passed.fetch_add(1);
    }(e, passed)));
  auto cancelled = weft::spawn([](weft::event& e) -> task<void> { co_await e.wait(); }(e));
  co_await weft::sleep_for(5ms);
  CHECK(passed.load() == 0);
  cancelled.cancel();
  CO_REQUIRE_THROWS_AS(std::move(cancelled), weft::operation_cancelled);
  e.set();
  for (auto& h : hs) co_await h;
  CHECK(passed.load() == 3);
  co_await e.wait();  // set: passes at once
  e.clear();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, e.wait()), weft::timeout_error);
}

task<void> latch_basics() {
  weft::latch done{3};
  CHECK_FALSE(done.try_wait());
  for (int i = 0; i < 3; ++i)
    weft::spawn([](weft::latch& l) -> task<void> {
      co_await weft::sleep_for(1ms);
      l.count_down();
    }(done)).detach();
  co_await done.wait();
  CHECK(done.try_wait());
  CHECK_THROWS_AS(done.count_down(), std::logic_error);
  weft::latch two{2};
  auto other = weft::spawn([](weft::latch& l) -> task<void> { co_await l.arrive_and_wait(); }(two));
  co_await two.arrive_and_wait();
  co_await other;
}

task<std::vector<int>> barrier_phases() {
  constexpr int n = 4, phases = 50;
  std::vector<int> completed_phases;
  std::atomic<int> arrived_this_phase{0};
  std::atomic<bool> early{false};
  std::atomic<int> leaders{0};
  weft::barrier b{n, [&] {
    if (arrived_this_phase.load() != n) early = true;
    arrived_this_phase = 0;
    completed_phases.push_back(static_cast<int>(completed_phases.size()));
  }};
  auto participant = [&]() -> task<void> {
    for (int p = 0; p < phases; ++p) {
      arrived_this_phase.fetch_add(1);
      if (co_await b.arrive_and_wait()) leaders.fetch_add(1);
    }
  };
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(weft::spawn(participant()));
  for (auto& h : hs) co_await h;
  CHECK_FALSE(early.load());
  CHECK(leaders.load() == phases);
  co_return completed_phases;
}

task<void> barrier_drop_and_cancel() {
  weft::barrier b{3};
  // One participant leaves: the next phases need two.
  auto a = weft::spawn([](weft::barrier& b) -> task<void> { co_await b.arrive_and_wait(); }(b));
  b.arrive_and_drop();
  co_await b.arrive_and_wait();  // third arrival of phase 0
  co_await a;
  auto c = weft::spawn([](weft::barrier& b) -> task<void> { co_await b.arrive_and_wait(); }(b));
  co_await weft::sleep_for(5ms);
  c.cancel();  // its arrival still counts
  CO_REQUIRE_THROWS_AS(std::move(c), weft::operation_cancelled);
  bool leader = co_await b.arrive_and_wait();
  CHECK(leader);
}
}  // namespace

TEST_CASE("event: set wakes all, clear, cancelled waiter", "[sync][event]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(event_basics());
  weft::event e;
  std::thread t([&] { e.blocking_wait(); });
  rt.block_on([](weft::event& e) -> task<void> {
    co_await weft::sleep_for(2ms);
    e.set();
  }(e));
  t.join();
}

TEST_CASE("latch: count_down to zero releases the waiters", "[sync][latch]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(latch_basics());
  CHECK_THROWS_AS(weft::latch(-1), std::invalid_argument);
}

TEST_CASE("barrier: phases, completion, drop, cancellation", "[sync][barrier]") {
  weft::runtime rt{{.workers = 2}};
  auto phases = rt.block_on(barrier_phases());
  REQUIRE(phases.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(phases[i] == i);
  weft::runtime one{{.workers = 1}};
  one.block_on(barrier_drop_and_cancel());
  // Plain threads.
  weft::barrier b{3};
  std::atomic<int> leaders{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i)
    ts.emplace_back([&] {
      for (int p = 0; p < 20; ++p)
        if (b.blocking_arrive_and_wait()) leaders.fetch_add(1);
    });
  for (auto& t : ts) t.join();
  CHECK(leaders.load() == 20);
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
