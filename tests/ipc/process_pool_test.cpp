// process_pool: calls, results, errors, map, shutdown, stats.
#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "process_pool_test_support.hpp"
#include "weft/runtime/as_completed.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/time.hpp"

using namespace ipc_test;
using namespace std::chrono_literals;
using weft::ipc::process_pool;

namespace {

std::string repeat(std::string s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}
int throws_out_of_range(int x) { throw std::out_of_range("index " + std::to_string(x) + " out of range"); }
struct custom_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int throws_custom(int) { throw custom_failure("custom"); }
int throws_int(int) { throw 42; }
int fails_on_seven(int x) {
  if (x == 7) throw std::invalid_argument("seven");
  return x * 2;
}

}  // namespace

TEST_CASE("process_pool runs calls in other processes and returns results", "[ipc][pool]") {
  auto backend = GENERATE(weft::io_backend::io_uring, weft::io_backend::epoll);
  weft::runtime rt{rt_options(2, backend)};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    int y = co_await pool.call(square, 12);
    CHECK(y == 144);
    std::string ab = "ab";
    std::string s = co_await pool.call(repeat, ab, 3);
    CHECK(s == "ababab");
    std::vector<int> v = co_await pool.call(iota_vec, 1000);
    REQUIRE(v.size() == 1000);
    CHECK(v[999] == 999);
    co_await pool.call(nothing);
    int pid = co_await pool.call(worker_pid);
    CHECK(pid != ::getpid());
    auto lambda = [](int a, int b) { return a - b; };
    int d = co_await pool.call(lambda, 10, 3);
    CHECK(d == 7);
    auto st = pool.stats();
    CHECK(st.completed == 6);
    CHECK(st.failed == 0);
    CHECK(st.workers == 2);
  }());
}

TEST_CASE("an exception in the worker arrives as remote_error with its type and message", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1}};
    auto e = co_await error_of(pool.call(throws_out_of_range, 5));
    REQUIRE(is<weft::ipc::remote_error>(e));
    try {
      std::rethrow_exception(e);
    } catch (const weft::ipc::remote_error& r) {
      CHECK(r.type_name() == "std::out_of_range");
      CHECK(r.message() == "index 5 out of range");
    }
    e = co_await error_of(pool.call(throws_custom, 0));
    CHECK(what_if<weft::ipc::remote_error>(e) == "(anonymous namespace)::custom_failure: custom");
    e = co_await error_of(pool.call(throws_int, 0));
    CHECK(is<weft::ipc::remote_error>(e));
    int after = co_await pool.call(square, 3);  // the worker lives on
    CHECK(after == 9);
    CHECK(pool.stats().failed == 3);
    CHECK(pool.stats().workers_restarted == 0);
  }());
}

TEST_CASE("submit gives join handles that as_completed yields in completion order", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    std::vector<weft::join_handle<int>> handles;
    handles.push_back(pool.submit(slow_square, 1, 300));
    handles.push_back(pool.submit(slow_square, 2, 1));
    auto stream = weft::as_completed(std::move(handles));
    auto first = co_await stream.next();
    REQUIRE(first);
    CHECK(first->index == 1);
    int v = co_await first->handle;
    CHECK(v == 4);
    auto second = co_await stream.next();
    REQUIRE(second);
    int w = co_await second->handle;
    CHECK(w == 1);
    auto none = co_await stream.next();
    CHECK(!none);
  }());
}

TEST_CASE("map keeps the order of its input, with any chunk size", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    std::vector<int> in = iota_vec(1001);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{5000}}) {
      std::vector<int> out = co_await pool.map(square, in, chunk);
      REQUIRE(out.size() == in.size());
      bool ok = true;
      for (std::size_t i = 0; i < in.size(); ++i) ok = ok && out[i] == in[i] * in[i];
      CHECK(ok);
    }
    std::vector<int> empty;
    auto none = co_await pool.map(square, empty);
    CHECK(none.empty());
    std::vector<int> with_seven = iota_vec(20);
    auto e = co_await error_of(pool.map(fails_on_seven, with_seven, 3));
    CHECK(what_if<weft::ipc::remote_error>(e) == "std::invalid_argument: seven");
  }());
}

