// Timers on a runtime: sleep_for, sleep_until, interval, with_timeout.
//
// Only lower bounds on elapsed time are asserted ("never early"); upper
// bounds are seconds, so a loaded machine cannot make these flaky.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace {

using namespace std::chrono_literals;
using weft::clock;
using weft::task;
using namespace weft_test;

auto ms_of(clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// A sleep wrapped in a task.
task<void> nap(clock::duration d) { co_await weft::sleep_for(d); }

template <class T>
task<T> value_after(clock::duration d, T v) {
  co_await weft::sleep_for(d);
  co_return v;
}

// Blocks the worker thread itself (not just the task): a deliberate stall.
task<void> stall_worker(clock::duration d) {
  std::this_thread::sleep_for(d);
  co_return;
}

}  // namespace

// ---------------------------------------------------------------- sleep

namespace {
task<void> sleeps_are_never_early() {
  for (auto d : {0ms, 1ms, 2ms, 5ms, 20ms, 50ms}) {
    const auto t0 = clock::now();
    co_await weft::sleep_for(d);
    const auto took = clock::now() - t0;
    INFO("sleep_for(" << d.count() << " ms) took " << ms_of(took) << " ms");
    CHECK(took >= d);
  }
  // Sub-millisecond and odd units round up, never down.
  for (auto d : {std::chrono::nanoseconds(1), std::chrono::nanoseconds(1'500'000)}) {
    const auto t0 = clock::now();
    co_await weft::sleep_for(d);
    CHECK(clock::now() - t0 >= d);
  }
  const auto t0 = clock::now();
  co_await weft::sleep_for(std::chrono::duration<double, std::milli>(7.25));
  CHECK(clock::now() - t0 >= std::chrono::microseconds(7250));

  for (auto d : {3ms, 30ms}) {
    const auto deadline = clock::now() + d;
    co_await weft::sleep_until(deadline);
    CHECK(clock::now() >= deadline);
  }
}

task<void> past_deadlines() {
  const auto t0 = clock::now();
  co_await weft::sleep_until(t0 - 1s);
  co_await weft::sleep_until(clock::time_point{});
  co_await weft::sleep_until(clock::time_point::min());
  co_await weft::sleep_for(-5s);
  co_await weft::sleep_for(0ns);
  CHECK(clock::now() - t0 < 5s);
}
}  // namespace

TEST_CASE("sleep_for and sleep_until never wake early", "[time]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(sleeps_are_never_early());
}

TEST_CASE("a deadline in the past completes at once", "[time]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(past_deadlines());
}

namespace {
task<void> timed_sleeper(int ms, std::atomic<int>* early, std::atomic<int>* done) {
  const auto t0 = clock::now();
  co_await weft::sleep_for(std::chrono::milliseconds(ms));
  if (clock::now() - t0 < std::chrono::milliseconds(ms)) early->fetch_add(1);
  done->fetch_add(1);
}

task<void> many_sleeps(int n, std::atomic<int>* early, std::atomic<int>* done) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> ms(1, 50);
  std::vector<weft::join_handle<void>> hs;
  hs.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) hs.push_back(weft::spawn(timed_sleeper(ms(rng), early, done)));
  for (auto& h : hs) co_await h;
}
}  // namespace

TEST_CASE("10,000 concurrent sleeps on 2 workers: all complete, one wait per tick", "[time]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> early{0}, done{0};
  constexpr int n = 10'000;
  rt.block_on(many_sleeps(n, &early, &done));
  CHECK(done.load() == n);
  CHECK(early.load() == 0);
  auto m = rt.metrics();
  const auto t = m.total();
  INFO("parks: " << t.parks << ", timers fired: " << t.timers_fired << ", wakeups: " << t.wakeups);
  // A sleeper preempted for longer than its sleep between computing its
  // deadline and suspending finds it passed and completes without a timer
  // (seen under TSan on a loaded machine): most fire, not necessarily all.
  CHECK(t.timers_fired <= static_cast<std::uint64_t>(n));
  CHECK(t.timers_fired >= static_cast<std::uint64_t>(n) / 2);
  CHECK(t.parks < static_cast<std::uint64_t>(n));
  CHECK(m.live_tasks == 0);
}

