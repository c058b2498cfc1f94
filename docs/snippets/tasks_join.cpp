// Waiting for several tasks: when_all, when_any, task_scope.
#include <weft/weft.hpp>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;

weft::task<int> after(std::chrono::milliseconds d, int v) {
  co_await weft::sleep_for(d);
  co_return v;
}

weft::task<int> boom() {
  co_await weft::sleep_for(5ms);
  throw std::runtime_error("boom");
}

weft::task<> bump(std::atomic<int>& n) {
  co_await weft::sleep_for(1ms);
  ++n;
}

weft::task<> all() {
  // [start when_all]
  auto [a, b] = co_await weft::when_all(after(20ms, 1), after(10ms, 2));  // both; results in order
  CHECK(a == 1 && b == 2);

  std::vector<weft::task<int>> many;
  for (int i = 0; i < 5; ++i) many.push_back(after(1ms, i));
  std::vector<int> r = co_await weft::when_all(std::move(many));
  CHECK((r == std::vector<int>{0, 1, 2, 3, 4}));
  // [end when_all]

  // [start when_all_fails]
  auto t0 = weft::clock::now();
  try {
    co_await weft::when_all(after(10s, 1), boom());  // boom() fails: after() is cancelled
    CHECK(false);
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "boom");
  }
  CHECK(weft::clock::now() - t0 < 5s);  // not 10 s: nobody waited for the sleeper
  // [end when_all_fails]
}

weft::task<> any() {
  // [start when_any]
  auto r = co_await weft::when_any(after(10s, 1), after(10ms, 2));
  CHECK(r.index == 1);               // the second finished first...
  CHECK(std::get<1>(r.value) == 2);  // ...with 2; the first was cancelled and awaited
  // [end when_any]
}

weft::task<> nursery() {
  // [start scope]
  std::atomic<int> done = 0;
  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
    for (int i = 0; i < 10; ++i) scope.spawn(bump(done));
    co_return;
  });
  CHECK(done == 10);  // every child was joined before run() returned
  // [end scope]
}

int main() {
  weft::run(all());
  weft::run(any());
  weft::run(nursery());
}