TEST_CASE("map_unordered yields every result once", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    std::vector<int> in = iota_vec(500);
    auto stream = pool.map_unordered(square, in, 16);
    std::multiset<int> got;
    while (auto v = co_await stream.next()) got.insert(*v);
    std::multiset<int> want;
    for (int x : in) want.insert(x * x);
    CHECK(got == want);
  }());
}

TEST_CASE("the initializer runs once in each worker before its first task", "[ipc][pool]") {
  static int initialized = 0;  // in each worker's copy of memory
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2, .initializer = [] { initialized += 1; }}};
    auto read = [] { return initialized; };
    for (int i = 0; i < 10; ++i) {
      int v = co_await pool.call(read);
      CHECK(v == 1);
    }
    CHECK(initialized == 0);  // not in the parent
  }());
}

TEST_CASE("a failing initializer makes every call fail with pool_error naming it", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1, .initializer = [] { throw std::runtime_error("no database"); }}};
    auto e = co_await error_of(pool.call(square, 2));
    REQUIRE(is<weft::ipc::pool_error>(e));
    CHECK_THAT(what_if<weft::ipc::pool_error>(e), Catch::Contains("no database"));
    e = co_await error_of(pool.call(square, 3));
    CHECK(is<weft::ipc::pool_error>(e));
  }());
}

TEST_CASE("max_tasks_per_worker recycles workers", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2, .max_tasks_per_worker = 3}};
    std::vector<int> pids;
    for (int i = 0; i < 12; ++i) pids.push_back(co_await pool.call(worker_pid));
    std::set<int> distinct(pids.begin(), pids.end());
    CHECK(distinct.size() >= 4);
    for (int p : distinct) CHECK(std::count(pids.begin(), pids.end(), p) <= 3);
    CHECK(pool.stats().workers_restarted >= 2);
    CHECK(pool.stats().crashed == 0);
  }());
}

TEST_CASE("shutdown(wait) finishes submitted calls, later calls fail", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 6; ++i) hs.push_back(pool.submit(slow_square, i, 20));
    co_await pool.shutdown(weft::ipc::shutdown_mode::wait);
    for (int i = 0; i < 6; ++i) {
      int v = co_await hs[static_cast<std::size_t>(i)];
      CHECK(v == i * i);
    }
    CHECK(pool.size() == 0);
    auto e = co_await error_of(pool.call(square, 1));
    CHECK(is<weft::ipc::pool_error>(e));
  }());
}

TEST_CASE("shutdown(cancel_pending) drops queued calls and finishes running ones", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1, .task_timeout = 10s}};  // one call per worker at a time
    auto running = pool.submit(slow_square, 3, 300);
    co_await weft::sleep_for(100ms);
    auto queued = pool.submit(slow_square, 4, 1);
    co_await weft::sleep_for(20ms);
    co_await pool.shutdown(weft::ipc::shutdown_mode::cancel_pending);
    int v = co_await running;
    CHECK(v == 9);
    auto e = co_await error_of(std::move(queued));
    CHECK(is<weft::operation_cancelled>(e));
  }());
}

TEST_CASE("shutdown(immediate) kills running calls", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1}};
    auto running = pool.submit(hang, 1);
    co_await weft::sleep_for(50ms);
    co_await pool.shutdown(weft::ipc::shutdown_mode::immediate);
    auto e = co_await error_of(std::move(running));
    CHECK(is<weft::operation_cancelled>(e));
    CHECK(pool.size() == 0);
  }());
}

