// weft/runtime/stall.hpp: the stall detector reports a task that runs past
// runtime_options::stall_threshold without suspending, once, with the
// worker's stack and the task's coroutine, counts it in metrics, and never
// reports a task that suspends often; stall_report::text().
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;

namespace {

// Busy for d, calling nothing the compiler could turn into a suspension.
// noinline: the test finds its address in the reported stack.
[[gnu::noinline]] std::uint64_t spin_for(std::chrono::milliseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  std::uint64_t n = 0;
  while (std::chrono::steady_clock::now() < end) ++n;
  return n;
}

// The reports, as the handler received them.
struct collected {
  std::mutex mu;
  std::vector<weft::stall_report> reports;
  std::vector<weft::stall_report> take() {
    std::lock_guard g(mu);
    return reports;
  }
};

weft::runtime_options options_for(collected& c, std::chrono::milliseconds threshold) {
  weft::runtime_options o;
  o.workers = 2;
  o.stall_threshold = threshold;
  o.on_stall = [&c](const weft::stall_report& r) {
    std::lock_guard g(c.mu);
    c.reports.push_back(r);
  };
  return o;
}

[[maybe_unused]] bool in_function(std::uintptr_t pc, const void* fn) {
  const auto f = reinterpret_cast<std::uintptr_t>(fn);
  return pc >= f && pc < f + 4096;  // spin_for is a small function (larger with sanitizers)
}

}  // namespace

TEST_CASE("stall: a task that runs 300 ms without suspending is reported once, with its stack", "[runtime][stall]") {
  collected c;
  weft::runtime rt{options_for(c, 50ms)};
  std::uint64_t spins = rt.block_on([]() -> weft::task<std::uint64_t> {
    auto h = weft::spawn([]() -> weft::task<std::uint64_t> { co_return spin_for(300ms); }());
    co_return co_await h;
  }());
  CHECK(spins > 0);
  const auto reports = c.take();
  REQUIRE(reports.size() == 1);
  const weft::stall_report& r = reports[0];
  CHECK(r.worker < 2);
  CHECK(r.thread_name == "weft-" + std::to_string(r.worker));
  CHECK(r.threshold == 50ms);
  CHECK(r.running_for >= 50ms);
  CHECK(rt.metrics().total().stalls == 1);
  CHECK(rt.metrics().workers[r.worker].stalls == 1);
  INFO(r.text());
  CHECK(r.text().find("weft: stall: worker " + std::to_string(r.worker) + " (weft-") == 0);
  CHECK(r.text().find("(stall_threshold 50 ms)") != std::string::npos);
#if !defined(__SANITIZE_THREAD__)
  // (ThreadSanitizer delivers signals only when the thread calls into it:
  // a pure spin may get it too late, and then the stack is missing.)
  REQUIRE(!r.addresses.empty());
  CHECK(r.addresses.size() == r.backtrace.size());
  bool spinning = false;
  for (auto pc : r.addresses) spinning = spinning || in_function(pc, reinterpret_cast<const void*>(&spin_for));
  CHECK(spinning);  // the stack is the stalled worker's, taken during the stall
  CHECK(!r.task.empty());
  CHECK(r.text().find("  #0 ") != std::string::npos);
#endif
}

TEST_CASE("stall: tasks that suspend often are never reported", "[runtime][stall]") {
  collected c;
  weft::runtime rt{options_for(c, 50ms)};
  rt.block_on([]() -> weft::task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 4; ++i)
      hs.push_back(weft::spawn([]() -> weft::task<void> {
        for (int k = 0; k < 30; ++k) {
          spin_for(5ms);  // well under the threshold between suspensions
          co_await weft::yield_now();
        }
      }()));
    for (auto& h : hs) co_await h;
    co_await weft::sleep_for(200ms);  // idle workers are not stalled either
  }());
  CHECK(c.take().empty());
  CHECK(rt.metrics().total().stalls == 0);
}

TEST_CASE("stall: each stall is reported once, a second stall again", "[runtime][stall]") {
  collected c;
  weft::runtime rt{options_for(c, 40ms)};
  rt.block_on([]() -> weft::task<void> {
    spin_for(200ms);
    co_await weft::yield_now();
    spin_for(200ms);
  }());
  CHECK(c.take().size() == 2);
  CHECK(rt.metrics().total().stalls == 2);
}

TEST_CASE("stall: off by default", "[runtime][stall]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> weft::task<void> {
    spin_for(100ms);
    co_return;
  }());
  CHECK(rt.metrics().total().stalls == 0);
}

TEST_CASE("stall: the default handler prints the report on stderr", "[runtime][stall]") {
  weft_test::stderr_capture err;
  {
    weft::runtime rt{{.workers = 1, .stall_threshold = 30ms}};
    rt.block_on([]() -> weft::task<void> {
      spin_for(150ms);
      co_return;
    }());
  }
  const std::string text = err.text();
  INFO(text);
  CHECK(text.find("weft: stall: worker 0 (weft-0) has run one task for ") == 0);
  CHECK(weft_test::occurrences(text, "weft: stall:") == 1);
}

TEST_CASE("stall: stall_report::text without a stack says so", "[runtime][stall]") {
  weft::stall_report r;
  r.worker = 3;
  r.thread_name = "srv-3";
  r.running_for = 120ms;
  r.threshold = 100ms;
  CHECK(r.text() ==
        "weft: stall: worker 3 (srv-3) has run one task for 120 ms without suspending (stall_threshold 100 ms); "
        "task: unknown\n  (no backtrace: the worker did not take the signal in time)\n");
  r.task = "f()";
  r.backtrace = {"a", "b"};
  CHECK(r.text() ==
        "weft: stall: worker 3 (srv-3) has run one task for 120 ms without suspending (stall_threshold 100 ms); "
        "task: f()\n  #0 a\n  #1 b\n");
}
