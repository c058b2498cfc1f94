// latch: weft::latch (weft/runtime/sync/latch.hpp), a single-use countdown,
// in its two usual roles:
//
//   - a starting gate, `weft::latch start{1}`: every task waits on it and
//     main opens it with one count_down(), so they all begin together;
//   - a countdown, `weft::latch done{TASKS}`: each task counts it down once
//     its part is ready, and main's `co_await done.wait()` returns when the
//     last one has (under a timeout, so a lost count_down cannot hang it).
//
// It checks that no task began before the gate opened and that every part
// was in place when done.wait() returned, and exits 1 otherwise.
//
//   ./build/examples/latch [--tasks N] [--quick]
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

struct shared_state {
  weft::latch start{1};
  weft::latch done;
  std::atomic<bool> gate_open{false};
  std::atomic<int> early{0};  // tasks that got past the gate before it opened
  std::vector<long> parts;
  explicit shared_state(int tasks) : done(tasks), parts(static_cast<std::size_t>(tasks), -1) {}
};

weft::task<void> worker(shared_state& s, int id) {
  co_await s.start.wait();
  if (!s.gate_open.load()) s.early.fetch_add(1);
  co_await weft::sleep_for(2ms * (1 + id % 4));  // prepare the part (a load, a handshake...)
  s.parts[static_cast<std::size_t>(id)] = static_cast<long>(id) * id;
  fmt::print("task {} ready (worker {})\n", id, weft::this_worker().value_or(0));
  s.done.count_down();  // the latch orders this write before done.wait() returns
  // A task may go on after counting down; main does not wait for that part.
}

weft::task<int> amain(int tasks) {
  shared_state s{tasks};
  long ms = 0;
  // A task_scope joins every worker before it returns, also when the body
  // throws (it then cancels them first), so `s` outlives them all.
  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
    for (int i = 0; i < tasks; ++i) scope.spawn(worker(s, i));
    co_await weft::sleep_for(10ms);  // time for them to reach the gate (not needed: it is a gate)
    fmt::print("{} tasks waiting at the gate; opening it\n", tasks);
    s.gate_open = true;
    s.start.count_down();

    const auto t0 = weft::clock::now();
    co_await weft::with_timeout(10s, s.done.wait());  // timeout_error if a task never counts down
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(weft::clock::now() - t0).count();
  });

  long sum = 0, missing = 0;
  for (long p : s.parts) {
    if (p < 0) {
      ++missing;
    } else {
      sum += p;
    }
  }
  fmt::print("all {} parts ready after {} ms: sum of squares {}, {} missing, {} started early\n", tasks, ms, sum,
             missing, s.early.load());
  const long expected = static_cast<long>(tasks - 1) * tasks * (2L * tasks - 1) / 6;
  co_return missing == 0 && s.early == 0 && sum == expected ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft::latch as a starting gate and as a countdown of tasks.", "latch"};
  int tasks = 8;
  bool quick = false;
  app.add_option("--tasks", tasks, "tasks that wait at the gate, then count down")->check(CLI::Range(1, 100'000));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 a check failed, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) tasks = 4;
  try {
    return weft::run(amain(tasks));
  } catch (const std::exception& e) {  // weft::timeout_error from the countdown
    fmt::print(stderr, "latch: {}\n", e.what());
    return example::exit_error;
  }
}