namespace {
task<void> sleep_loop(int iterations, std::atomic<int>* done) {
  for (int i = 0; i < iterations; ++i) co_await weft::sleep_for(std::chrono::milliseconds(1 + i % 2));
  done->fetch_add(1);
}

task<void> many_sleep_loops(int tasks, int iterations, std::atomic<int>* done) {
  std::vector<weft::join_handle<void>> hs;
  for (int i = 0; i < tasks; ++i) hs.push_back(weft::spawn(sleep_loop(iterations, done)));
  for (auto& h : hs) co_await h;
}
}  // namespace

// Sleepers woken by one worker's wheel are often stolen and finished by the
// other worker while the first is still firing (sanitizers watch this).
TEST_CASE("sleeping tasks woken and stolen across workers", "[time]") {
  weft::runtime rt{{.workers = 2}};
  std::atomic<int> done{0};
  rt.block_on(many_sleep_loops(100, 50, &done));
  CHECK(done.load() == 100);
}

// ---------------------------------------------------------------- cancellation

namespace {
task<void> cancel_a_sleeper() {
  auto h = weft::spawn(nap(10s));
  co_await weft::sleep_for(20ms);
  CHECK_FALSE(h.is_finished());
  const auto t0 = clock::now();
  h.cancel();
  CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
  const auto took = clock::now() - t0;
  INFO("cancellation took " << ms_of(took) << " ms");
  CHECK(took < 5s);  // promptly: well before the 10 s deadline
  // Cancelling again, or after it finished, is harmless.
  h.cancel();

  // A sleeper that catches the cancellation goes on and can sleep again? No:
  // stop stays requested, so its next sleep is cancelled at once too.
  struct catcher {
    static task<int> run() {
      int caught = 0;
      for (int i = 0; i < 3; ++i) {
        try {
          co_await weft::sleep_for(10s);
        } catch (const weft::operation_cancelled&) {
          ++caught;
        }
      }
      co_return caught;
    }
  };
  auto c = weft::spawn(catcher::run());
  co_await weft::sleep_for(20ms);
  const auto t1 = clock::now();
  c.cancel();
  CO_CHECK_EQ(c, 3);
  CHECK(clock::now() - t1 < 5s);
}

task<int> spin_then_sleep(std::atomic<bool>* started, std::atomic<bool>* go, std::atomic<bool>* woke) {
  started->store(true);
  while (!go->load()) std::this_thread::yield();
  co_await weft::sleep_for(10s);
  woke->store(true);
  co_return 1;
}

task<void> expect_cancelled(weft::join_handle<int> h) { CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled); }

task<int> never_runs(std::atomic<bool>* ran) {
  ran->store(true);
  co_await weft::sleep_for(10s);
  co_return 0;
}

task<void> cancel_before_start(std::atomic<bool>* ran) {
  auto h = weft::spawn(never_runs(ran));
  h.cancel();
  CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
}
}  // namespace

TEST_CASE("cancelling a sleeping task ends its sleep promptly", "[time]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(cancel_a_sleeper());
}

TEST_CASE("cancellation requested before the task first sleeps", "[time]") {
  SECTION("while the task runs, before its first sleep") {
    weft::runtime rt{{.workers = 2}};
    std::atomic<bool> started{false}, go{false}, woke{false};
    auto h = rt.spawn(spin_then_sleep(&started, &go, &woke));
    while (!started.load()) std::this_thread::yield();
    h.cancel();
    const auto t0 = clock::now();
    go.store(true);
    rt.block_on(expect_cancelled(std::move(h)));
    CHECK(clock::now() - t0 < 5s);
    CHECK_FALSE(woke.load());
  }
  SECTION("before the task was ever scheduled") {
    // One worker, so nobody can steal and start the child between spawn and
    // cancel: it must then never run. (With more workers a thief may start
    // it first; the sleep still ends promptly, which the section above covers.)
    weft::runtime rt{{.workers = 1}};
    std::atomic<bool> ran{false};
    const auto t0 = clock::now();
    rt.block_on(cancel_before_start(&ran));
    CHECK(clock::now() - t0 < 5s);
    CHECK_FALSE(ran.load());
  }
}

// ---------------------------------------------------------------- interval

