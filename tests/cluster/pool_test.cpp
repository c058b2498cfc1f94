// weft::cluster::pool under `mpirun -n 4`: results, ranks, failures that
// stay with their task, cancellation, shutdown modes, many tiny calls.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"
#include "weft/cluster/init.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/runtime/as_completed.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/time.hpp"

using cluster_test::env_count;
using cluster_test::rt_options;
using namespace std::chrono_literals;

namespace pool_test_fns {

std::int64_t poly(std::int64_t x) { return x * x + 3 * x + 1; }
std::uint64_t next(std::uint64_t x) { return x + 1; }
int out_of_range_at(int x) {
  if (x == 7) throw std::out_of_range("item " + std::to_string(x) + " is out of range");
  return x;
}
int abort_on_minus_one(int x) {
  if (x == -1) std::abort();
  return x * 2;
}
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
std::vector<std::uint8_t> echo_bytes(std::vector<std::uint8_t> v) {
  for (auto& b : v) b = static_cast<std::uint8_t>(b + 1);
  return v;
}

}  // namespace pool_test_fns

WEFT_REMOTE(pool_test_fns::poly);
WEFT_REMOTE(pool_test_fns::next);
WEFT_REMOTE(pool_test_fns::out_of_range_at);
WEFT_REMOTE(pool_test_fns::abort_on_minus_one);
WEFT_REMOTE(pool_test_fns::sleep_ms);
WEFT_REMOTE(pool_test_fns::echo_bytes);

using namespace pool_test_fns;

