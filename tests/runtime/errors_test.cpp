// weft/runtime/errors.hpp: operation_cancelled, timeout_error and
// channel_closed: their bases and messages, and that each comes out of the
// places the header names (a cancelled join, with_timeout, when_any's
// losers, a failing task_scope sibling, a handle outliving its runtime, a
// closed channel, a oneshot sender dropped without sending).
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {

// Catching std::runtime_error (or std::logic_error) must not swallow a
// cancellation; a timeout and a closed channel are ordinary failures.
static_assert(std::is_base_of_v<std::exception, weft::operation_cancelled>);
static_assert(!std::is_base_of_v<std::runtime_error, weft::operation_cancelled>);
static_assert(!std::is_base_of_v<std::logic_error, weft::operation_cancelled>);
static_assert(std::is_base_of_v<std::runtime_error, weft::timeout_error>);
static_assert(std::is_base_of_v<std::runtime_error, weft::channel_closed>);
static_assert(!std::is_base_of_v<weft::timeout_error, weft::channel_closed>);
static_assert(!std::is_base_of_v<weft::channel_closed, weft::timeout_error>);
static_assert(std::is_nothrow_default_constructible_v<weft::operation_cancelled>);

// How `a` ended: "value", or the exception's kind and what().
template <class Awaitable>
task<std::string> outcome_of(Awaitable a) {
  try {
    (void)co_await std::move(a);
    co_return "value";
  } catch (const weft::operation_cancelled& e) {
    co_return std::string("operation_cancelled: ") + e.what();
  } catch (const weft::timeout_error& e) {
    co_return std::string("timeout_error: ") + e.what();
  } catch (const weft::channel_closed& e) {
    co_return std::string("channel_closed: ") + e.what();
  } catch (const std::exception& e) {
    co_return std::string("other: ") + e.what();
  }
}

task<int> sleep_then(std::chrono::milliseconds d, int v) {
  co_await weft::sleep_for(d);
  co_return v;
}

task<int> fail_soon() {
  co_await weft::sleep_for(1ms);
  throw std::runtime_error("sibling failed");
}

}  // namespace

TEST_CASE("errors: what() of the default-constructed errors", "[runtime][errors]") {
  CHECK(std::string(weft::operation_cancelled{}.what()) == "weft: operation cancelled");
  CHECK(std::string(weft::timeout_error{}.what()) == "weft: operation timed out");
  CHECK(std::string(weft::channel_closed{}.what()) == "weft: channel closed");
}

TEST_CASE("errors: timeout_error and channel_closed take a message of their own", "[runtime][errors]") {
  const weft::timeout_error t("resolve took too long");
  CHECK(std::string(t.what()) == "resolve took too long");
  const weft::channel_closed c(std::string("jobs queue closed"));
  CHECK(std::string(c.what()) == "jobs queue closed");

  // Caught through their bases, with the message.
  try {
    throw weft::timeout_error("late");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "late");
  }
  try {
    throw weft::channel_closed();
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "weft: channel closed");
  }
  // operation_cancelled is not a runtime_error: a catch of those lets it pass.
  bool passed_through = false;
  try {
    try {
      throw weft::operation_cancelled{};
    } catch (const std::runtime_error&) {
      FAIL("operation_cancelled caught as std::runtime_error");
    }
  } catch (const weft::operation_cancelled&) {
    passed_through = true;
  }
  CHECK(passed_through);
}

TEST_CASE("errors: operation_cancelled from cancel(), when_any's losers and a failing task_scope sibling",
          "[runtime][errors][cancel]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    // join_handle::cancel(): the awaited task ends in operation_cancelled.
    auto h = weft::spawn(sleep_then(10s, 1));
    co_await weft::sleep_for(5ms);
    h.cancel();
    std::string joined = co_await outcome_of(std::move(h));
    CHECK(joined == "operation_cancelled: weft: operation cancelled");

    // A when_any loser sees operation_cancelled at its suspension point.
    std::string loser;
    auto records = [](std::string& out) -> task<int> {
      out = co_await outcome_of(sleep_then(10s, 0));
      co_return 0;
    };
    auto r = co_await weft::when_any(records(loser), sleep_then(1ms, 2));
    CHECK(r.index == 1);
    CHECK(loser == "operation_cancelled: weft: operation cancelled");

    // A task_scope sibling of a failing child, likewise; the scope rethrows
    // the failure, not the cancellation.
    std::string sibling;
    std::string scope = co_await outcome_of(weft::task_scope::run([&](weft::task_scope& s) -> task<void> {
      s.spawn(records(sibling));
      s.spawn(fail_soon());
      co_return;
    }));
    CHECK(scope == "other: sibling failed");
    CHECK(sibling == "operation_cancelled: weft: operation cancelled");
  }());
}

TEST_CASE("errors: timeout_error from with_timeout", "[runtime][errors]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    std::string late = co_await outcome_of(weft::with_timeout(5ms, sleep_then(10s, 1)));
    CHECK(late == "timeout_error: weft: operation timed out");
    std::string in_time = co_await outcome_of(weft::with_timeout(10s, sleep_then(1ms, 1)));
    CHECK(in_time == "value");
  }());
}

TEST_CASE("errors: a handle outliving its runtime yields operation_cancelled", "[runtime][errors][shutdown]") {
  weft::join_handle<int> h;
  {
    weft::runtime rt{{.workers = 1, .report_unfinished = false}};
    h = rt.spawn(sleep_then(1h, 1));
  }
  REQUIRE(h.is_finished());
  weft::runtime other{{.workers = 1}};
  std::string joined = other.block_on(outcome_of(std::move(h)));
  CHECK(joined == "operation_cancelled: weft: operation cancelled");
}

TEST_CASE("errors: channel_closed from a closed channel and a dropped oneshot sender", "[runtime][errors]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::channel<int> ch{1};
    ch.close();
    std::string sent = co_await outcome_of(ch.send(1));
    CHECK(sent == "channel_closed: weft: channel closed");

    auto [tx, rx] = weft::oneshot<int>();
    { auto gone = std::move(tx); }
    std::string received = co_await outcome_of(std::move(rx));
    CHECK(received == "channel_closed: weft: oneshot sender dropped without sending");
  }());
}
