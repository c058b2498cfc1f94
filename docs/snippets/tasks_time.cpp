// Time: sleeps, intervals, and deadlines around any awaitable.
#include <weft/weft.hpp>

#include <string>

#include "check.hpp"

using namespace std::chrono_literals;

weft::task<int> after(std::chrono::milliseconds d, int v) {
  co_await weft::sleep_for(d);
  co_return v;
}

weft::task<> timers() {
  // [start sleep]
  const auto t0 = weft::clock::now();  // weft::clock is std::chrono::steady_clock
  co_await weft::sleep_for(20ms);      // never early; 1 ms resolution
  CHECK(weft::clock::now() - t0 >= 20ms);
  co_await weft::sleep_until(t0 + 30ms);

  weft::interval tick{10ms};  // the first tick at once, then one every 10 ms
  for (int i = 0; i < 3; ++i) co_await tick.next();
  CHECK(weft::clock::now() - t0 >= 50ms);
  // [end sleep]

  // [start timeout]
  int v = co_await weft::with_timeout(1s, after(5ms, 7));  // in time: its value
  CHECK(v == 7);
  try {
    co_await weft::with_timeout(10ms, after(10s, 8));  // too slow: cancelled, then
    CHECK(false);
  } catch (const weft::timeout_error& e) {  // timeout_error
    CHECK(std::string(e.what()) == "weft: operation timed out");
  }
  try {
    co_await weft::with_deadline(weft::clock::now() + 10ms, weft::sleep_for(10s));  // any awaitable
    CHECK(false);
  } catch (const weft::timeout_error&) {
  }
  // [end timeout]
}

int main() { weft::run(timers()); }
