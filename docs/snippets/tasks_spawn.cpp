// spawn: run a task concurrently; its join_handle gives its result or
// rethrows its exception.
#include <fmt/core.h>
#include <weft/weft.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;

weft::task<int> slow_square(int x) {
  co_await weft::sleep_for(20ms);
  co_return x* x;
}

weft::task<int> fails() {
  co_await weft::sleep_for(1ms);
  throw std::runtime_error("no luck");
}

// [start spawn]
weft::task<int> fan_out() {
  std::vector<weft::join_handle<int>> handles;
  for (int i = 1; i <= 10; ++i) handles.push_back(weft::spawn(slow_square(i)));  // all running now
  int sum = 0;
  for (auto& h : handles) sum += co_await h;  // in order; each handle awaited once
  co_return sum;                              // after about 20 ms, not 200
}
// [end spawn]

// [start errors]
weft::task<std::string> join_failure() {
  auto h = weft::spawn(fails());
  try {
    co_await h;
  } catch (const std::runtime_error& e) {
    co_return e.what();  // the task's own exception, rethrown by the join
  }
  co_return "";
}
// [end errors]

weft::task<> drop_a_failing_task() {
  weft::spawn(fails()).detach();  // nobody will join it
  co_await weft::sleep_for(50ms);
}

int main() {
  auto t0 = weft::clock::now();
  int sum = weft::run(fan_out());
  fmt::print("sum {} in {} ms\n", sum, (weft::clock::now() - t0) / 1ms);
  CHECK(sum == 385);
  CHECK(weft::run(join_failure()) == "no luck");

  // [start detach]
  std::atomic<int> unhandled = 0;
  weft::runtime_options o;
  o.unhandled_exception = [&](std::exception_ptr) { ++unhandled; };  // default: a line on stderr
  {
    weft::runtime rt{o};
    rt.block_on(drop_a_failing_task());
  }
  CHECK(unhandled == 1);  // the detached task's failure was reported, not lost
  // [end detach]
}