namespace {
task<void> interval_basics() {
  constexpr auto period = 20ms;
  const auto before = clock::now();
  // burst keeps every tick on the grid even if this task runs late (the
  // default, skip, would drop a tick on a loaded machine).
  weft::interval iv{period, weft::missed_tick::burst};
  CHECK(iv.period() == period);
  const auto s0 = co_await iv.next();
  // The first tick is the moment of construction: it does not wait.
  CHECK(s0 >= before);
  CHECK(s0 <= clock::now());
  auto prev_done = clock::now();
  for (int k = 1; k <= 5; ++k) {
    const auto sk = co_await iv.next();
    const auto now = clock::now();
    CHECK(sk == s0 + k * period);  // on the grid
    CHECK(now >= sk);              // never early
    (void)prev_done;
    prev_done = now;
  }
  CHECK(clock::now() - s0 >= 5 * period);

  // reset(): the next tick is one period from now.
  const auto r0 = clock::now();
  iv.reset();
  const auto sr = co_await iv.next();
  CHECK(sr >= r0 + period);
  CHECK(clock::now() >= r0 + period);

  // A std::chrono duration of another unit, and the default behaviour
  // (skip): ticks are on the grid, one period or more apart.
  weft::interval us{std::chrono::microseconds(2500)};
  const auto u0 = co_await us.next();
  const auto u1 = co_await us.next();
  const auto u2 = co_await us.next();
  CHECK(u1 - u0 >= std::chrono::microseconds(2500));
  CHECK((u1 - u0) % std::chrono::microseconds(2500) == clock::duration::zero());
  CHECK(u2 - u1 >= std::chrono::microseconds(2500));
  CHECK((u2 - u0) % std::chrono::microseconds(2500) == clock::duration::zero());
}

struct stalled_ticks {
  clock::time_point s0, stall_end;
  std::vector<clock::time_point> scheduled, returned;
};

// One tick, a stall of the whole worker for `stall`, then `n` more ticks.
task<stalled_ticks> tick_through_stall(weft::missed_tick behavior, clock::duration period, clock::duration stall,
                                       int n) {
  stalled_ticks r;
  weft::interval iv{period, behavior};
  r.s0 = co_await iv.next();
  std::this_thread::sleep_for(stall);
  r.stall_end = clock::now();
  for (int i = 0; i < n; ++i) {
    r.scheduled.push_back(co_await iv.next());
    r.returned.push_back(clock::now());
  }
  co_return r;
}
}  // namespace

TEST_CASE("interval ticks: first at once, then one per period", "[time]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(interval_basics());
  CHECK_THROWS_AS(weft::interval(0ms), std::invalid_argument);
  CHECK_THROWS_AS(weft::interval(-1ms), std::invalid_argument);
}

TEST_CASE("interval missed_tick behaviours after a stall", "[time]") {
  weft::runtime rt{{.workers = 2}};
  constexpr auto period = 20ms;
  constexpr auto stall = 110ms;

  SECTION("burst: every missed tick is delivered, on the original grid") {
    auto r = rt.block_on(tick_through_stall(weft::missed_tick::burst, period, stall, 7));
    for (std::size_t i = 0; i < r.scheduled.size(); ++i) {
      INFO("tick " << i + 1);
      CHECK(r.scheduled[i] == r.s0 + static_cast<int>(i + 1) * period);
      CHECK(r.returned[i] >= r.scheduled[i]);
    }
    // The ticks missed during the stall (at least 5 of them: 20..100 ms)
    // were all due when the stall ended.
    int late = 0;
    for (auto s : r.scheduled) late += s <= r.stall_end;
    CHECK(late >= 5);
  }
  SECTION("delay: after the missed tick, the next is one period after it was taken") {
    auto r = rt.block_on(tick_through_stall(weft::missed_tick::delay, period, stall, 4));
    // The missed tick, delivered late.
    CHECK(r.scheduled[0] >= r.s0 + period);
    CHECK(r.scheduled[0] <= r.stall_end);
    for (std::size_t i = 1; i < r.scheduled.size(); ++i) {
      INFO("tick " << i + 1);
      CHECK(r.scheduled[i] >= r.stall_end + period);
      CHECK(r.scheduled[i] - r.scheduled[i - 1] >= period);
      CHECK(r.returned[i] >= r.scheduled[i]);
    }
    // The spacing restarted from the late tick, not from the original grid.
    CHECK(r.scheduled[1] <= r.returned[0] + period);
    CHECK(r.scheduled[1] > r.s0 + 2 * period);
  }
  SECTION("skip: the missed ticks are dropped; ticks stay on the original grid") {
    auto r = rt.block_on(tick_through_stall(weft::missed_tick::skip, period, stall, 4));
    CHECK(r.scheduled[0] == r.s0 + period);  // one late tick, not a burst
    for (std::size_t i = 1; i < r.scheduled.size(); ++i) {
      INFO("tick " << i + 1);
      const auto since = r.scheduled[i] - r.s0;
      CHECK(since % period == clock::duration::zero());  // on the grid
      CHECK(r.scheduled[i] > r.stall_end);               // missed ones skipped
      CHECK(r.scheduled[i] - r.scheduled[i - 1] >= period);
      CHECK(r.returned[i] >= r.scheduled[i]);
    }
    // The first tick after the late one is the next grid point after it.
    CHECK(r.scheduled[1] <= r.returned[0] + period);
    CHECK(r.scheduled[1] - r.scheduled[0] >= 5 * period);
  }
}

