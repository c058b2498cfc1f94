// weft::spawn_process (and weft::ipc::spawn_process): one call on the
// default pool, started at once, awaited through a join_handle; its
// exception as remote_error; a hung call bounded by with_timeout or
// cancelled through its handle, its worker replaced.
#include <stdexcept>
#include <string>
#include <vector>

#include "process_pool_test_support.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/time.hpp"

using namespace ipc_test;
using namespace std::chrono_literals;

namespace {

int throws_out_of_range(int x) { throw std::out_of_range("index " + std::to_string(x) + " out of range"); }

}  // namespace

TEST_CASE("spawn_process uses the default pool", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    int y = co_await weft::spawn_process(square, 9);
    CHECK(y == 81);
    int z = co_await weft::ipc::spawn_process(square, 4);
    CHECK(z == 16);
    CHECK(weft::ipc::default_pool().size() >= 1);
  }());
  // A pool outlives the runtime that used it; the next runtime takes over.
  weft::runtime rt2{rt_options(1, weft::io_backend::epoll)};
  rt2.block_on([]() -> weft::task<void> {
    int y = co_await weft::spawn_process(square, 5);
    CHECK(y == 25);
  }());
}

TEST_CASE("spawn_process starts the call at once and gives a join_handle", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    auto before = weft::ipc::default_pool().stats().completed;
    weft::join_handle<int> h = weft::spawn_process(slow_square, 7, 50);
    co_await weft::sleep_for(300ms);  // never awaited yet: it ran meanwhile
    CHECK(weft::ipc::default_pool().stats().completed == before + 1);
    {
      auto got = co_await h;
      CHECK(got == 49);
    }
  }());
}

TEST_CASE("spawn_process: an exception in the worker arrives as remote_error", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    auto e = co_await error_of(weft::spawn_process(throws_out_of_range, 5));
    REQUIRE(is<weft::ipc::remote_error>(e));
    try {
      std::rethrow_exception(e);
    } catch (const weft::ipc::remote_error& r) {
      CHECK(r.type_name() == "std::out_of_range");
      CHECK(r.message() == "index 5 out of range");
    }
    int after = co_await weft::ipc::spawn_process(square, 3);  // the pool goes on
    CHECK(after == 9);
  }());
}

TEST_CASE("spawn_process: with_timeout bounds a hung call, cancelling its handle ends it", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    const auto before = weft::ipc::default_pool().stats();
    // Given up on under with_timeout: the call is dropped or its worker killed.
    auto timed_out = co_await error_of(weft::with_timeout(300ms, weft::spawn_process(hang, 0)));
    CHECK(is<weft::timeout_error>(timed_out));
    // Cancelled through the handle, queued or running.
    weft::join_handle<int> h = weft::spawn_process(hang, 1);
    co_await weft::sleep_for(50ms);
    h.cancel();
    auto cancelled = co_await error_of(std::move(h));
    CHECK(is<weft::operation_cancelled>(cancelled));
    // Every worker is free again: as many calls as workers, all at once.
    const unsigned n = weft::ipc::default_pool().size();
    std::vector<weft::join_handle<int>> hs;
    for (unsigned i = 0; i < n; ++i) hs.push_back(weft::spawn_process(square, static_cast<int>(i)));
    for (unsigned i = 0; i < n; ++i) {
      int v = co_await hs[i];
      CHECK(v == static_cast<int>(i * i));
    }
    const auto after = weft::ipc::default_pool().stats();
    CHECK(after.cancelled == before.cancelled + 2);
    CHECK(after.completed == before.completed + n);
  }());
}
