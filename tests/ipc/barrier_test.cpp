// ipc::barrier across processes: arrival indices over many rounds with 4
// pool workers and a task, breaking (abort, a timeout, a cancellation, a
// party killed while it waits), reset, and the handle's serialization.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../runtime/test_support.hpp"
#include "process_pool_test_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::ipc::barrier;
using weft::ipc::broken_barrier;
using weft::ipc::shared_array;
using weft::ipc::shared_value;
using namespace ipc_test;

namespace {

template <class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const broken_barrier& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(other exception: ") + e.what() + ")";
  }
  return "(no exception)";
}

constexpr int rounds = 50;
constexpr std::uint32_t pool_parties = 5;  // 4 pool workers and the parent's task

// Run in pool workers: `rounds` rounds; in each, counts its arrival index
// in hits[round * parties + index] and checks that every party of the round
// arrived before anyone left it. Returns the number of problems seen.
int run_rounds(barrier b, shared_array<int> hits, shared_array<int> arrived) {
  int problems = 0;
  for (int r = 0; r < rounds; ++r) {
    arrived.atomic(static_cast<std::size_t>(r)).fetch_add(1);
    const std::uint32_t i = b.blocking_arrive_and_wait();
    if (i >= pool_parties) ++problems;
    else hits.atomic(static_cast<std::size_t>(r) * pool_parties + i).fetch_add(1);
    if (arrived.atomic(static_cast<std::size_t>(r)).load() != static_cast<int>(pool_parties)) ++problems;
  }
  return problems;
}

}  // namespace

TEST_CASE("ipc::barrier: parties and indices and abort and reset and misuse", "[ipc][barrier]") {
  CHECK_THROWS_AS(barrier(0), std::invalid_argument);
  CHECK_THROWS_WITH(barrier(barrier::max_parties + 1), Catch::Contains("65535"));

  barrier one{1};
  CHECK(one.parties() == 1);
  CHECK(one.blocking_arrive_and_wait() == 0);  // fills its own round
  CHECK(one.blocking_arrive_and_wait() == 0);
  CHECK(one.blocking_wait_for(0ms) == 0);

  barrier b{3};
  CHECK(b.parties() == 3);
  CHECK(b.n_waiting() == 0);
  CHECK_FALSE(b.broken());
  for (int round = 0; round < 3; ++round) {
    std::uint32_t got[2] = {99, 99};
    std::thread t0([&] { got[0] = b.blocking_arrive_and_wait(); });
    std::thread t1([&] { got[1] = b.blocking_wait_for(60s); });
    REQUIRE(eventually([&] { return b.n_waiting() == 2; }));
    const std::uint32_t last = b.blocking_arrive_and_wait();
    t0.join();
    t1.join();
    CHECK(last == 2);  // the last to arrive
    CHECK(std::set<std::uint32_t>{got[0], got[1], last} == std::set<std::uint32_t>{0, 1, 2});
    CHECK(b.n_waiting() == 0);
  }

  // abort() breaks the waiting round and every later arrival until reset().
  std::string waiter_saw;
  std::thread w([&] { waiter_saw = message_of([&] { b.blocking_arrive_and_wait(); }); });
  REQUIRE(eventually([&] { return b.n_waiting() == 1; }));
  b.abort();
  w.join();
  CHECK(waiter_saw == "weft::ipc::barrier::blocking_arrive_and_wait: the barrier is broken (abort() was called)");
  CHECK(b.broken());
  CHECK(b.n_waiting() == 0);
  CHECK_THROWS_WITH(b.blocking_wait_for(10s), Catch::Contains("broken (abort() was called)"));
  b.abort();  // again: no change
  CHECK(b.broken());
  b.reset();
  CHECK_FALSE(b.broken());
  std::thread again([&] { b.blocking_arrive_and_wait(); });
  std::thread again2([&] { b.blocking_arrive_and_wait(); });
  CHECK(b.blocking_wait_for(60s) < 3);
  again.join();
  again2.join();

  // reset() while a party waits: it throws, the barrier is whole again.
  std::string reset_saw;
  std::thread r([&] { reset_saw = message_of([&] { b.blocking_arrive_and_wait(); }); });
  REQUIRE(eventually([&] { return b.n_waiting() == 1; }));
  b.reset();
  r.join();
  CHECK_THAT(reset_saw, Catch::Contains("reset() was called while it waited"));
  CHECK_FALSE(b.broken());
  CHECK(b.n_waiting() == 0);

  barrier moved = std::move(b);
  CHECK(moved.parties() == 3);
  CHECK_THROWS_AS(b.parties(), std::logic_error);
  CHECK_THROWS_AS(b.arrive_and_wait(), std::logic_error);

  // blocking_* refuses a runtime worker thread, before arriving.
  weft::runtime rt{{.workers = 1}};
  auto err = rt.block_on([](barrier bb) -> task<std::exception_ptr> {
    try {
      bb.blocking_arrive_and_wait();
    } catch (...) {
      co_return std::current_exception();
    }
    co_return nullptr;
  }(moved));
  REQUIRE(err);
  CHECK_THROWS_AS(std::rethrow_exception(err), std::logic_error);
  CHECK(moved.n_waiting() == 0);
}

