// fiber_switch: stackful fiber costs.
//   switch: one fiber doing n weft::await(weft::yield_now()), each a suspend
//           and resume round trip through the scheduler.
//   spawn:  n fibers (default 100,000) spawned from one task, each doing a
//           tiny computation; then all joined. Peak RSS from getrusage.
//
//   bench_fiber_switch [switch|spawn] [n]   (no argument: both)
//   -> RESULT weft.fiber_switch round_trips=1000000 time_ms=... round_trips_per_s=...
//   -> RESULT weft.fiber_spawn fibers=100000 time_ms=... fibers_per_s=... peak_rss_kb=...
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;

std::uint64_t switch_loop(std::uint64_t n) {
  std::uint64_t done = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    weft::await(weft::yield_now());
    ++done;
  }
  return done;
}

void run_switch(weft::runtime& rt, std::uint64_t n) {
  const auto t0 = bench_clock::now();
  const std::uint64_t done = rt.block_on(weft::fiber([n] { return switch_loop(n); }));
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  if (done != n) std::abort();
  std::printf("RESULT weft.fiber_switch round_trips=%llu time_ms=%.3f round_trips_per_s=%.0f\n",
              static_cast<unsigned long long>(n), dt * 1e3, static_cast<double>(n) / dt);
}

weft::task<std::uint64_t> spawn_all(std::uint64_t n) {
  std::vector<weft::join_handle<std::uint64_t>> handles;
  handles.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i)
    handles.push_back(weft::spawn_fiber([i] {
      std::uint64_t x = i;
      for (int k = 0; k < 8; ++k) x = x * 6364136223846793005ull + 1442695040888963407ull;
      return x & 1;
    }));
  std::uint64_t total = 0;
  for (auto& h : handles) total += co_await h;
  co_return total;
}

void run_spawn(weft::runtime& rt, std::uint64_t n) {
  const auto t0 = bench_clock::now();
  const std::uint64_t total = rt.block_on(spawn_all(n));
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  if (total > n) std::abort();
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::printf("RESULT weft.fiber_spawn fibers=%llu time_ms=%.3f fibers_per_s=%.0f peak_rss_kb=%ld\n",
              static_cast<unsigned long long>(n), dt * 1e3, static_cast<double>(n) / dt, ru.ru_maxrss);
}

}  // namespace

int main(int argc, char** argv) {
  const char* which = argc > 1 ? argv[1] : "both";
  const long long arg = argc > 2 ? std::atoll(argv[2]) : 0;
  const bool sw = std::strcmp(which, "switch") == 0, sp = std::strcmp(which, "spawn") == 0;
  if (!sw && !sp && std::strcmp(which, "both") != 0) {
    std::fprintf(stderr, "usage: bench_fiber_switch [switch|spawn] [n]\n");
    return 2;
  }
  weft::runtime rt{{.workers = 2}};
  if (!sp) run_switch(rt, arg > 0 && sw ? static_cast<std::uint64_t>(arg) : 1000000);
  if (!sw) run_spawn(rt, arg > 0 && sp ? static_cast<std::uint64_t>(arg) : 100000);
  return 0;
}
