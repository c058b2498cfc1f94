// yield_many: T (default 1,000) tasks, spawned from one task, each calling
// co_await weft::yield_now() 1,000 times; the spawner then awaits every
// handle in order. Metric: T*1,000 yields / total time.
//
//   bench_yield_many [tasks]
//   -> RESULT weft.yield_many tasks=1000 yields=1000000 time_ms=... yields_per_s=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;
constexpr std::uint64_t yields_per_task = 1000;

weft::task<std::uint64_t> yielder(std::uint64_t yields) {
  std::uint64_t done = 0;
  for (std::uint64_t i = 0; i < yields; ++i) {
    co_await weft::yield_now();
    ++done;
  }
  co_return done;
}

weft::task<std::string> yield_many(std::uint64_t tasks) {
  std::vector<weft::join_handle<std::uint64_t>> handles;
  handles.reserve(tasks);
  const auto t0 = bench_clock::now();
  for (std::uint64_t t = 0; t < tasks; ++t) handles.push_back(weft::spawn(yielder(yields_per_task)));
  std::uint64_t total = 0;
  for (auto& h : handles) total += co_await h;
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  if (total != tasks * yields_per_task) {
    std::fprintf(stderr, "yield_many: bad total %llu\n", static_cast<unsigned long long>(total));
    std::abort();
  }
  char line[256];
  std::snprintf(line, sizeof line, "tasks=%llu yields=%llu time_ms=%.3f yields_per_s=%.0f",
                static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(total), dt * 1e3,
                static_cast<double>(total) / dt);
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  const std::uint64_t tasks = arg > 0 ? static_cast<std::uint64_t>(arg) : 1000;
  weft::runtime rt{{.workers = 2}};
  const std::string line = rt.block_on(yield_many(tasks));
  std::printf("RESULT weft.yield_many %s\n", line.c_str());
  return 0;
}