namespace {
task<std::vector<clock::time_point>> on_time_ticks(weft::missed_tick behavior, clock::duration period, int n,
                                                   std::vector<clock::time_point>* returned = nullptr) {
  weft::interval iv{period, behavior};
  std::vector<clock::time_point> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(co_await iv.next());
    if (returned) returned->push_back(clock::now());
  }
  co_return out;
}
}  // namespace

TEST_CASE("interval ticks stay on the grid (burst, skip)", "[time]") {
  weft::runtime rt{{.workers = 2}};
  constexpr auto period = 10ms;
  auto burst = rt.block_on(on_time_ticks(weft::missed_tick::burst, period, 8));
  for (std::size_t i = 1; i < burst.size(); ++i) CHECK(burst[i] - burst[0] == static_cast<int>(i) * period);
  // skip may drop a tick if this task ran late, but never leaves the grid.
  auto skip = rt.block_on(on_time_ticks(weft::missed_tick::skip, period, 8));
  for (std::size_t i = 1; i < skip.size(); ++i) {
    CHECK(skip[i] - skip[i - 1] >= period);
    CHECK((skip[i] - skip[0]) % period == clock::duration::zero());
  }
}

// Regression: missed_tick says what next() does after it fell behind, but
// delay set the next tick to now + period after every tick, late or not; as
// a sleep never wakes early (and usually ~1 ms late), an on-time delay
// interval drifted on every tick (fixed in 2139b08: a tick is missed when
// taken more than 5 ms late, as in Tokio). Only ticks taken on time (by
// this task's own clock, which reads later than next()'s) are checked, so
// a loaded machine cannot fail it.
TEST_CASE("interval with missed_tick::delay does not drift while on time", "[time]") {
  weft::runtime rt{{.workers = 2}};
  constexpr auto period = 10ms;
  std::vector<clock::time_point> returned;
  auto ticks = rt.block_on(on_time_ticks(weft::missed_tick::delay, period, 8, &returned));
  int checked = 0;
  for (std::size_t i = 1; i < ticks.size(); ++i) {
    if (returned[i - 1] > ticks[i - 1] + 4ms) continue;  // the previous tick was (nearly) late
    ++checked;
    INFO("tick " << i << " is "
                 << std::chrono::duration_cast<std::chrono::microseconds>(ticks[i] - ticks[i - 1]).count()
                 << " us after the one before");
    CHECK(ticks[i] - ticks[i - 1] == period);
  }
  if (checked == 0) WARN("every tick was late on this machine; nothing checked");
}

// ---------------------------------------------------------------- with_timeout

namespace {
task<void> timeout_basics() {
  // A slow sleep times out, no earlier than the deadline.
  auto t0 = clock::now();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(30ms, nap(10s)), weft::timeout_error);
  auto took = clock::now() - t0;
  CHECK(took >= 30ms);
  CHECK(took < 5s);

  // A fast task returns its value.
  CO_CHECK_EQ(weft::with_timeout(5s, value_after(1ms, 42)), 42);
  CO_CHECK_EQ(weft::with_timeout(5s, value_after(0ms, std::string("str"))), "str");