namespace {

std::vector<std::int64_t> iota64(std::size_t n) {
  std::vector<std::int64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

enum class end_t { ok, cancelled, other };

template <class T>
weft::task<end_t> outcome(weft::join_handle<T>& h) {
  try {
    co_await h;
    co_return end_t::ok;
  } catch (const weft::operation_cancelled&) {
    co_return end_t::cancelled;
  } catch (...) {
    co_return end_t::other;
  }
}

}  // namespace

TEST_CASE("pool: a map of 10000 items equals the local result and every serving rank ran tasks", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 2}};
    CHECK(pool.size() == 2u * static_cast<unsigned>(weft::cluster::size() - 1));
    auto items = iota64(10000);
    std::vector<std::int64_t> want;
    for (auto x : items) want.push_back(poly(x));
    std::vector<std::int64_t> got = co_await pool.map(poly, items, 50);
    CHECK(got == want);
    std::vector<std::int64_t> got_default = co_await pool.map(poly, items);  // default chunks
    CHECK(got_default == want);
    auto s = pool.stats();
    CHECK(s.completed > 0);
    REQUIRE(s.finished_by_rank.size() == static_cast<std::size_t>(weft::cluster::size()));
    CHECK(s.finished_by_rank[0] == 0);
    for (int r = 1; r < weft::cluster::size(); ++r) {
      INFO("rank " << r);
      CHECK(s.finished_by_rank[static_cast<std::size_t>(r)] > 0);
    }
    // Every rank ran tasks, so every rank reported its local workers.
    CHECK(s.workers_started >= s.ranks);
    CHECK(s.workers_restarted == 0);
    CHECK(s.workers >= s.ranks);
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: map_unordered yields exactly the multiset of results", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 2}};
    std::vector<std::int64_t> items = iota64(3000);
    for (std::size_t i = 0; i < 500; ++i) items.push_back(static_cast<std::int64_t>(i));  // duplicates
    auto stream = pool.map_unordered(poly, items, 37);
    std::vector<std::int64_t> got;
    while (auto v = co_await stream.next()) got.push_back(*v);
    std::vector<std::int64_t> want;
    for (auto x : items) want.push_back(poly(x));
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    CHECK(got == want);
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: call and submit give results, and large payloads travel", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::int64_t y = co_await pool.call(poly, 5);
    CHECK(y == 41);
    std::vector<weft::join_handle<std::int64_t>> hs;
    for (int i = 0; i < 20; ++i) hs.push_back(pool.submit(poly, i));
    std::int64_t sum = 0;
    auto done = weft::as_completed(std::move(hs));
    while (auto h = co_await done.next()) sum += co_await h->handle;
    std::int64_t want = 0;
    for (int i = 0; i < 20; ++i) want += poly(i);
    CHECK(sum == want);
    std::vector<std::uint8_t> big(8u << 20);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
    std::vector<std::uint8_t> back = co_await pool.call(echo_bytes, big);
    REQUIRE(back.size() == big.size());
    bool same = true;
    for (std::size_t i = 0; i < big.size(); ++i) same = same && back[i] == static_cast<std::uint8_t>(big[i] + 1);
    CHECK(same);
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: a remote exception arrives as remote_error with its type and message", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::string type, message;
    try {
      co_await pool.call(out_of_range_at, 7);
    } catch (const weft::ipc::remote_error& e) {
      type = e.type_name();
      message = e.message();
    }
    CHECK(type == "std::out_of_range");
    CHECK(message == "item 7 is out of range");
    std::vector<int> items(20);
    std::iota(items.begin(), items.end(), 0);
    bool map_failed = false;
    try {
      co_await pool.map(out_of_range_at, items, 3);
    } catch (const weft::ipc::remote_error& e) {
      map_failed = e.type_name() == "std::out_of_range";
    }
    CHECK(map_failed);
    int fine = co_await pool.call(out_of_range_at, 3);
    CHECK(fine == 3);
    CHECK(pool.stats().failed >= 2);
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: a task that aborts fails alone with worker_crashed", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 30; ++i) hs.push_back(pool.submit(abort_on_minus_one, i == 10 ? -1 : i));
    int crashed = 0, ok = 0, signal = 0;
    for (int i = 0; i < 30; ++i) {
      try {
        int v = co_await hs[static_cast<std::size_t>(i)];
        ok += v == i * 2;
      } catch (const weft::ipc::worker_crashed& e) {
        ++crashed;
        signal = e.signal();
      }
    }
    CHECK(crashed == 1);
    CHECK(ok == 29);
    CHECK(signal == SIGABRT);
    CHECK(pool.stats().crashed == 1);
    int after = co_await pool.call(abort_on_minus_one, 4);  // its rank replaced the worker
    CHECK(after == 8);
    // The replacement shows in stats() once its rank reports again (with
    // the results that follow it).
    for (int i = 0; i < 400 && pool.stats().workers_restarted == 0; ++i) {
      int v = co_await pool.call(abort_on_minus_one, i);
      CHECK(v == i * 2);
    }
    CHECK(pool.stats().workers_restarted >= 1);
    CHECK(pool.stats().workers_started > pool.stats().workers_restarted);
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: a tiny call that aborts among many grouped ones fails alone", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    // One at a time first: every rank times the function and groups it from then on.
    for (int i = 0; i < 50; ++i) {
      int v = co_await pool.call(abort_on_minus_one, i);
      CHECK(v == i * 2);
    }
    const int n = 5000;
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < n; ++i) hs.push_back(pool.submit(abort_on_minus_one, i == 2500 ? -1 : i));
    int crashed = 0, ok = 0;
    for (int i = 0; i < n; ++i) {
      try {
        int v = co_await hs[static_cast<std::size_t>(i)];
        ok += v == i * 2;
      } catch (const weft::ipc::worker_crashed&) {
        ++crashed;
      }
    }
    CHECK(crashed == 1);
    CHECK(ok == n - 1);
    CHECK(pool.stats().crashed == 1);
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: a task past its timeout fails alone and the rest finish", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1, .task_timeout = 500ms}};
    auto slow = pool.submit(sleep_ms, 60000);
    std::vector<weft::join_handle<int>> quick;
    for (int i = 0; i < 12; ++i) quick.push_back(pool.submit(sleep_ms, 1));
    bool timed_out = false;
    try {
      co_await slow;
    } catch (const weft::timeout_error&) {
      timed_out = true;
    }
    CHECK(timed_out);
    int ok = 0;
    for (auto& h : quick) ok += (co_await h) == 1;
    CHECK(ok == 12);
    CHECK(pool.stats().timed_out == 1);
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: a grouped tiny call that hangs times out alone and the rest finish", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1, .task_timeout = 500ms}};
    for (int i = 0; i < 50; ++i) {  // sleep_ms(0) is tiny: its calls are grouped from now on
      int v = co_await pool.call(sleep_ms, 0);
      CHECK(v == 0);
    }
    const int n = 3000;
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < n; ++i) hs.push_back(pool.submit(sleep_ms, i == 1500 ? 60000 : 0));
    int timed_out = 0, ok = 0;
    for (auto& h : hs) {
      try {
        int v = co_await h;
        ok += v == 0;
      } catch (const weft::timeout_error&) {
        ++timed_out;
      }
    }
    CHECK(timed_out == 1);
    CHECK(ok == n - 1);
    CHECK(pool.stats().timed_out == 1);
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: cancelling queued and running calls kills the running ones' workers", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    // One worker per rank: 60 s sleepers occupy every worker, the rest queue
    // on the ranks and here. If cancelling left a sleeper running, the last
    // call would wait a minute (and ctest's timeout would fail the test).
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 20; ++i) hs.push_back(pool.submit(sleep_ms, 60000));
    while (pool.stats().running < static_cast<std::size_t>(weft::cluster::size() - 1)) co_await weft::sleep_for(5ms);
    co_await weft::sleep_for(200ms);  // the first ones start on their ranks
    CHECK(pool.stats().queued > 0);
    for (auto& h : hs) h.cancel();
    int cancelled = 0;
    for (auto& h : hs) cancelled += (co_await outcome(h)) == end_t::cancelled;
    CHECK(cancelled == 20);
    CHECK(pool.stats().cancelled == 20);
    for (int r = 1; r < weft::cluster::size(); ++r) {  // every rank's worker is free again
      int v = co_await pool.call(sleep_ms, 1);
      CHECK(v == 1);
    }
    co_await pool.shutdown();
  }());
}

