// process_pool under failure: crashes, timeouts, cancellation, oversized
// payloads, unserializable results, parent death, descriptor hygiene.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <cereal/cereal.hpp>

#include "process_pool_test_support.hpp"
#include "weft/ipc/detail/testing.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/time.hpp"

using namespace ipc_test;
using namespace std::chrono_literals;
using weft::ipc::process_pool;

namespace {

int segfault(int) {  // a real fault (a null store would be caught by UBSan first)
  void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *static_cast<volatile int*>(page) = 1;
  return 0;
}
int aborts(int) { std::abort(); }
int exits(int code) { std::exit(code); }
int killed(int) {  // as the OOM killer does it
  ::kill(::getpid(), SIGKILL);
  return 0;
}

std::vector<char> bytes(std::size_t n) { return std::vector<char>(n, 'x'); }
std::size_t size_of(std::vector<char> v) { return v.size(); }

struct refuses_to_save {
  int x = 0;
  template <class Archive>
  void save(Archive&) const {
    throw std::runtime_error("cannot save this");
  }
  template <class Archive>
  void load(Archive&) {}
};
refuses_to_save make_unsaveable(int) { return {}; }

/// Descriptors open in process pid, by number.
std::set<int> open_fds(int pid) {
  std::set<int> fds;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') fds.insert(std::atoi(e->d_name));
    ::closedir(d);
  }
  return fds;
}

std::string fd_target(int pid, int fd) {
  char buf[256] = {};
  std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
}

/// Gone, or a zombie nobody will wait for long.
bool process_gone(int pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

}  // namespace

TEST_CASE("a worker that dies mid-task fails only that task with worker_crashed", "[ipc][faults]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    struct crash_kind {
      int (*fn)(int);
      int arg;
      int signal;
      int exit_code;
    };
    std::vector<crash_kind> kinds = {
        {segfault, 0, SIGSEGV, -1}, {aborts, 0, SIGABRT, -1}, {exits, 3, 0, 3}, {killed, 0, SIGKILL, -1}};
    for (auto& k : kinds) {
      // Healthy calls around it, on both workers, in flight at once.
      std::vector<weft::join_handle<int>> others;
      for (int i = 0; i < 20; ++i) others.push_back(pool.submit(slow_square, i, 2));
      auto crash = pool.submit(k.fn, k.arg);
      for (int i = 20; i < 40; ++i) others.push_back(pool.submit(slow_square, i, 2));
      auto e = co_await error_of(std::move(crash));
      REQUIRE(is<weft::ipc::worker_crashed>(e));
      try {
        std::rethrow_exception(e);
      } catch (const weft::ipc::worker_crashed& c) {
        CHECK(c.signal() == k.signal);
        CHECK(c.exit_code() == k.exit_code);
        CHECK(c.pid() > 0);
      }
      int ok = 0;
      for (int i = 0; i < 40; ++i) {
        int v = co_await others[static_cast<std::size_t>(i)];
        ok += v == i * i;
      }
      CHECK(ok == 40);
    }
    auto st = pool.stats();
    CHECK(st.crashed == 4);
    CHECK(st.workers_restarted == 4);
    CHECK(st.completed == 160);
    int after = co_await pool.call(square, 11);
    CHECK(after == 121);
    CHECK(pool.size() == 2);
  }());
}

TEST_CASE("a task past task_timeout fails with timeout_error and its worker is replaced", "[ipc][faults]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1, .task_timeout = 300ms}};
    int pid_before = co_await pool.call(worker_pid);
    auto e = co_await error_of(pool.call(hang, 0));
    REQUIRE(is<weft::timeout_error>(e));
    CHECK_THAT(what_if<weft::timeout_error>(e), Catch::Contains("timed out after 300 ms"));
    int pid_after = co_await pool.call(worker_pid);
    CHECK(pid_after != pid_before);
    CHECK(process_gone(pid_before));
    int v = co_await pool.call(slow_square, 5, 10);  // under the limit
    CHECK(v == 25);
    auto st = pool.stats();
    CHECK(st.timed_out == 1);
    CHECK(st.workers_restarted == 1);
  }());
}

