// spawn_many: one task spawns N (default 1,000,000) trivial tasks, each
// returning its index, keeps the join handles in a pre-reserved vector, then
// awaits every handle in order (a handle is dropped right after it is
// awaited, as Tokio's `handles.drain(..)` does). Metric: tasks/s; the peer
// harness adds peak RSS (GNU time), so bytes per task = peak_rss / N.
//
//   bench_spawn_many [N]
//   -> RESULT weft.spawn_many tasks=1000000 time_ms=... tasks_per_s=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;

weft::task<std::uint64_t> trivial(std::uint64_t i) { co_return i; }

weft::task<std::string> spawn_many(std::uint64_t n) {
  std::vector<weft::join_handle<std::uint64_t>> handles;
  handles.reserve(n);
  const auto t0 = bench_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) handles.push_back(weft::spawn(trivial(i)));
  std::uint64_t sum = 0;
  for (auto& slot : handles) {
    weft::join_handle<std::uint64_t> h = std::move(slot);
    sum += co_await h;
  }
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  if (sum != n * (n - 1) / 2) {
    std::fprintf(stderr, "spawn_many: bad sum %llu\n", static_cast<unsigned long long>(sum));
    std::abort();
  }
  char line[256];
  std::snprintf(line, sizeof line, "tasks=%llu time_ms=%.3f tasks_per_s=%.0f", static_cast<unsigned long long>(n),
                dt * 1e3, static_cast<double>(n) / dt);
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  const std::uint64_t n = arg > 0 ? static_cast<std::uint64_t>(arg) : 1000000;
  weft::runtime rt{{.workers = 2}};
  const std::string line = rt.block_on(spawn_many(n));
  std::printf("RESULT weft.spawn_many %s\n", line.c_str());
  return 0;
}
