// weft/runtime/format.hpp: metrics, io_backend and the runtime's errors
// through fmt.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <stdexcept>
#include <string>

#include "weft/runtime/format.hpp"
#include "weft/weft.hpp"

namespace {

struct my_timeout : weft::timeout_error {
  my_timeout() : weft::timeout_error("my deadline passed") {}
};

struct my_cancel final : weft::operation_cancelled {};

weft::task<int> square(int x) { co_return x* x; }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("runtime_metrics formats as a one-line summary", "[runtime][format]") {
  weft::runtime_metrics m;
  m.workers.resize(2);
  m.workers[0].tasks_spawned = 3;
  m.workers[1].tasks_spawned = 4;
  m.workers[0].tasks_completed = 5;
  m.workers[1].tasks_polled = 9;
  m.workers[1].tasks_stolen = 2;
  m.workers[0].local_queue_depth = 1;
  m.workers[0].io_completions = 6;
  m.workers[1].timers_fired = 7;
  m.workers[0].parks = 8;
  m.workers[1].wakeups = 10;
  m.workers[0].steal_attempts = 99;  // not in the summary
  m.inject_queue_depth = 11;
  m.live_tasks = 12;
  m.blocking_threads = 13;
  m.blocking_idle = 14;
  m.blocking_queue_depth = 15;
  CHECK(fmt::format("{}", m) ==
        "workers=2 live_tasks=12 tasks_spawned=7 tasks_completed=5 tasks_polled=9 tasks_stolen=2 "
        "local_queue_depth=1 inject_queue_depth=11 io_completions=6 timers_fired=7 parks=8 wakeups=10 "
        "blocking_threads=13 blocking_idle=14 blocking_queue_depth=15");
  CHECK(fmt::format("{}", weft::runtime_metrics{}) ==
        "workers=0 live_tasks=0 tasks_spawned=0 tasks_completed=0 tasks_polled=0 tasks_stolen=0 "
        "local_queue_depth=0 inject_queue_depth=0 io_completions=0 timers_fired=0 parks=0 wakeups=0 "
        "blocking_threads=0 blocking_idle=0 blocking_queue_depth=0");
  // String specs apply to the whole line.
  CHECK(fmt::format("{:.20}", m) == "workers=2 live_tasks");
  const std::string line = fmt::format("{}", m);
  CHECK(fmt::format("[{:>{}}]", m, line.size() + 4) == "[    " + line + "]");
}

TEST_CASE("worker_metrics formats every counter", "[runtime][format]") {
  weft::worker_metrics w;
  w.tasks_polled = 1;
  w.tasks_spawned = 2;
  w.tasks_completed = 3;
  w.tasks_stolen = 4;
  w.steal_attempts = 5;
  w.steal_operations = 6;
  w.parks = 7;
  w.wakeups = 8;
  w.inject_pops = 9;
  w.local_overflows = 10;
  w.lifo_polls = 11;
  w.hand_offs = 12;
  w.io_completions = 13;
  w.timers_fired = 14;
  w.stalls = 15;
  w.local_queue_depth = 16;
  const std::string all =
      "tasks_polled=1 tasks_spawned=2 tasks_completed=3 tasks_stolen=4 steal_attempts=5 steal_operations=6 "
      "parks=7 wakeups=8 inject_pops=9 local_overflows=10 lifo_polls=11 hand_offs=12 io_completions=13 "
      "timers_fired=14 stalls=15 local_queue_depth=16";
  CHECK(fmt::format("{}", w) == all);
  CHECK(fmt::format("{:*<{}}", w, all.size() + 2) == all + "**");
  const weft::worker_metrics& cref = w;
  CHECK(fmt::format("{}", cref) == all);
}

TEST_CASE("metrics of a real runtime format with their keys", "[runtime][format]") {
  weft::runtime rt{{.workers = 2}};
  int sum = rt.block_on([]() -> weft::task<int> {
    auto a = weft::spawn(square(2));
    auto b = weft::spawn(square(3));
    auto c = weft::spawn(square(4));
    co_return co_await a + co_await b + co_await c;
  }());
  REQUIRE(sum == 29);
  const auto m = rt.metrics();
  const std::string line = fmt::format("{}", m);
  CHECK(line.rfind("workers=2 live_tasks=", 0) == 0);
  const auto t = m.total();
  CHECK(t.tasks_spawned >= 3);
  CHECK(contains(line, fmt::format(" tasks_spawned={} ", t.tasks_spawned)));
  CHECK(contains(line, fmt::format(" tasks_completed={} ", t.tasks_completed)));
  CHECK(contains(line, fmt::format(" tasks_polled={} ", t.tasks_polled)));
  CHECK(contains(line, fmt::format(" tasks_stolen={} ", t.tasks_stolen)));
  for (const char* key : {" inject_queue_depth=", " io_completions=", " timers_fired=", " parks=", " wakeups=",
                          " blocking_threads=", " blocking_idle=", " blocking_queue_depth="})
    CHECK(contains(line, key));
  CHECK(line.find('\n') == std::string::npos);
  CHECK(fmt::format("{}", t).rfind(fmt::format("tasks_polled={} tasks_spawned={} ", t.tasks_polled, t.tasks_spawned),
                                   0) == 0);
  // The backend the runtime picked is named, never "automatic".
  const std::string backend = fmt::format("{}", rt.io_backend());
  CHECK((backend == "io_uring" || backend == "epoll"));
}

TEST_CASE("io_backend formats as its name", "[runtime][format]") {
  CHECK(fmt::format("{}", weft::io_backend::io_uring) == "io_uring");
  CHECK(fmt::format("{}", weft::io_backend::epoll) == "epoll");
  CHECK(fmt::format("{}", weft::io_backend::automatic) == "automatic");
  CHECK(fmt::format("[{:>8}]", weft::io_backend::epoll) == "[   epoll]");
}

TEST_CASE("the runtime's errors format as their what()", "[runtime][format]") {
  CHECK(fmt::format("{}", weft::operation_cancelled{}) == "weft: operation cancelled");
  CHECK(fmt::format("{}", weft::timeout_error{}) == "weft: operation timed out");
  CHECK(fmt::format("{}", weft::channel_closed{}) == "weft: channel closed");
  CHECK(fmt::format("{}", weft::channel_closed("weft: oneshot sender dropped")) == "weft: oneshot sender dropped");
  // Types derived from them pick the same formatter.
  CHECK(fmt::format("{}", my_timeout{}) == "my deadline passed");
  CHECK(fmt::format("{}", my_cancel{}) == "weft: operation cancelled");
  // Through a reference, as in a catch clause.
  try {
    throw my_timeout{};
  } catch (const weft::timeout_error& e) {
    CHECK(fmt::format("error: {}", e) == "error: my deadline passed");
  }
  static_assert(fmt::is_formattable<my_timeout>::value);
#if FMT_VERSION < 100000  // later, fmt's own formatter of exceptions (see weft/runtime/format.hpp)
  // String specs.
  CHECK(fmt::format("[{:<28}]", weft::timeout_error{}) == "[weft: operation timed out   ]");
  CHECK(fmt::format("{:.4}", weft::channel_closed{}) == "weft");
  static_assert(!fmt::is_formattable<std::runtime_error>::value);  // not ours to format
#endif
}