  // task<void>, both ways.
  co_await weft::with_timeout(5s, nap(1ms));
  CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, nap(10s)), weft::timeout_error);

  // with_deadline with an absolute time.
  t0 = clock::now();
  CO_REQUIRE_THROWS_AS(weft::with_deadline(t0 + 20ms, nap(10s)), weft::timeout_error);
  CHECK(clock::now() >= t0 + 20ms);
  // A deadline already passed: the operation is cancelled at its first suspension.
  CO_REQUIRE_THROWS_AS(weft::with_deadline(clock::now() - 1s, nap(10s)), weft::timeout_error);

  // After all that, the task is not left cancelled: it can still sleep.
  t0 = clock::now();
  co_await weft::sleep_for(30ms);
  CHECK(clock::now() - t0 >= 30ms);
  // And an exception other than the timeout passes through untouched.
  struct failing {
    static task<int> run() {
      co_await weft::sleep_for(1ms);
      throw std::runtime_error("inner failure");
    }
  };
  auto failure = co_await error_of(weft::with_timeout(5s, failing::run()));
  REQUIRE_THROWS_WITH(rethrow_if(failure), "inner failure");
}

task<void> nested_timeouts() {
  // Inner shorter: the inner one fires and its timeout_error passes the outer.
  auto t0 = clock::now();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(5s, weft::with_timeout(20ms, nap(10s))), weft::timeout_error);
  CHECK(clock::now() - t0 >= 20ms);
  CHECK(clock::now() - t0 < 4s);

  // Outer shorter: the outer fires; the inner sees a cancellation (not its
  // own timeout) and the outer turns it into timeout_error.
  t0 = clock::now();
  bool inner_saw_cancel = false;
  auto inner = [](bool* saw) -> task<void> {
    try {
      co_await weft::with_timeout(5s, nap(10s));
    } catch (const weft::timeout_error&) {
      throw;  // would be wrong: the inner deadline has not passed
    } catch (const weft::operation_cancelled&) {
      *saw = true;
      throw;
    }
  };
  CO_REQUIRE_THROWS_AS(weft::with_timeout(20ms, inner(&inner_saw_cancel)), weft::timeout_error);
  CHECK(inner_saw_cancel);
  CHECK(clock::now() - t0 >= 20ms);
  CHECK(clock::now() - t0 < 4s);

  // Both generous: the value comes through both.
  CO_CHECK_EQ(weft::with_timeout(5s, weft::with_timeout(4s, value_after(2ms, 7))), 7);

  // Three deep, the middle one shortest.
  t0 = clock::now();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(5s, weft::with_timeout(15ms, weft::with_timeout(4s, nap(10s)))),
                       weft::timeout_error);
  CHECK(clock::now() - t0 >= 15ms);

  // The task still sleeps normally afterwards (no stale timer fires into it).
  t0 = clock::now();
  co_await weft::sleep_for(50ms);
  CHECK(clock::now() - t0 >= 50ms);
}

task<int> timeout_inside(std::atomic<bool>* entered) {
  entered->store(true);
  co_await weft::with_timeout(5s, nap(10s));
  co_return 0;
}

task<void> cancel_around_timeout() {
  std::atomic<bool> entered{false};
  auto h = weft::spawn(timeout_inside(&entered));
  co_await weft::sleep_for(20ms);
  CHECK(entered.load());
  const auto t0 = clock::now();
  h.cancel();
  // The enclosing task was cancelled: that is not a timeout.
  CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
  CHECK(clock::now() - t0 < 4s);
}

// How a spawned task ended. After a cancellation it may throw something
// else, which nobody must report: its outcome was given up on.
struct watched {
  std::atomic<int> cancelled{0}, finished{0};
};

task<int> watched_sleep(watched* w, clock::duration d, int v, bool fail_when_cancelled = false) {
  try {
    co_await weft::sleep_for(d);
  } catch (const weft::operation_cancelled&) {
    ++w->cancelled;
    if (fail_when_cancelled) throw std::runtime_error("failed while being cancelled");
    throw;
  }
  ++w->finished;
  co_return v;
}

task<void> wait_for_count(const std::atomic<int>& c, int n) {
  for (int i = 0; i < 400 && c.load() < n; ++i) co_await weft::sleep_for(10ms);
}