TEST_CASE("cancelling a queued call drops it, cancelling a running one kills its worker", "[ipc][faults]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1, .task_timeout = 60s}};  // one call at a time per worker
    int first_pid = co_await pool.call(worker_pid);
    auto running = pool.submit(hang, 0);
    co_await weft::sleep_for(50ms);
    auto queued = pool.submit(slow_square, 2, 1);
    co_await weft::sleep_for(20ms);
    CHECK(pool.stats().queued == 1);
    queued.cancel();
    auto e = co_await error_of(std::move(queued));
    CHECK(is<weft::operation_cancelled>(e));
    CHECK(pool.stats().queued == 0);
    CHECK(pool.size() == 1);  // the running one was not disturbed
    running.cancel();
    e = co_await error_of(std::move(running));
    CHECK(is<weft::operation_cancelled>(e));
    int pid = co_await pool.call(worker_pid);  // a fresh worker
    CHECK(pid != first_pid);
    // with_timeout is cancellation too.
    e = co_await error_of(weft::with_timeout(100ms, pool.call(hang, 0)));
    CHECK(is<weft::timeout_error>(e));
    int v = co_await pool.call(square, 6);
    CHECK(v == 36);
    auto st = pool.stats();
    CHECK(st.cancelled == 3);
    CHECK(st.crashed == 0);
    CHECK(st.workers_restarted == 2);
  }());
}

TEST_CASE("payloads near the arena limit pass, larger ones fail clearly", "[ipc][faults]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    constexpr std::size_t arena = 1 << 20;
    process_pool pool{{.workers = 1, .arena_size = arena}};
    std::vector<char> near(arena - 64, 'a');  // with its 8-byte length: fits
    std::size_t n = co_await pool.call(size_of, near);
    CHECK(n == near.size());
    std::vector<char> back = co_await pool.call(bytes, arena - 64);
    CHECK(back.size() == arena - 64);
    std::vector<char> over(arena + 1, 'b');
    auto e = co_await error_of(pool.call(size_of, over));
    REQUIRE(is<weft::ipc::serialization_error>(e));
    CHECK_THAT(what_if<weft::ipc::serialization_error>(e), Catch::Contains("more than the arena of 1048576 bytes"));
    e = co_await error_of(pool.call(bytes, arena + 1));
    REQUIRE(is<weft::ipc::serialization_error>(e));
    CHECK_THAT(what_if<weft::ipc::serialization_error>(e), Catch::Contains("the result is 1048585 bytes"));
    // Many large ones in a row reuse the arena.
    for (int i = 0; i < 20; ++i) {
      std::size_t m = co_await pool.call(size_of, near);
      CHECK(m == near.size());
    }
    CHECK(pool.stats().workers_restarted == 0);
  }());
}

TEST_CASE("a result whose serializer throws fails that call with the error", "[ipc][faults]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1}};
    auto e = co_await error_of(pool.call(make_unsaveable, 1));
    REQUIRE(is<weft::ipc::remote_error>(e));
    CHECK_THAT(what_if<weft::ipc::remote_error>(e), Catch::Contains("cannot save this"));
    refuses_to_save arg;
    e = co_await error_of(pool.call([](refuses_to_save) { return 1; }, arg));
    CHECK_THAT(what_if<std::runtime_error>(e), Catch::Contains("cannot save this"));
    int v = co_await pool.call(square, 2);
    CHECK(v == 4);
  }());
}

TEST_CASE("workers keep no descriptor of the parent's but stdio and their eventfd", "[ipc][faults]") {
  int stray[2];
  REQUIRE(::pipe(stray) == 0);  // inheritable on purpose
  weft::runtime rt{rt_options()};
  int pid = rt.block_on([]() -> weft::task<int> {
    process_pool pool{{.workers = 1}};
    co_return co_await pool.call(worker_pid);
  }());
  (void)pid;
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 1}};
    int wpid = co_await pool.call(worker_pid);
    std::set<int> fds = open_fds(wpid);
    CHECK(fds == std::set<int>{0, 1, 2, 3});
    CHECK_THAT(fd_target(wpid, 3), Catch::Contains("eventfd"));
  }());
  ::close(stray[0]);
  ::close(stray[1]);
}

// A million in the plain builds; a fifth of it under the sanitizers, which
// make each call ten times slower (the logic checked is the same).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int million_calls = 200'000, million_submitters = 100;
#else
constexpr int million_calls = 1'000'000, million_submitters = 100;
#endif

TEST_CASE("a 1,000,000-call run returns every result once", "[ipc][stress]") {
  constexpr int calls = million_calls, submitters = million_submitters;
  std::vector<std::uint8_t> seen(calls);
  bool all_right = true;
  weft::runtime rt{rt_options(2)};
  rt.block_on([&]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    std::vector<weft::join_handle<void>> hs;
    for (int s = 0; s < submitters; ++s)
      hs.push_back(
          weft::spawn([](process_pool& p, int s, std::vector<std::uint8_t>& seen, bool& ok) -> weft::task<void> {
            for (int i = s; i < million_calls; i += million_submitters) {
              long long r = co_await p.call(square_ll, static_cast<long long>(i));
              if (r != static_cast<long long>(i) * i) ok = false;
              ++seen[static_cast<std::size_t>(i)];  // each index belongs to one submitter
            }
          }(pool, s, seen, all_right)));
    for (auto& h : hs) co_await h;
    CHECK(pool.stats().completed == calls);
  }());
  CHECK(all_right);
  std::size_t once = 0;
  for (auto c : seen) once += c == 1;
  CHECK(once == calls);
}

