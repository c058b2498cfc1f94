// weft/runtime/runtime.hpp: runtime::spawn from outside and block_on,
// block_on refused on a worker thread, this_worker and runtime::current
// (also with two runtimes, and on a blocking-pool thread), weft::run,
// block_on rethrowing. (Shutdown: shutdown_test.cpp.)
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "test_support.hpp"
#include "weft/weft.hpp"

using weft_test::square;

TEST_CASE("runtime::spawn from outside and block_on", "[runtime][spawn]") {
  weft::runtime rt{{.workers = 2}};
  auto h = rt.spawn(square(7));
  CHECK(rt.block_on([](weft::join_handle<int> h) -> weft::task<int> { co_return co_await h; }(std::move(h))) == 49);
  CHECK_THROWS_AS(weft::spawn(square(1)), std::logic_error);
}

TEST_CASE("block_on on a worker thread is refused", "[runtime][spawn]") {
  weft::runtime rt{{.workers = 1}};
  bool threw = rt.block_on([](weft::runtime& rt) -> weft::task<bool> {
    try {
      rt.block_on(square(2));
    } catch (const std::logic_error&) {
      co_return true;
    }
    co_return false;
  }(rt));
  CHECK(threw);
}

TEST_CASE("this_worker and runtime::current", "[runtime][spawn]") {
  CHECK_FALSE(weft::this_worker().has_value());
  CHECK(weft::runtime::current() == nullptr);
  weft::runtime rt{{.workers = 3}};
  CHECK(rt.worker_count() == 3);
  rt.block_on([](weft::runtime& rt) -> weft::task<void> {
    auto w = weft::this_worker();
    REQUIRE(w.has_value());
    CHECK(*w < 3);
    CHECK(weft::runtime::current() == &rt);
    co_return;
  }(rt));
}

TEST_CASE("weft::run runs a task on a fresh runtime", "[runtime][spawn]") {
  CHECK(weft::run(square(9), {.workers = 1}) == 81);
}

TEST_CASE("runtime::current and this_worker name the runtime of the calling worker only", "[runtime]") {
  weft::runtime a{{.workers = 1}};
  weft::runtime b{{.workers = 2}};
  auto where = [](weft::runtime* expected) -> weft::task<bool> {
    const auto w = weft::this_worker();
    co_return weft::runtime::current() == expected&& w.has_value() && *w < expected->worker_count();
  };
  CHECK(a.block_on(where(&a)));
  CHECK(b.block_on(where(&b)));
  // A blocking-pool thread and a plain thread are no workers.
  const bool on_pool_thread = a.block_on([]() -> weft::task<bool> {
    co_return co_await weft::spawn_blocking(
        [] { return weft::runtime::current() == nullptr && !weft::this_worker().has_value(); });
  }());
  CHECK(on_pool_thread);
  bool on_plain_thread = false;
  std::thread([&] { on_plain_thread = weft::runtime::current() == nullptr && !weft::this_worker(); }).join();
  CHECK(on_plain_thread);
}

TEST_CASE("block_on and weft::run rethrow the task's exception", "[runtime]") {
  weft::runtime rt{{.workers = 1}};
  auto fails = []() -> weft::task<int> {
    co_await weft::sleep_for(std::chrono::milliseconds(1));
    throw std::runtime_error("task failed");
  };
  CHECK_THROWS_WITH(rt.block_on(fails()), "task failed");
  CHECK(rt.block_on(square(3)) == 9);  // the runtime goes on
  CHECK_THROWS_WITH(weft::run(fails(), {.workers = 1}), "task failed");
}