task<void> timeout_around_join_handle() {
  // By value: at the deadline the task is cancelled (not left running).
  watched w;
  auto h = weft::spawn(watched_sleep(&w, 10s, 5));
  auto t0 = clock::now();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(20ms, std::move(h)), weft::timeout_error);
  CHECK(clock::now() - t0 >= 20ms);
  co_await wait_for_count(w.cancelled, 1);
  CHECK(w.cancelled == 1);
  CHECK(w.finished == 0);

  // One that finishes in time gives its value.
  auto fast = weft::spawn(value_after(1ms, 9));
  CO_CHECK_EQ(weft::with_timeout(5s, std::move(fast)), 9);
  auto fast2 = weft::spawn(value_after(1ms, 10));
  CO_CHECK_EQ(weft::with_deadline(clock::now() + 5s, std::move(fast2)), 10);

  // with_deadline, and a task that fails once cancelled: nobody reports that.
  watched w2;
  auto h2 = weft::spawn(watched_sleep(&w2, 10s, 5, true));
  CO_REQUIRE_THROWS_AS(weft::with_deadline(clock::now() + 20ms, std::move(h2)), weft::timeout_error);
  co_await wait_for_count(w2.cancelled, 1);
  CHECK(w2.cancelled == 1);

  // A void task, not yet started when awaited (it is run inline).
  watched w3;
  auto h3 = weft::spawn([](watched* w) -> task<void> { (void)co_await watched_sleep(w, 10s, 0); }(&w3));
  CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, std::move(h3)), weft::timeout_error);
  co_await wait_for_count(w3.cancelled, 1);
  CHECK(w3.cancelled == 1);

  // A with_timeout task dropped before it was awaited gives up on its handle.
  watched w4;
  {
    auto never_awaited = weft::with_timeout(5s, weft::spawn(watched_sleep(&w4, 10s, 0)));
    co_await weft::sleep_for(5ms);  // let the task start sleeping
  }
  co_await wait_for_count(w4.cancelled, 1);
  CHECK(w4.cancelled == 1);
}

task<void> timeout_around_kept_join_handle() {
  // An lvalue handle the caller keeps: cancelled at the deadline too; the
  // handle stays valid and yields the task's outcome.
  watched w;
  auto h = weft::spawn(watched_sleep(&w, 10s, 5));
  CO_REQUIRE_THROWS_AS(weft::with_timeout(20ms, h), weft::timeout_error);
  REQUIRE(h.valid());
  CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
  CHECK(w.cancelled == 1);
  CHECK(w.finished == 0);

  // In time: the value, and the handle is joined.
  auto fast = weft::spawn(value_after(1ms, 9));
  CO_CHECK_EQ(weft::with_timeout(5s, fast), 9);
  CHECK(fast.is_finished());
  auto fast2 = weft::spawn(value_after(1ms, 11));
  CO_CHECK_EQ(weft::with_deadline(clock::now() + 5s, fast2), 11);

  // Failing once cancelled, then dropped without being awaited: not reported.
  watched w2;
  auto h2 = weft::spawn(watched_sleep(&w2, 10s, 5, true));
  CO_REQUIRE_THROWS_AS(weft::with_deadline(clock::now() + 20ms, h2), weft::timeout_error);
  co_await wait_for_count(w2.cancelled, 1);
  co_await weft::sleep_for(10ms);
  h2 = {};
}

task<int> timeout_on_handle_inside(watched* w, std::atomic<bool>* entered) {
  auto h = weft::spawn(watched_sleep(w, 10s, 1));
  entered->store(true);
  co_return co_await weft::with_timeout(5s, std::move(h));
}

task<void> cancel_around_timeout_on_handle() {
  // The awaiting task is cancelled: with_timeout gives up on the handle's
  // task (cancels it) and that is operation_cancelled, not a timeout.
  watched w;
  std::atomic<bool> entered{false};
  auto outer = weft::spawn(timeout_on_handle_inside(&w, &entered));
  while (!entered.load()) co_await weft::sleep_for(1ms);
  co_await weft::sleep_for(10ms);
  outer.cancel();
  CO_REQUIRE_THROWS_AS(std::move(outer), weft::operation_cancelled);
  co_await wait_for_count(w.cancelled, 1);
  CHECK(w.cancelled == 1);
  CHECK(w.finished == 0);
}
}  // namespace

TEST_CASE("with_timeout: slow operations time out, fast ones return their value", "[time]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(timeout_basics());
}

TEST_CASE("with_timeout nested in with_timeout", "[time]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(nested_timeouts());
}

TEST_CASE("with_timeout in a cancelled task gives operation_cancelled, not timeout_error", "[time]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(cancel_around_timeout());
}

TEST_CASE("with_timeout around a join_handle cancels the task it gives up on", "[time]") {
  std::atomic<int> reports{0};
  weft::runtime rt{{.workers = 2, .unhandled_exception = [&](std::exception_ptr) { ++reports; }}};
  rt.block_on(timeout_around_join_handle());
  CHECK(reports == 0);
}

