// weft::ipc::process: lifecycle, results, exit codes, signals, join with
// timeouts, globals not leaking between processes, at-exit joining.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "process_pool_test_support.hpp"
#include "weft/ipc/process.hpp"
#include "weft/runtime/time.hpp"

using namespace ipc_test;
using namespace std::chrono_literals;
using weft::ipc::process;

namespace {

int counter = 0;  // changed by each process: never seen by the next one
int bump() { return ++counter; }
std::string hello(std::string name) { return "hello " + name + " from " + std::to_string(::getpid()); }
int throws_range(int x) { throw std::out_of_range("no item " + std::to_string(x)); }
void exits_with(int code) { std::exit(code); }
void sleeps_ms(int ms) { ::usleep(static_cast<useconds_t>(ms) * 1000); }
std::string big(std::size_t n) { return std::string(n, 'x'); }
std::size_t length_of(std::string s) { return s.size(); }
void catches_term() {
  // A process keeps SIGTERM's default action unless it changes it.
  for (;;) ::pause();
}

}  // namespace

TEST_CASE("process runs one function in its own process and gives its result", "[ipc][process]") {
  weft::runtime rt{rt_options(2)};
  rt.block_on([]() -> weft::task<void> {
    auto p = process::start(hello, "bob");
    CHECK(p.pid() > 0);
    CHECK(p.pid() != ::getpid());
    std::string s = co_await p.result();
    CHECK(s == "hello bob from " + std::to_string(p.pid()));
    {
      auto got = co_await p.join();
      CHECK(got == 0);
    }
    CHECK_FALSE(p.is_alive());
    CHECK(p.exitcode() == 0);
    // result() may be awaited again.
    {
      auto got = co_await p.result();
      CHECK(got == s);
    }
  }());
}

TEST_CASE("process starts from a clean copy: globals do not leak between processes", "[ipc][process]") {
  weft::runtime rt{rt_options(2)};
  rt.block_on([]() -> weft::task<void> {
    for (int i = 0; i < 3; ++i) {
      auto p = process::start(bump);
      {
        auto got = co_await p.result();
        CHECK(got == 1);
      }
    }
  }());
}

TEST_CASE("process exit codes follow Python's exitcode", "[ipc][process]") {
  weft::runtime rt{rt_options(2)};
  rt.block_on([]() -> weft::task<void> {
    auto threw = process::start(throws_range, 3);
    {
      auto got = co_await threw.join();
      CHECK(got == 1);
    }
    auto e = co_await error_of(threw.result());
    REQUIRE(is<weft::ipc::remote_error>(e));
    CHECK(what_if<weft::ipc::remote_error>(e) == "std::out_of_range: no item 3");

    auto exited = process::start(exits_with, 7);
    {
      auto got = co_await exited.join();
      CHECK(got == 7);
    }
    auto crashed = co_await error_of(exited.result());
    REQUIRE(is<weft::ipc::worker_crashed>(crashed));
    CHECK(what_if<weft::ipc::worker_crashed>(crashed).find("exited with code 7") != std::string::npos);

    auto sleeper = process::start(catches_term);
    CHECK(sleeper.is_alive());
    CHECK_FALSE(sleeper.exitcode().has_value());
    sleeper.terminate();
    {
      auto got = co_await sleeper.join();
      CHECK(got == -SIGTERM);
    }
    sleeper.terminate();  // ended: no effect

    auto victim = process::start(catches_term);
    victim.kill();
    {
      auto got = co_await victim.join();
      CHECK(got == -SIGKILL);
    }
    {
      auto error = co_await error_of(victim.result());
      CHECK(is<weft::ipc::worker_crashed>(error));
    }
  }());
}

TEST_CASE("process join_for and with_timeout leave the process running", "[ipc][process]") {
  weft::runtime rt{rt_options(2)};
  rt.block_on([]() -> weft::task<void> {
    auto p = process::start(sleeps_ms, 400);
    auto early = co_await p.join_for(20ms);
    CHECK_FALSE(early.has_value());
    CHECK(p.is_alive());
    auto e = co_await error_of(weft::with_timeout(20ms, p.join()));
    CHECK(is<weft::timeout_error>(e));
    CHECK(p.is_alive());
    auto done = co_await p.join_for(5s);
    REQUIRE(done.has_value());
    CHECK(*done == 0);
  }());
}

TEST_CASE("process arguments and results larger than a slot go through the arena", "[ipc][process]") {
  weft::runtime rt{rt_options(2)};
  rt.block_on([]() -> weft::task<void> {
    auto p = process::start(length_of, std::string(100'000, 'y'));
    {
      auto got = co_await p.result();
      CHECK(got == 100'000u);
    }
    auto q = process::start(big, std::size_t{300'000});
    {
      auto got = co_await q.result();
      CHECK(got.size() == 300'000u);
    }
    weft::ipc::process_options small{.arena_size = 4096};
    CHECK_THROWS_AS(process::start(small, length_of, std::string(10'000, 'z')), weft::ipc::serialization_error);
    auto r = process::start(small, big, std::size_t{10'000});
    {
      auto error = co_await error_of(r.result());  // its result does not fit
      CHECK(is<weft::ipc::serialization_error>(error));
    }
    {
      auto got = co_await r.join();
      CHECK(got == 1);
    }
  }());
}

TEST_CASE("process blocking_join works outside a runtime", "[ipc][process]") {
  auto p = process::start(sleeps_ms, 50);
  CHECK_FALSE(p.blocking_join_for(1ms).has_value());
  CHECK(p.blocking_join() == 0);
  CHECK(p.blocking_join_for(1ms) == 0);
  process copy = p;
  CHECK(copy.pid() == p.pid());
  process empty;
  CHECK_FALSE(empty);
  CHECK_THROWS_AS(empty.pid(), std::logic_error);
}

TEST_CASE("processes of different result types fit one vector", "[ipc][process]") {
  weft::runtime rt{rt_options(2)};
  rt.block_on([]() -> weft::task<void> {
    std::vector<process> all;
    all.push_back(process::start(hello, "a"));
    all.push_back(process::start(sleeps_ms, 10));
    all.push_back(process::start(throws_range, 1));
    std::vector<int> codes;
    for (auto& p : all) codes.push_back(co_await p.join());
    CHECK(codes == std::vector<int>{0, 0, 1});
    for (auto& p : all) CHECK(p.exitcode().has_value());
  }());
}

TEST_CASE("the program waits at exit for its non-daemon processes, not for daemon ones", "[ipc][process]") {
  // In a plain fork of the test (one thread there), so its exit is ours to watch.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(fds[1], 2);
    auto p = process::start(sleeps_ms, 300);
    auto d = process::start({.daemon = true}, catches_term);
    (void)d;
    std::exit(0);  // the at-exit hook waits for p only
  }
  ::close(fds[1]);
  auto start = std::chrono::steady_clock::now();
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  auto took = std::chrono::steady_clock::now() - start;
  std::string err;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  CHECK(WIFEXITED(status));
  CHECK(took >= 250ms);
  CHECK(err.find("waiting for 1 non-daemon process to end before exiting") != std::string::npos);
}