TEST_CASE("pool: shutdown wait finishes everything, then calls fail with pool_error", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 30; ++i) hs.push_back(pool.submit(sleep_ms, 2));
    co_await pool.shutdown(weft::cluster::shutdown_mode::wait);
    int ok = 0;
    for (auto& h : hs) ok += (co_await outcome(h)) == end_t::ok;
    CHECK(ok == 30);
    bool refused = false;
    try {
      co_await pool.call(sleep_ms, 1);
    } catch (const weft::ipc::pool_error&) {
      refused = true;
    }
    CHECK(refused);
  }());
}

TEST_CASE("pool: shutdown cancel_pending drops queued calls and finishes running ones", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 20; ++i) hs.push_back(pool.submit(sleep_ms, 300));
    while (pool.stats().running == 0) co_await weft::sleep_for(5ms);
    co_await pool.shutdown(weft::cluster::shutdown_mode::cancel_pending);
    int ok = 0, cancelled = 0, other = 0;
    for (auto& h : hs) {
      auto e = co_await outcome(h);
      ok += e == end_t::ok;
      cancelled += e == end_t::cancelled;
      other += e == end_t::other;
    }
    CHECK(other == 0);
    CHECK(cancelled >= 20 - 2 * (weft::cluster::size() - 1));  // at most two per rank were sent
    CHECK(ok + cancelled == 20);
  }());
}

TEST_CASE("pool: shutdown immediate cancels running calls at once", "[cluster][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 10; ++i) hs.push_back(pool.submit(sleep_ms, 60000));
    while (pool.stats().running == 0) co_await weft::sleep_for(5ms);
    co_await pool.shutdown(weft::cluster::shutdown_mode::immediate);  // not a minute
    int cancelled = 0;
    for (auto& h : hs) cancelled += (co_await outcome(h)) == end_t::cancelled;
    CHECK(cancelled == 10);
  }());
}

TEST_CASE("pool: many tiny calls are each counted exactly once", "[cluster][pool]") {
  // 100,000 by default; WEFT_CLUSTER_TINY_CALLS=1000000 for the full count.
  const std::size_t n = env_count("WEFT_CLUSTER_TINY_CALLS", 100000);
  weft::runtime rt{rt_options()};
  rt.block_on([](std::size_t n) -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::vector<weft::join_handle<std::uint64_t>> hs;
    hs.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) hs.push_back(pool.submit(next, i));
    std::size_t right = 0;
    for (std::uint64_t i = 0; i < n; ++i) right += (co_await hs[i]) == i + 1;
    CHECK(right == n);
    auto s = pool.stats();
    CHECK(s.completed == n);
    std::uint64_t by_rank = 0;
    for (auto c : s.finished_by_rank) by_rank += c;
    CHECK(by_rank == n);
    co_await pool.shutdown();
  }(n));
}
