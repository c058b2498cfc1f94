// Structured concurrency combined: when_all and when_any nested in each
// other. Each on its own: when_all_test.cpp, when_any_test.cpp,
// task_scope_test.cpp.
#include <catch2/catch.hpp>

#include <chrono>

#include "structured_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft_test::after;

TEST_CASE("nested structured concurrency", "[runtime][structured]") {
  weft::runtime rt{{.workers = 2}};
  int total = rt.block_on([]() -> weft::task<int> {
    auto inner = []() -> weft::task<int> {
      auto [a, b] = co_await weft::when_all(after(1ms, 1), after(2ms, 2));
      co_return a + b;
    };
    auto [x, y, z] = co_await weft::when_all(inner(), inner(), inner());
    auto w = co_await weft::when_any(inner(), after(1s, 100));
    co_return x + y + z + std::get<0>(w.value);
  }());
  CHECK(total == 12);
}
