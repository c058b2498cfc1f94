// proc_latency: the round trip of one tiny task through a process pool
// when nothing else is in flight: 100,000 sequential `co_await
// pool.call(square, i)` on a pool of 2 worker processes, each timed.
// The peer is Python's ProcessPoolExecutor (py.ppe_latency: 2,000
// sequential submit(sq, i).result()).
//
// Pool start-up and 1,000 warm-up calls are outside the measurement.
// Every result is checked; a wrong one aborts.
//
//   bench_proc_latency [N]
//   -> RESULT weft.proc_latency calls=... p50_us=... p90_us=... p99_us=... max_us=... mean_us=...
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;

std::uint64_t square(std::uint64_t x) { return x * x; }

weft::task<std::string> latency(std::uint64_t n) {
  weft::ipc::process_pool pool{{.workers = 2}};
  for (std::uint64_t i = 0; i < 1000; ++i) {
    const std::uint64_t y = co_await pool.call(square, i);
    if (y != i * i) std::abort();
  }
  std::vector<double> us(n);
  double total = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto t0 = bench_clock::now();
    const std::uint64_t y = co_await pool.call(square, i);
    us[i] = std::chrono::duration<double, std::micro>(bench_clock::now() - t0).count();
    total += us[i];
    if (y != i * i) {
      std::fprintf(stderr, "proc_latency: square(%llu) = %llu\n", static_cast<unsigned long long>(i),
                   static_cast<unsigned long long>(y));
      std::abort();
    }
  }
  co_await pool.shutdown();
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(p * static_cast<double>(n - 1))]; };
  char line[256];
  std::snprintf(line, sizeof line, "calls=%llu p50_us=%.2f p90_us=%.2f p99_us=%.2f max_us=%.1f mean_us=%.2f",
                static_cast<unsigned long long>(n), pct(0.50), pct(0.90), pct(0.99), us.back(),
                total / static_cast<double>(n));
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 100'000;
  if (argc > 2 || arg <= 0) {
    std::fprintf(stderr, "usage: bench_proc_latency [N > 0]\n");
    return 2;
  }
  weft::runtime rt{{.workers = 2}};
  std::printf("RESULT weft.proc_latency %s\n", rt.block_on(latency(static_cast<std::uint64_t>(arg))).c_str());
  return 0;
}
