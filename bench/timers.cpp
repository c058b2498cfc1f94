// timers: N (default 100,000) tasks, spawned from one task, each sleeping a
// random 1-100 ms (weft::sleep_for, fixed seed); the spawner then awaits
// every handle. The ideal total is the longest sleep (100 ms); overhead_ms =
// time_ms - ideal_ms is what spawning, arming, firing and joining cost on top.
// Each task checks it never woke early and reports how late it woke
// (late_avg_ms / late_max_ms, from its own start).
//
//   bench_timers [N]
//   -> RESULT weft.timers tasks=100000 time_ms=... ideal_ms=100 overhead_ms=... late_avg_ms=... late_max_ms=...
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = weft::clock;
using namespace std::chrono_literals;

// Returns how late (ns) the sleeper woke; aborts if it woke early.
weft::task<std::int64_t> sleeper(int ms) {
  const auto start = bench_clock::now();
  co_await weft::sleep_for(std::chrono::milliseconds(ms));
  const auto slept = bench_clock::now() - start;
  if (slept < std::chrono::milliseconds(ms)) {
    std::fprintf(stderr, "timers: woke early (%lld ns of %d ms)\n",
                 static_cast<long long>(std::chrono::nanoseconds(slept).count()), ms);
    std::abort();
  }
  co_return std::chrono::nanoseconds(slept - std::chrono::milliseconds(ms)).count();
}

weft::task<std::string> timers(std::uint64_t n) {
  std::mt19937_64 rng(20261122);
  std::uniform_int_distribution<int> dist(1, 100);
  std::vector<int> sleeps(n);
  for (auto& s : sleeps) s = dist(rng);
  const int ideal_ms = *std::max_element(sleeps.begin(), sleeps.end());

  std::vector<weft::join_handle<std::int64_t>> handles;
  handles.reserve(n);
  const auto t0 = bench_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) handles.push_back(weft::spawn(sleeper(sleeps[i])));
  std::int64_t late_sum = 0, late_max = 0;
  for (auto& h : handles) {
    const std::int64_t late = co_await h;
    late_sum += late;
    late_max = std::max(late_max, late);
  }
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  char line[320];
  std::snprintf(line, sizeof line,
                "tasks=%llu time_ms=%.3f ideal_ms=%d overhead_ms=%.3f late_avg_ms=%.3f late_max_ms=%.3f",
                static_cast<unsigned long long>(n), dt * 1e3, ideal_ms, dt * 1e3 - ideal_ms,
                static_cast<double>(late_sum) / static_cast<double>(n) / 1e6, static_cast<double>(late_max) / 1e6);
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  const std::uint64_t n = arg > 0 ? static_cast<std::uint64_t>(arg) : 100000;
  weft::runtime rt{{.workers = 2}};
  const std::string line = rt.block_on(timers(n));
  std::printf("RESULT weft.timers %s\n", line.c_str());
  return 0;
}
