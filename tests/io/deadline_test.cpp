// io::deadline, the optional time limit every I/O operation takes: none, an
// absolute time, a duration from now (rounded up, saturated), earliest();
// and io::within(), which runs any awaitable under one (timeout_error when
// it passes, cancellation passed through).
#include <chrono>
#include <optional>

#include "io_fault_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

weft::task<int> answer(int v) { co_return v; }

}  // namespace

TEST_CASE("deadline: none, a time point, a duration from now", "[io][deadline]") {
  constexpr io::deadline none;
  CHECK_FALSE(none);
  const io::deadline also_none{std::nullopt};
  CHECK_FALSE(also_none);

  const auto t = weft::clock::now() + 3s;
  const io::deadline at{t};
  REQUIRE(at);
  CHECK(at.at() == t);

  auto before = weft::clock::now();
  const io::deadline in{5s};
  auto after = weft::clock::now();
  REQUIRE(in);
  CHECK(in.at() >= before + 5s);
  CHECK(in.at() <= after + 5s);

  // Rounded up to the clock's resolution: never earlier than asked.
  before = weft::clock::now();
  const io::deadline tiny{std::chrono::duration<double, std::nano>(0.5)};
  after = weft::clock::now();
  CHECK(tiny.at() >= before + 1ns);
  CHECK(tiny.at() <= after + 1ns);

  // Zero or negative: now, i.e. already passed.
  before = weft::clock::now();
  const io::deadline past{-1s};
  after = weft::clock::now();
  CHECK(past.at() >= before);
  CHECK(past.at() <= after);

  // "Forever" saturates instead of overflowing into the past.
  const io::deadline forever{std::chrono::hours::max()};
  CHECK(forever.at() == weft::clock::time_point::max());
}

TEST_CASE("deadline: earliest() of two, an unset one never wins", "[io][deadline]") {
  const auto t = weft::clock::now() + 10s;
  const io::deadline a{t}, b{t + 1s}, none;
  CHECK(earliest(a, b).at() == t);
  CHECK(earliest(b, a).at() == t);
  CHECK(earliest(a, none).at() == t);
  CHECK(earliest(none, b).at() == t + 1s);
  CHECK_FALSE(earliest(none, none));
}

TEST_CASE("deadline: within() runs an operation under a deadline, or without one", "[io][deadline]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    int unlimited = 0, in_time = 0;
    bool void_done = false;
    outcome late, past, cancelled;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    result out;
    out.unlimited = co_await io::within({}, answer(42));
    out.in_time = co_await io::within(20s, answer(43));
    co_await io::within(20s, weft::sleep_for(1ms));
    out.void_done = true;
    out.late = co_await outcome_of(io::within(50ms, weft::sleep_for(1h)));
    out.past = co_await outcome_of(io::within(weft::clock::now() - 1s, weft::sleep_for(1h)));
    auto h = weft::spawn(io::within(20s, weft::sleep_for(1h)));
    co_await settle();
    h.cancel();
    out.cancelled = co_await outcome_of(std::move(h));
    co_return out;
  }());
  CHECK(r.unlimited == 42);
  CHECK(r.in_time == 43);
  CHECK(r.void_done);
  INFO(r.late);
  CHECK(r.late.kind == outcome::timeout);
  INFO(r.past);
  CHECK(r.past.kind == outcome::timeout);
  INFO(r.cancelled);
  CHECK(r.cancelled.kind == outcome::cancelled);
}
