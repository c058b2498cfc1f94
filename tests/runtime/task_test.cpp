// weft::task<T>: laziness, values, references, exceptions, deep chains.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "weft/runtime/runtime.hpp"

namespace {

weft::task<int> answer() { co_return 42; }
weft::task<void> nothing() { co_return; }
weft::task<int&> ref_to(int& x) { co_return x; }
weft::task<int> fails() {
  throw std::runtime_error("boom");
  co_return 0;
}
weft::task<long> chain(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await chain(n - 1);
}

}  // namespace

TEST_CASE("task returns values, references and void", "[runtime][task]") {
  weft::runtime rt{{.workers = 1}};
  CHECK(rt.block_on(answer()) == 42);
  rt.block_on(nothing());
  int x = 5;
  int& r = rt.block_on(ref_to(x));
  CHECK(&r == &x);
}

TEST_CASE("task exceptions reach the awaiter", "[runtime][task]") {
  weft::runtime rt{{.workers = 1}};
  CHECK_THROWS_WITH(rt.block_on(fails()), "boom");
}

TEST_CASE("a task is lazy until awaited", "[runtime][task]") {
  bool ran = false;
  auto make = [&]() -> weft::task<void> {
    ran = true;
    co_return;
  };
  {
    auto t = make();
    CHECK_FALSE(ran);
  }
  CHECK_FALSE(ran);  // destroyed without running
}

TEST_CASE("a million nested co_awaits do not overflow the stack", "[runtime][task]") {
  weft::runtime rt{{.workers = 1}};
  CHECK(rt.block_on(chain(1'000'000)) == 1'000'000);
}
