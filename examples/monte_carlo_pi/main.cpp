// monte_carlo_pi: estimate pi from random points in the unit square, the
// samples split into tasks that worker processes run, and a scaling table
// with a fresh process pool of 1, 2, ... N workers per row.
//
// Every row runs the same tasks with the same seeds, so the estimate is
// identical in each: only who computes it changes, and the time.
//
//   monte_carlo_pi [--samples N] [--tasks T] [--workers N] [--quick]
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <thread>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

// One task's share of the samples. Trivially copyable: it travels to the
// worker as plain bytes.
struct batch {
  std::uint64_t seed;
  std::uint64_t samples;
};

// splitmix64: a fast generator whose streams from distinct seeds are
// independent enough for this, and that needs no state beyond the task.
std::uint64_t next(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// Points of the batch inside the quarter circle. Runs in a worker.
std::uint64_t count_inside(batch b) {
  std::uint64_t state = b.seed, inside = 0;
  constexpr double scale = 1.0 / 9007199254740992.0;  // 2^-53: 53 random bits -> [0, 1)
  for (std::uint64_t i = 0; i < b.samples; ++i) {
    const double x = static_cast<double>(next(state) >> 11) * scale;
    const double y = static_cast<double>(next(state) >> 11) * scale;
    inside += x * x + y * y < 1.0;
  }
  return inside;
}

// The tasks: `samples` split as evenly as they go.
std::vector<batch> make_batches(std::uint64_t samples, unsigned tasks) {
  std::vector<batch> out;
  for (unsigned t = 0; t < tasks; ++t) out.push_back({0x5eed0000 + t, samples / tasks + (t < samples % tasks ? 1 : 0)});
  return out;
}

struct row {
  double seconds;
  double estimate;
};

// One row: a pool of `workers` processes, every batch through it. Results
// are summed in whatever order they finish (map_unordered): a sum does
// not care, and no result waits behind a slower one.
weft::task<row> run_row(unsigned workers, const std::vector<batch>& batches, std::uint64_t samples) {
  weft::ipc::process_pool pool{{.workers = workers}};
  const auto t0 = weft::clock::now();
  auto results = pool.map_unordered(count_inside, batches, 1);
  std::uint64_t inside = 0;
  while (auto n = co_await results.next()) inside += *n;
  const double seconds = std::chrono::duration<double>(weft::clock::now() - t0).count();
  co_await pool.shutdown();
  co_return row{seconds, 4.0 * static_cast<double>(inside) / static_cast<double>(samples)};
}

weft::task<int> amain(std::uint64_t samples, unsigned tasks, unsigned max_workers) {
  const auto batches = make_batches(samples, tasks);
  fmt::print("{} samples in {} tasks, 1..{} worker processes ({} cores)\n\n", samples, tasks, max_workers,
             std::thread::hardware_concurrency());
  fmt::print("workers   seconds   speed-up         estimate       error\n");
  double one = 0, first_estimate = 0;
  for (unsigned w = 1; w <= max_workers; ++w) {
    const row r = co_await run_row(w, batches, samples);
    if (w == 1) one = r.seconds, first_estimate = r.estimate;
    fmt::print("{:7}  {:8.3f}  {:8.2f}x  {:15.10f}  {:10.2e}\n", w, r.seconds, one / r.seconds, r.estimate,
               std::abs(r.estimate - std::numbers::pi));
    std::fflush(stdout);
    if (r.estimate != first_estimate) {
      fmt::print(stderr, "monte_carlo_pi: the estimate changed with {} workers: a result was lost\n", w);
      co_return 1;
    }
  }
  // The statistical error of N samples is about sqrt(pi (4 - pi) / N).
  fmt::print("\nexpected error for {} samples: about {:.2e}\n", samples,
             std::sqrt(std::numbers::pi * (4 - std::numbers::pi) / static_cast<double>(samples)));
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Estimates pi from random points, split into tasks that worker processes run: one row per pool\n"
      "size, 1 to N workers. Exits 1 if the estimate changes between rows (a result was lost).",
      "monte_carlo_pi"};
  std::uint64_t samples = 400'000'000;
  unsigned tasks = 64, workers = 0;
  bool quick = false;
  auto* samples_opt = app.add_option("--samples", samples, "random points in all (2,000,000 with --quick)")
                          ->check(CLI::Range(1ull, 1'000'000'000'000ull));
  app.add_option("--tasks", tasks, "tasks the samples are split into")->check(CLI::Range(1u, 100'000u));
  app.add_option("--workers", workers, "the last row's worker processes, 0 = one per core (at most 2 with --quick)")
      ->check(CLI::Range(0u, 256u));
  app.add_flag("--quick", quick, "2,000,000 samples and at most 2 workers: well under a second");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 a result was lost (or an error), 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (workers == 0) workers = quick ? std::min(2u, cores) : cores;
  if (quick && !*samples_opt) samples = 2'000'000;

  try {
    return weft::run(amain(samples, tasks, workers));
  } catch (const std::exception& e) {
    fmt::print(stderr, "monte_carlo_pi: error: {}\n", e.what());
    return example::exit_error;
  }
}
