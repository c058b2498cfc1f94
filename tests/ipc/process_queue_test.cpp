// ipc::process_queue across forked children: FIFO, limits, close(), exact
// delivery between producer and consumer processes, tasks that wait (and
// give up), and a process killed while it holds the queue's lock.
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../ipc/src/queue_state.hpp"
#include "../runtime/test_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::ipc::process_queue;
using weft::ipc::shared_array;
using weft::ipc::shared_value;
using namespace ipc_test;

TEST_CASE("process_queue: FIFO, limits and close in one process", "[ipc][queue]") {
  process_queue<num> q{3};
  CHECK(q.capacity_items() == 3);
  CHECK(q.capacity_bytes() == std::size_t{1} << 20);
  CHECK_FALSE(q.try_pop());
  for (long i = 1; i <= 3; ++i) CHECK(q.try_push(num{i}));
  CHECK_FALSE(q.try_push(num{4}));  // full by count
  CHECK(q.size() == 3);
  CHECK(q.try_pop()->v == 1);
  CHECK(q.try_push(num{4}));
  q.close();
  q.close();  // idempotent
  CHECK(q.closed());
  CHECK_THROWS_AS(q.try_push(num{5}), weft::channel_closed);
  CHECK_THROWS_AS(q.blocking_push(num{5}), weft::channel_closed);
  std::vector<long> rest;
  while (auto x = q.blocking_pop()) rest.push_back(x->v);  // drains, then nullopt
  CHECK(rest == std::vector<long>{2, 3, 4});
  CHECK_FALSE(q.try_pop());
  CHECK(q.size() == 0);

  // Full by bytes: three 8-byte items fit in 24 bytes, a fourth does not.
  process_queue<num> small{100, 24};
  for (long i = 0; i < 3; ++i) CHECK(small.try_push(num{i}));
  CHECK_FALSE(small.try_push(num{3}));
  CHECK(small.try_pop()->v == 0);
  CHECK(small.try_push(num{3}));

  CHECK_THROWS_AS(process_queue<num>(0), std::invalid_argument);
  CHECK_THROWS_AS(process_queue<num>(4, 0), std::invalid_argument);
}

TEST_CASE("process_queue: an item larger than capacity_bytes fails at once", "[ipc][queue]") {
  process_queue<record> q{4, 64};
  const record big = make_record(1, 36);  // 12 + 36 * 4 bytes
  CHECK_THROWS_WITH(q.try_push(big), Catch::Contains("capacity_bytes (64)") && Catch::Contains("156 bytes"));
  CHECK_THROWS_AS(q.blocking_push(big), weft::ipc::serialization_error);
  weft::runtime rt{{.workers = 1}};
  auto err = rt.block_on([](process_queue<record> qq, record r) -> task<std::exception_ptr> {
    co_return co_await weft_test::error_of(qq.push(r));
  }(q, big));
  CHECK_THROWS_AS(std::rethrow_exception(err), weft::ipc::serialization_error);
  CHECK(q.size() == 0);
  CHECK(q.try_push(make_record(1, 5)));
}

TEST_CASE("process_queue: variable-size items wrap around the ring intact", "[ipc][queue]") {
  process_queue<record> q{7, 500};  // small: the ring wraps every few items
  int pushed = 0, popped = 0;
  bool ok = true;
  while (popped < 2000) {
    while (pushed < 2000 && q.try_push(make_record(3, pushed))) ++pushed;
    for (int k = 0; k < 3; ++k) {
      auto r = q.try_pop();
      if (!r) break;
      ok = ok && r->producer == 3 && r->seq == popped && record_ok(*r);
      ++popped;
    }
  }
  CHECK(ok);
  CHECK(q.size() == 0);
}

TEST_CASE("process_queue: 3 producer and 2 consumer processes deliver every item once", "[ipc][queue]") {
  constexpr int producers = 3, per_producer = 3000;
  process_queue<record> q{16, 4096};
  shared_array<std::uint8_t> seen(producers * per_producer);
  shared_value<int> bad{0};
  std::vector<pid_t> prod, cons;
  for (int p = 0; p < producers; ++p)
    prod.push_back(fork_child([=] {
      for (int i = 0; i < per_producer; ++i) q.blocking_push(make_record(p, i));
      return 0;
    }));
  for (int c = 0; c < 2; ++c)
    cons.push_back(fork_child([=] {
      std::vector<int> last(producers, -1);
      while (auto r = q.blocking_pop()) {
        if (!record_ok(*r) || r->producer < 0 || r->producer >= producers || r->seq <= last[r->producer]) {
          bad.fetch_add(1);  // corrupt, or one producer's items out of order
          continue;
        }
        last[r->producer] = r->seq;
        seen.atomic(static_cast<std::size_t>(r->producer * per_producer + r->seq)).fetch_add(1);
      }
      return 0;
    }));
  for (int code : wait_children(prod)) CHECK(code == 0);
  q.close();  // the consumers drain what is left, then get nullopt
  for (int code : wait_children(cons)) CHECK(code == 0);
  CHECK(bad.load() == 0);
  int missing = 0, twice = 0;
  for (std::uint8_t n : seen) {
    missing += n == 0;
    twice += n > 1;
  }
  CHECK(missing == 0);
  CHECK(twice == 0);
  CHECK(q.size() == 0);
}

