// Cancellation is cooperative: a stop request makes the task's current (or
// next) suspension point throw weft::operation_cancelled.
#include <weft/weft.hpp>

#include <atomic>
#include <string>

#include "check.hpp"

using namespace std::chrono_literals;

// [start cancel]
weft::task<int> sleeper() {
  co_await weft::sleep_for(10s);  // a suspension point: it observes the stop request
  co_return 1;
}

weft::task<> cancel_one() {
  auto h = weft::spawn(sleeper());
  co_await weft::sleep_for(10ms);
  h.cancel();  // requests stop: the sleep throws operation_cancelled
  try {
    co_await h;
    CHECK(false);
  } catch (const weft::operation_cancelled&) {
    // ...which became the task's outcome
  }
}
// [end cancel]

// [start catch]
weft::task<std::string> tidy() {
  bool cancelled = false;
  try {
    co_await weft::sleep_for(10s);
  } catch (const weft::operation_cancelled&) {
    cancelled = true;  // no co_await inside a catch block (C++ forbids it)
  }
  if (!cancelled) co_return "slept";
  try {
    co_await weft::sleep_for(1ms);  // stop stays requested: every later suspension point throws too
  } catch (const weft::operation_cancelled&) {
    co_return "cleaned up";  // a task may still finish normally
  }
  co_return "slept again";
}

weft::task<> cancel_tidy() {
  auto h = weft::spawn(tidy());
  co_await weft::sleep_for(10ms);
  h.cancel();
  CHECK(co_await h == "cleaned up");
}
// [end catch]

// [start unstarted]
weft::task<> set_flag(bool& ran) {
  ran = true;
  co_return;
}

weft::task<> never_started() {  // on a runtime with one worker: the spawned task waits behind us
  bool ran = false;
  auto h = weft::spawn(set_flag(ran));
  h.cancel();  // before it ever ran
  try {
    co_await h;
  } catch (const weft::operation_cancelled&) {
  }
  CHECK(!ran);  // a task cancelled before it started never runs
}
// [end unstarted]

// [start handle_timeout]
weft::task<> watched(weft::event& cancelled) {
  try {
    co_await weft::sleep_for(10s);
  } catch (const weft::operation_cancelled&) {
    cancelled.set();
    throw;
  }
}

weft::task<> timeout_on_handle() {
  weft::event cancelled;
  auto h = weft::spawn(watched(cancelled));
  try {
    co_await weft::with_timeout(20ms, std::move(h));  // gives up on h at the deadline...
    CHECK(false);
  } catch (const weft::timeout_error&) {
  }
  co_await weft::with_timeout(2s, cancelled.wait());  // ...and h's task was cancelled
}
// [end handle_timeout]

// [start kept]
weft::task<int> after(std::chrono::milliseconds d, int v) {
  co_await weft::sleep_for(d);
  co_return v;
}

weft::task<int> join(weft::join_handle<int>& h) { co_return co_await h; }  // an lvalue: h is not ours

weft::task<> waiter_cancelled() {
  auto h = weft::spawn(after(30ms, 7));
  try {
    co_await weft::with_timeout(5ms, join(h));  // join() is cancelled, its plain `co_await h` with it...
    CHECK(false);
  } catch (const weft::timeout_error&) {
  }
  CHECK(co_await h == 7);  // ...but h's task ran on: we still hold h
}
// [end kept]

// [start yield]
weft::task<long> crunch() {
  for (long n = 0;; ++n)
    if (n % 1024 == 0) co_await weft::yield_now();  // lets the worker's other tasks run, and is
}  // a suspension point: the loop is cancellable

weft::task<> cancel_a_loop() {
  auto h = weft::spawn(crunch());
  co_await weft::sleep_for(10ms);  // runs, although crunch() shares our one worker
  h.cancel();
  try {
    co_await h;
    CHECK(false);
  } catch (const weft::operation_cancelled&) {
  }
}
// [end yield]

// [start stall]
int find_stalls() {
  weft::runtime_options options;
  options.workers = 2;
  options.stall_threshold = 50ms;  // report any task that runs 50 ms without suspending
  std::atomic<int> reported{0};
  options.on_stall = [&](const weft::stall_report& r) {  // on the detector's thread; default: r.text() on stderr
    ++reported;
    CHECK(r.running_for >= 50ms);  // r.backtrace: the worker's stack, taken during the stall
  };
  weft::runtime rt{options};
  rt.block_on([]() -> weft::task<> {
    const auto end = std::chrono::steady_clock::now() + 200ms;
    while (std::chrono::steady_clock::now() < end) {
    }  // 200 ms without a co_await: a stall
    co_return;
  }());
  CHECK(rt.metrics().total().stalls == 1);
  return reported;
}
// [end stall]

int main() {
  CHECK(find_stalls() == 1);
  weft::run(cancel_one());
  weft::run(cancel_tidy());
  weft::run(never_started(), {.workers = 1});
  weft::run(timeout_on_handle());
  weft::run(waiter_cancelled());
  weft::run(cancel_a_loop(), {.workers = 1});
}