TEST_CASE("calls from many tasks on several runtime workers all complete exactly", "[ipc][pool]") {
  weft::runtime rt{rt_options(4)};
  constexpr int tasks = 100, per_task = 300;
  std::vector<long long> sums(tasks);
  rt.block_on([&]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < tasks; ++t)
      hs.push_back(weft::spawn([](process_pool& p, int t, long long& out) -> weft::task<void> {
        long long s = 0;
        for (int i = 0; i < per_task; ++i) s += co_await p.call(square_ll, static_cast<long long>(t * per_task + i));
        out = s;
      }(pool, t, sums[static_cast<std::size_t>(t)])));
    for (auto& h : hs) co_await h;
  }());
  long long total = 0, want = 0;
  for (auto s : sums) total += s;
  for (long long i = 0; i < tasks * per_task; ++i) want += i * i;
  CHECK(total == want);
}

TEST_CASE("a call awaited after its pool was destroyed fails with pool_error", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    std::optional<weft::join_handle<int>> late;
    {
      process_pool pool{{.workers = 1}};
      late = pool.submit(square, 3);  // its task has not run yet
    }
    auto e = co_await error_of(std::move(*late));
    CHECK_THAT(what_if<weft::ipc::pool_error>(e), Catch::Contains("destroyed"));
  }());
}

namespace {
void log_item(int) {}
void sleep_units(int units) { ::usleep(static_cast<useconds_t>(units) * 100'000); }
}  // namespace

TEST_CASE("map and map_unordered take functions returning void", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    std::vector<std::monostate> done = co_await pool.map(log_item, iota_vec(50));
    CHECK(done.size() == 50);
    auto s = pool.map_unordered(log_item, iota_vec(20), 3);
    int n = 0;
    while (auto r = co_await s.next()) ++n;
    CHECK(n == 20);
  }());
}

TEST_CASE("uneven tasks: an idle worker takes back calls queued behind a long one", "[ipc][pool]") {
  // 5, 2, 4, 1, 5 units on 2 workers: handed out ahead, 5+4+5 would land
  // on one worker (14 units); the best assignment takes 9.
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    auto start = std::chrono::steady_clock::now();
    std::vector<weft::join_handle<void>> hs;
    for (int units : {5, 2, 4, 1, 5}) hs.push_back(pool.submit(sleep_units, units));
    for (auto& h : hs) co_await h;
    auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 0.1;
    INFO("makespan " << took << " units");
    // 9 when the calls reach the pool in the order submitted; the spawned
    // tasks may enqueue them in another order, which gives 10 at worst.
    // Handed out ahead without stealing: 14; pulled one at a time by idle
    // workers (ProcessPoolExecutor): 11.
    CHECK(took < 10.5);
  }());
}

TEST_CASE("error messages say which operation and which limit", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1, .task_timeout = 300ms}};
    auto e = co_await error_of(pool.call(hang, 0));
    CHECK_THAT(what_if<weft::timeout_error>(e),
               Catch::StartsWith("weft::ipc::process_pool::call: timed out after 300 ms "
                                 "(process_pool_options::task_timeout); its worker process "));
    co_await pool.shutdown();
    auto late = co_await error_of(pool.call(square, 2));
    CHECK(what_if<weft::ipc::pool_error>(late) ==
          "weft::ipc::process_pool::call: the pool was shut down (shutdown() was called); it takes no more calls");
  }());
}

TEST_CASE("cancelling a task awaiting spawn_process as a temporary kills the call's worker", "[ipc][pool]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1}};
    int pid_before = co_await pool.call(worker_pid);
    auto waiter = weft::spawn([](process_pool& p) -> weft::task<int> {
      co_return co_await p.submit(hang, 0);  // a temporary handle: it belongs to this wait
    }(pool));
    co_await weft::sleep_for(100ms);
    waiter.cancel();
    auto e = co_await error_of(std::move(waiter));
    CHECK(is<weft::operation_cancelled>(e));
    int pid_after = co_await pool.call(worker_pid);  // the hung call's worker was killed and replaced
    CHECK(pid_after != pid_before);
    CHECK(pool.stats().cancelled == 1);
  }());
}