TEST_CASE("workers do not outlive a parent that is killed", "[ipc][faults]") {
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t parent = ::fork();
  REQUIRE(parent >= 0);
  if (parent == 0) {
    ::close(report[0]);
    weft::runtime rt{rt_options(1)};
    rt.block_on([](int out) -> weft::task<void> {
      process_pool pool{{.workers = 3}};
      std::vector<int> pids = pool.worker_pids();
      int busy = co_await pool.call(worker_pid);  // they are up
      (void)busy;
      for (int p : pids) (void)!::write(out, &p, sizeof p);
      ::close(out);
      for (;;) co_await weft::sleep_for(1s);  // until killed
    }(report[1]));
    ::_exit(0);
  }
  ::close(report[1]);
  std::vector<int> workers;
  int p;
  while (::read(report[0], &p, sizeof p) == sizeof p) workers.push_back(p);
  ::close(report[0]);
  REQUIRE(workers.size() == 3);
  for (int w : workers) CHECK_FALSE(process_gone(w));
  ::kill(parent, SIGKILL);
  int status;
  ::waitpid(parent, &status, 0);
  bool all_gone = false;
  for (int i = 0; i < 500 && !all_gone; ++i) {
    all_gone = true;
    for (int w : workers) all_gone = all_gone && process_gone(w);
    if (!all_gone) ::usleep(10'000);
  }
  CHECK(all_gone);
}

namespace {
namespace hooks = weft::ipc::detail::testing;
// Each sets the test-only hook that rewrites this worker's next result
// header before it is published, then returns a small result.
int corrupt_kind(int x) {
  hooks::result_tamper = [](hooks::result_fields& f) { f.kind = 77; };
  return x;
}
int corrupt_inline_size(int x) {
  hooks::result_tamper = [](hooks::result_fields& f) { f.size = std::uint64_t{1} << 40; };
  return x;
}
int corrupt_arena_offset(int x) {
  hooks::result_tamper = [](hooks::result_fields& f) {
    f.arena_offset = std::uint64_t{1} << 44;
    f.size = 16;
  };
  return x;
}
int corrupt_arena_size(int x) {
  hooks::result_tamper = [](hooks::result_fields& f) {
    f.arena_offset = 4096;
    f.size = ~std::uint64_t{0} - 100;  // offset + size wraps around
  };
  return x;
}
int corrupt_arena_end(int x) {
  hooks::result_tamper = [](hooks::result_fields& f) {
    f.arena_offset = 0;
    f.arena_end = ~std::uint64_t{0} / 2;
  };
  return x;
}
int corrupt_seq(int x) {
  hooks::result_tamper = [](hooks::result_fields& f) { f.seq += 1000; };
  return x;
}
}  // namespace

TEST_CASE("a worker that corrupts its result slot fails that call with protocol_error, never the parent",
          "[ipc][faults]") {
  auto corrupt = GENERATE(corrupt_kind, corrupt_inline_size, corrupt_arena_offset, corrupt_arena_size,
                          corrupt_arena_end, corrupt_seq);
  weft::runtime rt{rt_options()};
  rt.block_on([](int (*corrupt)(int)) -> weft::task<void> {
    process_pool pool{{.workers = 1}};
    int pid_before = co_await pool.call(worker_pid);
    auto e = co_await error_of(pool.call(corrupt, 5));
    REQUIRE(is<weft::ipc::protocol_error>(e));
    CHECK(is<weft::ipc::worker_crashed>(e));  // a protocol_error is one
    CHECK_THAT(what_if<weft::ipc::protocol_error>(e), Catch::Contains("broke the pool's protocol"));
    CHECK_THAT(what_if<weft::ipc::protocol_error>(e), Catch::Contains(std::to_string(pid_before)));
    // The worker was killed and replaced; the pool goes on.
    int pid_after = co_await pool.call(worker_pid);
    CHECK(pid_after != pid_before);
    {
      auto got = co_await pool.call(square, 6);
      CHECK(got == 36);
    }
    CHECK(pool.stats().crashed == 1);
  }(corrupt));
}