TEST_CASE("ipc::barrier: 4 pool workers and a task get distinct indices in every round", "[ipc][barrier]") {
  barrier b{pool_parties};
  shared_array<int> hits(rounds * pool_parties, 0);
  shared_array<int> arrived(rounds, 0);
  weft::runtime rt{rt_options()};
  const int problems = rt.block_on([](barrier bb, shared_array<int> h, shared_array<int> arr) -> task<int> {
    // task_timeout: one call per worker at a time, so the four run side by
    // side (and a hang ends as a failure).
    weft::ipc::process_pool pool{{.workers = 4, .task_timeout = 120s}};
    std::vector<weft::join_handle<int>> workers;
    for (int k = 0; k < 4; ++k) workers.push_back(pool.submit(run_rounds, bb, h, arr));
    int bad = 0;
    for (int r = 0; r < rounds; ++r) {
      arr.atomic(static_cast<std::size_t>(r)).fetch_add(1);
      const std::uint32_t i = co_await weft::with_timeout(60s, bb.arrive_and_wait());
      if (i >= pool_parties) ++bad;
      else h.atomic(static_cast<std::size_t>(r) * pool_parties + i).fetch_add(1);
      if (arr.atomic(static_cast<std::size_t>(r)).load() != static_cast<int>(pool_parties)) ++bad;
    }
    for (auto& w : workers) bad += co_await std::move(w);
    co_await pool.shutdown();
    co_return bad;
  }(b, hits, arrived));
  CHECK(problems == 0);
  // Every index of every round was taken exactly once.
  int wrong = 0;
  for (int v : hits) wrong += v != 1;
  CHECK(wrong == 0);
  CHECK(b.n_waiting() == 0);
  CHECK_FALSE(b.broken());
}

