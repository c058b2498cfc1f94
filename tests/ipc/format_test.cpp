// weft/ipc/format.hpp: pool_stats and the ipc errors through fmt.
#include <signal.h>
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <stdexcept>
#include <string>

#include "process_pool_test_support.hpp"
#include "weft/ipc.hpp"
#include "weft/ipc/format.hpp"

namespace ipc = weft::ipc;

namespace {

struct my_pool_error : ipc::pool_error {
  my_pool_error() : ipc::pool_error("weft::ipc: test pool is closed") {}
};

}  // namespace

TEST_CASE("pool_stats formats every field on one line", "[ipc][format]") {
  ipc::pool_stats s;
  s.completed = 120;
  s.failed = 1;
  s.crashed = 2;
  s.timed_out = 3;
  s.cancelled = 4;
  s.workers = 5;
  s.queued = 6;
  s.running = 7;
  s.workers_started = 8;
  s.workers_restarted = 9;
  const std::string line =
      "completed=120 failed=1 crashed=2 timed_out=3 cancelled=4 workers=5 queued=6 running=7 "
      "workers_started=8 workers_restarted=9";
  CHECK(fmt::format("{}", s) == line);
  CHECK(fmt::format("{}", ipc::pool_stats{}) ==
        "completed=0 failed=0 crashed=0 timed_out=0 cancelled=0 workers=0 queued=0 running=0 "
        "workers_started=0 workers_restarted=0");
  CHECK(fmt::format("{:.13}", s) == "completed=120");
  CHECK(fmt::format("{:_>{}}", s, line.size() + 3) == "___" + line);
}

TEST_CASE("pool_stats of a real pool", "[ipc][format]") {
  weft::runtime rt{ipc_test::rt_options(1)};
  rt.block_on([]() -> weft::task<void> {
    ipc::process_pool pool{{.workers = 1}};
    int a = co_await pool.call(ipc_test::square, 3);
    int b = co_await pool.call(ipc_test::square, 4);
    CHECK(a + b == 25);
    const auto s = pool.stats();
    const std::string line = fmt::format("{}", s);
    CHECK(line.rfind("completed=2 failed=0 crashed=0 timed_out=0 cancelled=0 workers=1 ", 0) == 0);
    CHECK(line == fmt::format("completed=2 failed=0 crashed=0 timed_out=0 cancelled=0 workers=1 queued={} running={} "
                              "workers_started={} workers_restarted={}",
                              s.queued, s.running, s.workers_started, s.workers_restarted));
    co_await pool.shutdown();
  }());
}

TEST_CASE("the ipc errors format as their what()", "[ipc][format]") {
  CHECK(fmt::format("{}", ipc::remote_error("std::out_of_range", "index 5 out of range")) ==
        "std::out_of_range: index 5 out of range");
  CHECK(fmt::format("{}", ipc::worker_crashed(4242, SIGKILL)) ==
        "weft: worker process 4242 died from signal 9 (SIGKILL)");
  CHECK(fmt::format("{}", ipc::worker_crashed(42, SIGSEGV | 0x80)) ==
        "weft: worker process 42 died from signal 11 (SIGSEGV), core dumped");
  CHECK(fmt::format("{}", ipc::worker_crashed(42, 3 << 8)) ==
        "weft: worker process 42 exited with code 3 while running a task");
  CHECK(fmt::format("{}", ipc::worker_crashed(42, 0x137f)) == "weft: worker process 42 ended (status 4991)");
  // protocol_error is a worker_crashed: derived types pick the formatter.
  CHECK(fmt::format("{}", ipc::protocol_error(7, "unknown result kind 9")) ==
        "weft: worker process 7 broke the pool's protocol (unknown result kind 9); it was killed and replaced");
  CHECK(fmt::format("{}", ipc::serialization_error("too big")) == "too big");
  CHECK(fmt::format("{}", ipc::owner_died_error("owner died")) == "owner died");
  CHECK(fmt::format("{}", ipc::broken_barrier("reset")) == "reset");
  CHECK(fmt::format("{}", ipc::shared_heap_exhausted(100, std::size_t{64} << 20)) ==
        "weft: the shared heap (64 MiB) has no free block for 100 bytes; set WEFT_SHARED_HEAP_MB before the "
        "program starts for a larger one");
  CHECK(fmt::format("{}", my_pool_error{}) == "weft::ipc: test pool is closed");
  try {
    throw my_pool_error{};
  } catch (const ipc::pool_error& e) {
    CHECK(fmt::format("<{}>", e) == "<weft::ipc: test pool is closed>");
#if FMT_VERSION < 100000  // later, fmt's own formatter of exceptions (see weft/runtime/format.hpp)
    CHECK(fmt::format("<{:>31}>", e) == "< weft::ipc: test pool is closed>");
#endif
  }
  try {
    throw ipc::protocol_error(1, "x");
  } catch (const ipc::worker_crashed& e) {
    CHECK(fmt::format("{}", e) == "weft: worker process 1 broke the pool's protocol (x); it was killed and replaced");
#if FMT_VERSION < 100000
    CHECK(fmt::format("{:.22}", e) == "weft: worker process 1");
#endif
  }
}