TEST_CASE("with_timeout around a join_handle the caller keeps (lvalue) cancels it too", "[time]") {
  std::atomic<int> reports{0};
  weft::runtime rt{{.workers = 2, .unhandled_exception = [&](std::exception_ptr) { ++reports; }}};
  rt.block_on(timeout_around_kept_join_handle());
  CHECK(reports == 0);
}

TEST_CASE("cancelling the task in with_timeout on a join_handle cancels the handle's task", "[time]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(cancel_around_timeout_on_handle());
}

TEST_CASE("with_timeout on a join_handle: no detached-task warning on stderr", "[time]") {
  weft_test::stderr_capture err;
  watched w;
  {
    weft::runtime rt{{.workers = 2}};  // the default handler: a line on stderr
    rt.block_on([](watched* w) -> task<void> {
      CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, weft::spawn(watched_sleep(w, 10s, 1, true))), weft::timeout_error);
      auto kept = weft::spawn(watched_sleep(w, 10s, 1, true));
      CO_REQUIRE_THROWS_AS(weft::with_timeout(10ms, kept), weft::timeout_error);
      co_await wait_for_count(w->cancelled, 2);
      co_await weft::sleep_for(20ms);
    }(&w));
  }
  const std::string text = err.text();
  INFO("stderr: " << text);
  CHECK(w.cancelled == 2);
  CHECK(text.empty());  // neither "unhandled exception in a detached task" nor "unfinished"
}

TEST_CASE("with_timeout on a running spawn_blocking job returns at the deadline", "[time]") {
  // A running job cannot be interrupted: with_timeout does not wait for it,
  // and the job's later failure is not reported.
  std::atomic<int> reports{0};
  std::atomic<bool> done{false};
  {
    weft::runtime rt{{.workers = 2, .unhandled_exception = [&](std::exception_ptr) { ++reports; }}};
    rt.block_on([](std::atomic<bool>* done) -> task<void> {
      std::atomic<bool> started{false};
      auto h = weft::spawn_blocking([done, &started] {
        started = true;
        std::this_thread::sleep_for(1500ms);
        done->store(true);
        throw std::runtime_error("job failed late");
      });
      while (!started.load()) co_await weft::sleep_for(1ms);
      const auto t0 = clock::now();
      CO_REQUIRE_THROWS_AS(weft::with_timeout(20ms, std::move(h)), weft::timeout_error);
      CHECK(clock::now() - t0 < 1s);
      while (!done->load()) co_await weft::sleep_for(5ms);
      co_await weft::sleep_for(30ms);
    }(&done));
  }
  CHECK(done);
  CHECK(reports == 0);
}

namespace {
task<void> timeout_around_recv(int a, int b) {
  char buf[16] = {};
  const auto t0 = clock::now();
  CO_REQUIRE_THROWS_AS(weft::with_timeout(30ms, weft::ops::recv(a, buf, sizeof buf)), weft::timeout_error);
  CHECK(clock::now() - t0 >= 30ms);
  CHECK(clock::now() - t0 < 5s);
  // Nothing was consumed: data sent now arrives intact.
  CHECK(::send(b, "tick", 4, MSG_NOSIGNAL) == 4);
  CO_CHECK_EQ(weft::with_timeout(5s, weft::ops::recv(a, buf, sizeof buf)), 4);
  CHECK(std::string(buf, 4) == "tick");
  // An ops::timeout inside a with_timeout: the shorter wins.
  CO_REQUIRE_THROWS_AS(weft::with_timeout(20ms, weft::ops::timeout(10s)), weft::timeout_error);
  CO_CHECK_EQ(weft::with_timeout(5s, weft::ops::timeout(5ms)), 0);
}
}  // namespace

TEST_CASE("with_timeout around a driver operation, on both drivers", "[time]") {
  const auto backend = GENERATE(weft::io_backend::io_uring, weft::io_backend::epoll);
  INFO("backend: " << weft::to_string(backend));
  std::unique_ptr<weft::runtime> rt;
  try {
    rt = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 2, .io = backend});
  } catch (const std::runtime_error& e) {
    if (backend != weft::io_backend::io_uring) throw;
    WARN("io_uring is not available here: " << e.what());
    return;
  }
  REQUIRE(rt->io_backend() == backend);
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  rt->block_on(timeout_around_recv(sv[0], sv[1]));
  rt.reset();
  ::close(sv[0]);
  ::close(sv[1]);
}