TEST_CASE("process_queue: a push into a full queue blocks until a pop", "[ipc][queue]") {
  process_queue<num> q{2};
  shared_value<int> pushed{0};
  const pid_t pid = fork_child([&] {
    for (long i = 0; i < 5; ++i) {
      q.blocking_push(num{i});
      pushed.fetch_add(1);
    }
    return 0;
  });
  REQUIRE(eventually([&] { return pushed.load() == 2; }));
  std::this_thread::sleep_for(100ms);
  CHECK(pushed.load() == 2);  // the third push waits for room
  CHECK(q.size() == 2);
  std::vector<long> got;
  while (got.size() < 5) {
    if (auto x = q.try_pop()) got.push_back(x->v);
    else std::this_thread::sleep_for(1ms);
  }
  CHECK(got == std::vector<long>{0, 1, 2, 3, 4});
  CHECK(wait_child(pid) == 0);
}

TEST_CASE("process_queue: blocking_pop(d) and blocking_push(v, d) give up with timeout_error", "[ipc][queue]") {
  process_queue<num> q{1};
  // Nothing comes: a timeout_error that says what and how long, not before d.
  auto start = std::chrono::steady_clock::now();
  try {
    (void)q.blocking_pop(100ms);
    FAIL("blocking_pop(100ms) on an empty queue returned");
  } catch (const weft::timeout_error& e) {
    CHECK(std::string(e.what()) == "weft::ipc::process_queue::blocking_pop: no item within 100 ms");
  }
  CHECK(std::chrono::steady_clock::now() - start >= 100ms);
  // No room: the same, and the value is not queued.
  q.blocking_push(num{1});
  start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(q.blocking_push(num{2}, 50ms), weft::timeout_error);
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  CHECK(q.size() == 1);
  CHECK_THROWS_AS(q.blocking_push_for(num{2}, 10ms), weft::timeout_error);  // the other names
  CHECK(q.blocking_pop_for(10ms)->v == 1);
  q.blocking_push_for(num{1}, 10ms);
  // What is there is taken at once; an item another process pushes while
  // we wait arrives well before a long deadline.
  CHECK(q.blocking_pop(0ms)->v == 1);
  const pid_t pid = fork_child([&] {
    std::this_thread::sleep_for(50ms);
    q.blocking_push(num{7});
    return 0;
  });
  CHECK(q.blocking_pop(60s)->v == 7);
  CHECK(wait_child(pid) == 0);
  // Room another process makes arrives the same way.
  q.blocking_push(num{8});
  const pid_t popper = fork_child([&] {
    std::this_thread::sleep_for(50ms);
    return q.blocking_pop()->v == 8 ? 0 : 1;
  });
  q.blocking_push(num{9}, 60s);
  CHECK(wait_child(popper) == 0);
  CHECK(q.try_pop()->v == 9);
  // Closed and drained is still nullopt, at once, not a timeout.
  q.close();
  CHECK_FALSE(q.blocking_pop(60s).has_value());
}

TEST_CASE("process_queue: parent tasks push and pop while children block", "[ipc][queue]") {
  constexpr int items = 400;
  process_queue<num> work{4}, results{4};
  std::vector<pid_t> kids;
  for (int k = 0; k < 2; ++k)
    kids.push_back(fork_child([=] {
      while (auto x = work.blocking_pop()) results.blocking_push(num{x->v * 2});
      return 0;
    }));
  weft::runtime rt{{.workers = 2}};
  const long total = rt.block_on([](process_queue<num> w, process_queue<num> r) -> task<long> {
    auto feeder = weft::spawn([](process_queue<num> w2) -> task<void> {
      for (long i = 1; i <= items; ++i) co_await w2.push(num{i});  // waits while the children are behind
      w2.close();
    }(w));
    long sum = 0;
    for (int i = 0; i < items; ++i) {
      auto x = co_await weft::with_timeout(60s, r.pop());
      if (x) sum += x->v;
    }
    co_await feeder;
    co_return sum;
  }(work, results));
  CHECK(total == 2L * items * (items + 1) / 2);
  for (int code : wait_children(kids)) CHECK(code == 0);
  results.close();
  CHECK_FALSE(results.try_pop());
}

