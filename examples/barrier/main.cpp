// barrier: weft::barrier (weft/runtime/sync/barrier.hpp), a reusable
// rendezvous of N tasks, phase after phase.
//
// Heat spreading along a rod of CELLS cells, split among TASKS tasks that
// run on all the worker threads at once. Each step, every task computes its
// slice of the next row from the current row, which needs its neighbours'
// cells too: no task may start step k+1 before all have finished step k.
// `co_await sync.arrive_and_wait()` after each step ensures that; the
// barrier's completion function runs once per step, on the last task to
// arrive and before any is released, and reports progress.
//
// The result is checked against the same computation done serially, and
// arrive_and_wait() must have returned true (the task that ran the
// completion) exactly once per step; the program exits 1 otherwise.
//
//   ./build/examples/barrier [--tasks N] [--steps N] [--quick]
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <numeric>
#include <utility>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using row = std::vector<double>;

// One step for cells [lo, hi) of `next`; the rod's two ends stay at 0.
void step(const row& cur, row& next, std::size_t lo, std::size_t hi) {
  for (std::size_t i = std::max<std::size_t>(lo, 1); i < std::min(hi, cur.size() - 1); ++i)
    next[i] = cur[i] + 0.25 * (cur[i - 1] - 2 * cur[i] + cur[i + 1]);
}

row initial(std::size_t cells) {  // cold, with a hot spot in the middle
  row r(cells, 0.0);
  for (std::size_t i = cells / 2 - cells / 20; i <= cells / 2 + cells / 20; ++i) r[i] = 100.0;
  return r;
}

weft::task<void> slice(row (&rows)[2], weft::barrier& sync, std::size_t lo, std::size_t hi, int steps,
                       std::atomic<int>& leaders) {
  for (int s = 0; s < steps; ++s) {
    step(rows[s % 2], rows[(s + 1) % 2], lo, hi);  // reads row s, writes row s + 1
    if (co_await sync.arrive_and_wait()) leaders.fetch_add(1);
  }
}

weft::task<int> amain(int tasks, int steps, std::size_t cells) {
  // The slices first: the barrier must expect exactly one arrival from each.
  std::vector<std::pair<std::size_t, std::size_t>> slices;
  const std::size_t per = (cells + static_cast<std::size_t>(tasks) - 1) / static_cast<std::size_t>(tasks);
  for (std::size_t lo = 0; lo < cells; lo += per) slices.emplace_back(lo, std::min(lo + per, cells));

  row rows[2] = {initial(cells), initial(cells)};
  int phase = 0;
  auto report = [&] {  // the completion: every task has written row phase + 1
    const row& r = rows[++phase % 2];
    if (phase % (steps / 4) == 0)
      fmt::print("step {:5}: centre {:6.2f}, a quarter along {:6.2f}, total {:7.2f}\n", phase, r[cells / 2],
                 r[cells / 4], std::accumulate(r.begin(), r.end(), 0.0));
  };
  weft::barrier sync{static_cast<std::ptrdiff_t>(slices.size()), report};
  std::atomic<int> leaders{0};

  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
    for (auto [lo, hi] : slices) scope.spawn(slice(rows, sync, lo, hi, steps, leaders));
    co_return;
  });  // all of them joined

  row a = initial(cells), b = a;  // the same, serially
  for (int s = 0; s < steps; ++s) {
    step(a, b, 0, cells);
    std::swap(a, b);
  }
  const bool same = a == rows[steps % 2];
  fmt::print("{} tasks, {} steps: {} phases led, result {} the serial one\n", slices.size(), steps, leaders.load(),
             same ? "identical to" : "DIFFERENT from");
  co_return same&& leaders == steps&& phase == steps ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Heat along a rod, computed by tasks in lock-step with weft::barrier.", "barrier"};
  int tasks = 4, steps = 2000;
  std::size_t cells = 100;
  bool quick = false;
  app.add_option("--tasks", tasks, "tasks, each computing one slice of the rod")->check(CLI::Range(1, 1000));
  app.add_option("--steps", steps, "time steps (phases of the barrier)")->check(CLI::Range(4, 10'000'000));
  app.add_option("--cells", cells, "cells of the rod")->check(CLI::Range(std::size_t{20}, std::size_t{100'000'000}));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 a check failed, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) steps = 200;
  try {
    return weft::run(amain(tasks, steps, cells));
  } catch (const std::exception& e) {
    fmt::print(stderr, "barrier: {}\n", e.what());
    return example::exit_error;
  }
}