// ---------------------------------------------------------------- known bugs

namespace {
// The with_timeout deadline and the inner sleep are due in the same
// advance() (the worker was stalled past both), the timeout's entry first.
task<int> timeout_and_sleep_due_together() {
  co_await weft::sleep_for(1ms);                    // brings this worker's wheel up to date
  auto staller = weft::spawn(stall_worker(150ms));  // runs as soon as we suspend
  int outcome = 0;
  try {
    co_await weft::with_timeout(5ms, nap(100ms));
    outcome = 1;
  } catch (const weft::timeout_error&) {
    outcome = 2;
  }
  co_await staller;
  co_return outcome;
}
}  // namespace

// timeout_scope::on_fire runs child_.request_stop() inside timer_wheel::advance,
// which runs the sleep's stop callback, which disarms the sleep's entry: an
// entry that the same advance() has taken off the wheel and will fire next.
// (Before timer_entry lost its `firing` state, remove() spun there forever.)
// Run in a child process so that a hang fails the test instead of the run.
TEST_CASE("with_timeout and its inner sleep due in the same tick batch do not hang the worker", "[time]") {
  auto outcome = run_in_child(
      [] {
        weft::runtime rt{{.workers = 1}};
        for (int i = 0; i < 3; ++i) {
          int r = rt.block_on(timeout_and_sleep_due_together());
          if (r != 1 && r != 2) return false;
        }
        return true;
      },
      10s);
  INFO("child " << name(outcome));
  CHECK(outcome == child_outcome::passed);
}

namespace {
task<void> sleep_forever_then_more() {
  co_await weft::sleep_for(2ms);  // the wheel is no longer at tick 0
  auto forever = weft::spawn(nap(clock::duration::max() / 2));
  co_await weft::sleep_for(5ms);
  forever.cancel();
  try {
    co_await forever;
  } catch (const weft::operation_cancelled&) {
  }
  co_await weft::sleep_for(5ms);
}
}  // namespace

// Regression: a sleep longer than the wheel's span (2.2 years; e.g. a
// "forever" sleep) was clamped into the level-5 slot the wheel's time is in,
// which timer_wheel::advance() then re-filed into itself forever (fixed in
// 2139b08). Run in a child so that a hang fails the test.
TEST_CASE("a very long sleep does not hang the worker", "[time]") {
  auto outcome = run_in_child(
      [] {
        weft::runtime rt{{.workers = 1}};
        rt.block_on(sleep_forever_then_more());
        return true;
      },
      10s);
  INFO("child " << name(outcome));
  CHECK(outcome == child_outcome::passed);
}

namespace {
task<bool> huge_durations() {
  // "No timeout": the value must come back, not a timeout_error.
  auto e = co_await error_of(weft::with_timeout(std::chrono::nanoseconds::max(), value_after(1ms, 1)));
  if (e) co_return false;
  // "Forever": still asleep a little later.
  auto h = weft::spawn(nap(clock::duration::max()));
  co_await weft::sleep_for(20ms);
  const bool asleep = !h.is_finished();
  h.cancel();
  (void)co_await error_of(std::move(h));
  co_return asleep;
}
}  // namespace

// Regression: sleep_for and with_timeout computed clock::now() + d without
// saturating: for d = nanoseconds::max() the deadline overflowed (UB) into
// the past, so a "forever" sleep ended at once and a "no timeout"
// with_timeout timed out at once (fixed in 2139b08).
TEST_CASE("sleep_for and with_timeout with the largest duration", "[time]") {
  auto outcome = run_in_child(
      [] {
        weft::runtime rt{{.workers = 1}};
        return rt.block_on(huge_durations());
      },
      10s);
  INFO("child " << name(outcome));
  CHECK(outcome == child_outcome::passed);
}

TEST_CASE("with_timeout takes a sleep awaiter directly", "[time]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    // The deadline passes first: timeout_error.
    CO_REQUIRE_THROWS_AS(weft::with_timeout(5ms, weft::sleep_for(10s)), weft::timeout_error);
    // The sleep ends first: no error.
    co_await weft::with_timeout(10s, weft::sleep_for(1ms));
  }());
}