TEST_CASE("process_queue: a task's pop() returns nullopt when a child closes the queue", "[ipc][queue]") {
  process_queue<num> q{4};
  const pid_t pid = fork_child([&] {
    std::this_thread::sleep_for(50ms);
    q.blocking_push(num{9});
    std::this_thread::sleep_for(50ms);
    q.close();
    return 0;
  });
  weft::runtime rt{{.workers = 2}};
  const auto got = rt.block_on([](process_queue<num> qq) -> task<std::vector<long>> {
    std::vector<long> out;
    while (auto x = co_await qq.pop()) out.push_back(x->v);
    out.push_back(-1);
    co_return out;
  }(q));
  CHECK(got == std::vector<long>{9, -1});
  CHECK(wait_child(pid) == 0);
}

TEST_CASE("process_queue: cancelled pop() and push() take and leave nothing", "[ipc][queue][cancel]") {
  process_queue<num> q{1};
  weft::runtime rt{{.workers = 2}};
  auto err = rt.block_on(weft_test::error_of(weft::with_timeout(100ms, q.pop())));
  CHECK_THROWS_AS(std::rethrow_exception(err), weft::timeout_error);
  // The abandoned wait never pops: the next item is there for us.
  CHECK(q.try_push(num{1}));
  std::this_thread::sleep_for(100ms);
  CHECK(q.size() == 1);

  auto err2 = rt.block_on([](process_queue<num> qq) -> task<std::exception_ptr> {
    co_return co_await weft_test::error_of(weft::with_timeout(100ms, qq.push(num{2})));
  }(q));
  CHECK_THROWS_AS(std::rethrow_exception(err2), weft::timeout_error);
  CHECK(q.try_pop()->v == 1);
  std::this_thread::sleep_for(100ms);  // the abandoned push must not land now
  CHECK(q.size() == 0);
  CHECK_FALSE(q.try_pop());
}

TEST_CASE("process_queue: handles travel through it and count in the receiver", "[ipc][queue]") {
  process_queue<shared_value<long>> q{4};
  shared_value<long> v{0};
  weft::ipc::semaphore received{0};
  q.blocking_push(v);
  const pid_t pid = fork_child([&] {
    auto mine = q.blocking_pop();
    if (!mine) return 1;
    received.release();  // the sender may drop its handle now
    mine->fetch_add(5);
    return mine->use_count() >= 2 ? 0 : 2;
  });
  received.blocking_acquire();
  CHECK(wait_child(pid) == 0);
  CHECK(v.load() == 5);
  CHECK(v.use_count() == 1);
}

TEST_CASE("process_queue: a process killed holding its lock breaks it for everyone", "[ipc][queue][robust]") {
  process_queue<num> q{4};
  REQUIRE(q.try_push(num{1}));
  auto& state = *weft::ipc::detail::handle_access::ref(q).object<weft::ipc::detail::queue_state>();
  shared_value<int> held{0};
  // As if killed in the middle of a push: it holds the ring's lock.
  const pid_t holder = fork_child([&] {
    weft::ipc::detail::robust_lock(state.lock, nullptr, weft::clock::time_point::max());
    held.store(1);
    for (;;) ::pause();
    return 0;
  });
  REQUIRE(eventually([&] { return held.load() == 1; }));
  const pid_t sleeper = fork_child([&] {
    try {
      while (q.blocking_pop()) {
      }
    } catch (const weft::ipc::owner_died_error&) {
      return 0;
    }
    return 1;
  });
  std::this_thread::sleep_for(20ms);
  ::kill(holder, SIGKILL);
  CHECK(wait_child(holder) == -SIGKILL);
  CHECK_THROWS_WITH(q.try_pop(), Catch::Contains("died while it held the queue's lock"));
  CHECK_THROWS_AS(q.try_push(num{2}), weft::ipc::owner_died_error);
  CHECK_THROWS_AS(q.close(), weft::ipc::owner_died_error);
  CHECK(wait_child(sleeper) == 0);
  weft::runtime rt{{.workers = 1}};
  auto err = rt.block_on(
      [](process_queue<num> qq) -> task<std::exception_ptr> { co_return co_await weft_test::error_of(qq.pop()); }(q));
  CHECK_THROWS_AS(std::rethrow_exception(err), weft::ipc::owner_died_error);
}
