// mutex_contended: 4 tasks, each taking and releasing one weft::mutex
// 1,000,000 times (incrementing a shared counter inside), on 2 workers.
// Metric: lock/unlock pairs per second over all tasks.
//
//   bench_mutex_contended [pairs_per_task] [tasks]   (default 1,000,000 and 4)
//   -> RESULT weft.mutex_contended tasks=4 pairs=... time_ms=... ops_per_s=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;

weft::task<void> hammer(weft::mutex& m, std::uint64_t& counter, std::uint64_t pairs) {
  for (std::uint64_t i = 0; i < pairs; ++i) {
    auto guard = co_await m.lock();
    ++counter;
  }
}

weft::task<std::string> contended(std::uint64_t tasks, std::uint64_t pairs) {
  weft::mutex m;
  std::uint64_t counter = 0;
  std::vector<weft::join_handle<void>> hs;
  const auto t0 = bench_clock::now();
  for (std::uint64_t t = 0; t < tasks; ++t) hs.push_back(weft::spawn(hammer(m, counter, pairs)));
  for (auto& h : hs) co_await h;
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  const std::uint64_t total = tasks * pairs;
  if (counter != total) {
    std::fprintf(stderr, "mutex_contended: counter %llu, expected %llu\n", static_cast<unsigned long long>(counter),
                 static_cast<unsigned long long>(total));
    std::abort();
  }
  char line[256];
  std::snprintf(line, sizeof line, "tasks=%llu pairs=%llu time_ms=%.3f ops_per_s=%.0f",
                static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(total), dt * 1e3,
                static_cast<double>(total) / dt);
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long a1 = argc > 1 ? std::atoll(argv[1]) : 0;
  const long long a2 = argc > 2 ? std::atoll(argv[2]) : 0;
  const std::uint64_t pairs = a1 > 0 ? static_cast<std::uint64_t>(a1) : 1'000'000;
  const std::uint64_t tasks = a2 > 0 ? static_cast<std::uint64_t>(a2) : 4;
  weft::runtime rt{{.workers = 2}};
  const std::string line = rt.block_on(contended(tasks, pairs));
  std::printf("RESULT weft.mutex_contended %s\n", line.c_str());
  return 0;
}
