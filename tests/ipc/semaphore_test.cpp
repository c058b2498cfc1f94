// ipc::semaphore across forked children: counting and limits, at most n
// holders over several processes, and tasks that wait (and give up)
// through the blocking pool without losing a permit.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../runtime/test_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::ipc::shared_value;
using namespace ipc_test;

TEST_CASE("ipc::semaphore: counting, limits and misuse", "[ipc][semaphore]") {
  weft::ipc::semaphore s{2};
  CHECK(s.value() == 2);
  CHECK(s.try_acquire());
  CHECK(s.try_acquire());
  CHECK_FALSE(s.try_acquire());
  CHECK_FALSE(s.try_acquire_for(20ms));
  s.release(2);
  CHECK(s.value() == 2);
  CHECK(s.try_acquire_for(10ms));
  s.blocking_acquire();
  CHECK(s.value() == 0);
  s.release(0);
  CHECK(s.value() == 0);
  s.release(weft::ipc::semaphore::max_value);
  CHECK_THROWS_WITH(s.release(), Catch::Contains("2147483647"));
  CHECK(s.value() == weft::ipc::semaphore::max_value);
  CHECK_THROWS_AS(weft::ipc::semaphore(std::uint64_t{1} << 31), std::invalid_argument);

  weft::runtime rt{{.workers = 1}};
  auto e = rt.block_on([](weft::ipc::semaphore sem) -> task<std::exception_ptr> {
    co_await sem.acquire();  // a free permit: no pool hop
    try {
      sem.blocking_acquire();
    } catch (...) {
      co_return std::current_exception();
    }
    co_return nullptr;
  }(s));
  CHECK_THROWS_AS(std::rethrow_exception(e), std::logic_error);
}

TEST_CASE("ipc::semaphore: at most n holders across 4 processes", "[ipc][semaphore]") {
  weft::ipc::semaphore s{2};
  shared_value<int> inside{0}, most{0};
  shared_value<long> entries{0};
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k)
    kids.push_back(fork_child([=] {
      for (int i = 0; i < 300; ++i) {
        s.blocking_acquire();
        const int now = inside.fetch_add(1) + 1;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        entries.fetch_add(1);
        if (i % 10 == 0) std::this_thread::sleep_for(100us);
        else std::this_thread::yield();
        inside.fetch_sub(1);
        s.release();
      }
      return 0;
    }));
  for (int code : wait_children(kids)) CHECK(code == 0);
  CHECK(most.load() <= 2);
  CHECK(most.load() >= 1);
  CHECK(entries.load() == 1200);
  CHECK(s.value() == 2);
}

TEST_CASE("ipc::semaphore: a task's acquire() is woken by a child's release", "[ipc][semaphore]") {
  weft::ipc::semaphore s{0};
  shared_value<int> released{0};
  const pid_t pid = fork_child([&] {
    std::this_thread::sleep_for(100ms);
    released.store(1);
    s.release();
    return 0;
  });
  weft::runtime rt{{.workers = 2}};
  const int seen = rt.block_on([](weft::ipc::semaphore sem, shared_value<int> rel) -> task<int> {
    co_await weft::with_timeout(60s, sem.acquire());
    co_return rel.load();
  }(s, released));
  CHECK(seen == 1);
  CHECK(wait_child(pid) == 0);
  CHECK(s.value() == 0);
}

TEST_CASE("ipc::semaphore: a cancelled acquire() loses no permit", "[ipc][semaphore][cancel]") {
  weft::ipc::semaphore s{0};
  weft::runtime rt{{.workers = 2}};
  auto err = rt.block_on(weft_test::error_of(weft::with_timeout(100ms, s.acquire())));
  CHECK_THROWS_AS(std::rethrow_exception(err), weft::timeout_error);
  s.release();
  // The abandoned wait may take the permit a moment, but gives it back.
  CHECK(eventually([&] { return s.value() == 1; }));
  CHECK(s.try_acquire());

  // Racing releases: whatever each round's outcome, no permit goes missing.
  int got = 0;
  for (int round = 0; round < 40; ++round) {
    std::thread releaser([&s, round] {
      std::this_thread::sleep_for(std::chrono::microseconds(500 * (round % 8)));
      s.release();
    });
    auto e =
        rt.block_on(weft_test::error_of(weft::with_timeout(std::chrono::milliseconds(1 + round % 4), s.acquire())));
    releaser.join();
    if (!e) ++got;
  }
  // Permits released: 40; taken by the tasks that succeeded: got.
  CHECK(eventually([&] { return static_cast<int>(s.value()) == 40 - got; }));
}
