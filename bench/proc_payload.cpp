// proc_payload: bulk data through a process pool. Each task sends a 1 MiB
// std::vector<std::uint8_t> to a worker, which adds 1 to every byte and
// returns the vector (1 MiB back); N = 1,000 tasks one after another on a
// pool of 2 workers, the result of one being the argument of the next.
// Throughput counts 2 MiB per task. The same program then times plain
// memcpy moving the same bytes (per task 1 MiB there and 1 MiB back,
// between buffers of the same size), the floor any copying transport
// stands on: `ratio` = pool GB/s / memcpy GB/s.
//
// A second figure (`streams4_gbps`, `streams4_ratio`) runs the same N tasks
// as 4 chains at once, so both workers and the parent copy at the same
// time: what a pool moving bulk data for several callers achieves.
//
// Pool start-up and 10 warm-up tasks (which touch the shared arenas'
// pages) are outside the timed region. Every result is checked on sample
// bytes and the last one in full; a wrong one aborts.
//
//   bench_proc_payload [N]
//   -> RESULT weft.proc_payload tasks=... mib_per_task=2 seconds=... gbps=... memcpy_gbps=... ratio=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;
constexpr std::size_t payload = std::size_t{1} << 20;

using bytes = std::vector<std::uint8_t>;

// In the worker: its decoded copy of the argument, transformed, is the result.
bytes bump(bytes v) {
  for (auto& b : v) b = static_cast<std::uint8_t>(b + 1);
  return v;
}

std::uint8_t initial(std::size_t k) { return static_cast<std::uint8_t>(k * 131 + (k >> 12)); }

// After `rounds` bumps every byte is its initial value + rounds (mod 256).
void check(const bytes& v, std::uint64_t rounds, bool full) {
  bool ok = v.size() == payload;
  const auto add = static_cast<std::uint8_t>(rounds);
  for (std::size_t k = 0; ok && k < payload; k += full ? 1 : 4093)
    ok = v[k] == static_cast<std::uint8_t>(initial(k) + add);
  if (ok && !full) ok = v[payload - 1] == static_cast<std::uint8_t>(initial(payload - 1) + add);
  if (!ok) {
    std::fprintf(stderr, "proc_payload: wrong result after %llu tasks\n", static_cast<unsigned long long>(rounds));
    std::abort();
  }
}

// Keeps the compiler from dropping or merging copies nobody reads.
void clobber(void* p) { asm volatile("" : : "r"(p) : "memory"); }

double memcpy_seconds(std::uint64_t n) {
  bytes a(payload), b(payload), c(payload);
  for (std::size_t k = 0; k < payload; ++k) a[k] = initial(k);
  for (int warm = 0; warm < 10; ++warm)
    std::memcpy(b.data(), a.data(), payload), std::memcpy(c.data(), b.data(), payload);
  const auto t0 = bench_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::memcpy(b.data(), a.data(), payload);  // there
    clobber(b.data());
    std::memcpy(c.data(), b.data(), payload);  // and back
    clobber(c.data());
    a[i % payload] = c[0];
  }
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

weft::task<std::string> run(std::uint64_t n) {
  weft::ipc::process_pool pool{{.workers = 2}};
  bytes data(payload);
  for (std::size_t k = 0; k < payload; ++k) data[k] = initial(k);
  std::uint64_t rounds = 0;
  for (int warm = 0; warm < 10; ++warm, ++rounds) data = co_await pool.call(bump, std::move(data));
  check(data, rounds, true);

  const auto t0 = bench_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    data = co_await pool.call(bump, std::move(data));
    check(data, ++rounds, false);
  }
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  check(data, rounds, true);

  constexpr int streams = 4;
  std::vector<weft::join_handle<void>> chains;
  const auto t1 = bench_clock::now();
  for (int s = 0; s < streams; ++s)
    chains.push_back(weft::spawn([](weft::ipc::process_pool& p, std::uint64_t tasks) -> weft::task<void> {
      bytes mine(payload);
      for (std::size_t k = 0; k < payload; ++k) mine[k] = initial(k);
      for (std::uint64_t i = 0; i < tasks; ++i) mine = co_await p.call(bump, std::move(mine));
      check(mine, tasks, true);
    }(pool, n / streams)));
  for (auto& c : chains) co_await c;
  const double dt4 = std::chrono::duration<double>(bench_clock::now() - t1).count();
  co_await pool.shutdown();

  const double mc = memcpy_seconds(n);
  const double gb = 2.0 * static_cast<double>(payload) * static_cast<double>(n) / 1e9;
  const double gb4 = 2.0 * static_cast<double>(payload) * static_cast<double>(n / streams * streams) / 1e9;
  char line[320];
  std::snprintf(line, sizeof line,
                "tasks=%llu mib_per_task=2 seconds=%.4f gbps=%.3f memcpy_gbps=%.3f ratio=%.4f streams4_gbps=%.3f "
                "streams4_ratio=%.4f",
                static_cast<unsigned long long>(n), dt, gb / dt, gb / mc, mc / dt, gb4 / dt4, (gb4 / dt4) / (gb / mc));
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 1000;
  if (argc > 2 || arg <= 0) {
    std::fprintf(stderr, "usage: bench_proc_payload [N > 0]\n");
    return 2;
  }
  weft::runtime rt{{.workers = 2}};
  std::printf("RESULT weft.proc_payload %s\n", rt.block_on(run(static_cast<std::uint64_t>(arg))).c_str());
  return 0;
}
