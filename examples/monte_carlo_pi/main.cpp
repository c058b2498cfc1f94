// monte_carlo_pi: estimate pi from random points in the unit square, the
// samples split into tasks that worker processes run, and a scaling table
// with a fresh process pool of 1, 2, ... N workers per row.
//
// Every row runs the same tasks with the same seeds, so the estimate is
// identical in each: only who computes it changes, and the time.
//
//   monte_carlo_pi [--samples N] [--tasks T] [--workers N] [--quick]
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numbers>
#include <thread>
#include <vector>

#include "../common/server_cli.hpp"
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
  for (unsigned t = 0; t < tasks; ++t)
    out.push_back({0x5eed0000 + t, samples / tasks + (t < samples % tasks ? 1 : 0)});
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
  std::printf("%" PRIu64 " samples in %u tasks, 1..%u worker processes (%u cores)\n\n", samples, tasks, max_workers,
              std::thread::hardware_concurrency());
  std::printf("workers   seconds   speed-up         estimate       error\n");
  double one = 0, first_estimate = 0;
  for (unsigned w = 1; w <= max_workers; ++w) {
    const row r = co_await run_row(w, batches, samples);
    if (w == 1) one = r.seconds, first_estimate = r.estimate;
    std::printf("%7u  %8.3f  %8.2fx  %15.10f  %10.2e\n", w, r.seconds, one / r.seconds, r.estimate,
                std::abs(r.estimate - std::numbers::pi));
    std::fflush(stdout);
    if (r.estimate != first_estimate) {
      std::fprintf(stderr, "monte_carlo_pi: the estimate changed with %u workers: a result was lost\n", w);
      co_return 1;
    }
  }
  // The statistical error of N samples is about sqrt(pi (4 - pi) / N).
  std::printf("\nexpected error for %" PRIu64 " samples: about %.2e\n", samples,
              std::sqrt(std::numbers::pi * (4 - std::numbers::pi) / static_cast<double>(samples)));
  co_return 0;
}

constexpr const char* usage =
    "usage: monte_carlo_pi [--samples N] [--tasks T] [--workers N] [--quick]\n"
    "  --samples N  random points in all (default 400,000,000)\n"
    "  --tasks T    tasks the samples are split into (default 64)\n"
    "  --workers N  the last row's worker processes (default: one per core)\n"
    "  --quick      2,000,000 samples and at most 2 workers: well under a second\n";

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t samples = 0;
  unsigned tasks = 0, workers = 0;
  try {
    example::cli_args args(argc, argv, {"--quick"});
    if (args.help()) {
      std::fputs(usage, stdout);
      return 0;
    }
    const bool quick = args.take_flag("--quick");
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    samples = args.take_int<std::uint64_t>("--samples", quick ? 2'000'000 : 400'000'000, 1, 1'000'000'000'000);
    tasks = args.take_int<unsigned>("--tasks", 64, 1, 100'000);
    workers = args.take_int<unsigned>("--workers", quick ? std::min(2u, cores) : cores, 1, 256);
    args.finish();
  } catch (const example::usage_error& e) {
    std::fprintf(stderr, "monte_carlo_pi: %s\n%s", e.what(), usage);
    return 2;
  }
  try {
    return weft::run(amain(samples, tasks, workers));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "monte_carlo_pi: error: %s\n", e.what());
    return 1;
  }
}