TEST_CASE("ipc::barrier: a timed-out wait breaks the barrier for the others", "[ipc][barrier]") {
  barrier b{3};
  const pid_t waiter = fork_child([=] {
    const std::string m = message_of([&] { b.blocking_arrive_and_wait(); });
    return m == "weft::ipc::barrier::blocking_arrive_and_wait: the barrier is broken (a party timed out waiting)" ? 0
                                                                                                                  : 1;
  });
  REQUIRE(eventually([&] { return b.n_waiting() == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  const std::string m = message_of([&] { b.blocking_wait_for(200ms); });
  CHECK(m == "weft::ipc::barrier::blocking_wait_for: timed out after 200 ms; the barrier is now broken");
  CHECK(ms_since(t0) >= 200);
  CHECK(wait_child(waiter) == 0);
  CHECK(b.broken());
  CHECK_THROWS_AS(b.blocking_arrive_and_wait(), broken_barrier);
  b.reset();
  CHECK_FALSE(b.broken());
}

TEST_CASE("ipc::barrier: a cancelled or timed-out task breaks the barrier", "[ipc][barrier][cancel]") {
  barrier b{3};
  const pid_t waiter = fork_child([=] {
    const std::string m = message_of([&] { b.blocking_arrive_and_wait(); });
    return m.find("a party's wait was cancelled") != std::string::npos ? 0 : 1;
  });
  REQUIRE(eventually([&] { return b.n_waiting() == 1; }));
  weft::runtime rt{{.workers = 2}};
  auto err = rt.block_on(weft_test::error_of(weft::with_timeout(100ms, b.arrive_and_wait())));
  CHECK_THROWS_AS(std::rethrow_exception(err), weft::timeout_error);
  CHECK(b.broken());
  CHECK(wait_child(waiter) == 0);
  // A task arriving at a broken barrier fails at once.
  auto err2 = rt.block_on(weft_test::error_of(b.arrive_and_wait()));
  CHECK_THROWS_WITH(std::rethrow_exception(err2),
                    "weft::ipc::barrier::arrive_and_wait: the barrier is broken (a party's wait was cancelled)");

  // Cancelled through a handle, after a reset.
  b.reset();
  auto err3 = rt.block_on([](barrier bb) -> task<std::exception_ptr> {
    auto h = weft::spawn(bb.arrive_and_wait());
    co_await weft::sleep_for(30ms);
    h.cancel();
    co_return co_await weft_test::error_of(std::move(h));
  }(b));
  CHECK_THROWS_AS(std::rethrow_exception(err3), weft::operation_cancelled);
  CHECK(b.broken());

  // A round that filled is not broken by a cancellation that comes later.
  b.reset();
  barrier two{2};
  std::thread other([&] { two.blocking_arrive_and_wait(); });
  const std::uint32_t i = rt.block_on(weft::with_timeout(60s, two.arrive_and_wait()));
  other.join();
  CHECK(i < 2);
  CHECK_FALSE(two.broken());
}

TEST_CASE("ipc::barrier: a party killed by SIGKILL while it waits breaks the barrier for the others",
          "[ipc][barrier][robust]") {
  barrier b{4};
  const pid_t doomed = fork_child([=] {
    b.blocking_arrive_and_wait();
    return 3;  // never: it is killed while it waits
  });
  REQUIRE(eventually([&] { return b.n_waiting() == 1; }));
  const pid_t survivor = fork_child([=] {
    const std::string m = message_of([&] { b.blocking_arrive_and_wait(); });  // no deadline of its own
    const std::string want = "party process " + std::to_string(doomed) + " died while it waited";
    return m.find(want) != std::string::npos ? 0 : 1;
  });
  REQUIRE(eventually([&] { return b.n_waiting() == 2; }));

  weft::runtime rt{{.workers = 2}};
  struct seen {
    std::exception_ptr err;
    long long ms = 0;
  };
  const seen s = rt.block_on([](barrier bb, pid_t victim) -> task<seen> {
    auto h = weft::spawn(bb.arrive_and_wait());  // a task waits too
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (bb.n_waiting() < 3 && std::chrono::steady_clock::now() < give_up) co_await weft::sleep_for(1ms);
    co_await weft::sleep_for(100ms);  // all asleep, most likely
    ::kill(victim, SIGKILL);          // not reaped yet: a zombie counts as dead
    const auto t0 = std::chrono::steady_clock::now();
    seen r;
    r.err = co_await weft_test::error_of(weft::with_timeout(60s, std::move(h)));
    r.ms = ms_since(t0);
    co_return r;
  }(b, doomed));
  REQUIRE(s.err);
  CHECK_THROWS_WITH(std::rethrow_exception(s.err), Catch::Contains("died while it waited"));
  CHECK_THROWS_AS(std::rethrow_exception(s.err), broken_barrier);
  CHECK(s.ms < 10'000);  // noticed within a few polls, not at some deadline
  CHECK(wait_child(survivor) == 0);
  CHECK(wait_child(doomed) == -SIGKILL);
  CHECK(b.broken());
  b.reset();
  CHECK_FALSE(b.broken());
  CHECK(b.n_waiting() == 0);
}

TEST_CASE("ipc::barrier: the handle serializes and counts references", "[ipc][barrier][serialize]") {
  barrier b{2};
  const auto bytes = encoded(b);
  CHECK(bytes.size() == 16);
  auto d = decoded<barrier>(bytes);
  CHECK(weft::ipc::detail::handle_access::ref(b).use_count() == 2);
  CHECK(d.parties() == 2);
  // One party through each handle fills a round.
  std::uint32_t got = 99;
  std::thread t([&] { got = d.blocking_arrive_and_wait(); });
  REQUIRE(eventually([&] { return b.n_waiting() == 1; }));
  const std::uint32_t mine = b.blocking_arrive_and_wait();
  t.join();
  CHECK(got == 0);
  CHECK(mine == 1);
  CHECK_THROWS_AS(decoded<weft::ipc::event>(bytes), weft::ipc::serialization_error);
  auto stale = encoded(barrier{2});
  CHECK_THROWS_AS(decoded<barrier>(stale), weft::ipc::serialization_error);

  // A worker process decodes its own copy and takes part.
  const pid_t child = fork_child([=] {
    auto theirs = decoded<barrier>(bytes);
    return theirs.blocking_wait_for(60s) < 2 ? 0 : 1;
  });
  CHECK(b.blocking_wait_for(60s) < 2);
  CHECK(wait_child(child) == 0);
}
