// cluster_map: map() of N (default 20,000) items of 1 ms of CPU each over a
// weft::cluster::pool: efficiency = ideal time (N x 1 ms / workers) /
// measured. Ranks x workers per rank should equal the cores; the peer is
// mpi4py.futures (mpi_pool_bench.py map_1ms, chunksize 1).
//
//   mpirun -n R bench_cluster_map [N] [workers-per-rank] [chunk]
//     -> RESULT weft.cluster_map items=... workers=... seconds=... efficiency=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "weft/cluster/init.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/weft.hpp"

namespace {

std::uint64_t burn_1ms(std::uint64_t x) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
  while (std::chrono::steady_clock::now() < end) {
  }
  return x;
}

}  // namespace

WEFT_REMOTE(burn_1ms);

namespace {

weft::task<int> run(std::size_t n, unsigned workers_per_rank, std::size_t chunk) {
  weft::cluster::pool pool{{.workers_per_rank = workers_per_rank}};
  std::vector<std::uint64_t> warm(pool.size());
  co_await pool.map(burn_1ms, warm, 1);
  std::vector<std::uint64_t> items(n);
  for (std::size_t i = 0; i < n; ++i) items[i] = i;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::uint64_t> out = co_await pool.map(burn_1ms, items, chunk);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out != items) std::abort();
  std::printf("RESULT weft.cluster_map items=%zu ranks=%d workers=%u chunk=%zu seconds=%.3f efficiency=%.3f\n", n,
              weft::cluster::size() - 1, pool.size(), chunk, secs, double(n) * 1e-3 / (pool.size() * secs));
  co_await pool.shutdown();
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  weft::cluster::init(argc, argv);
  std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20'000;
  unsigned workers = argc > 2 ? static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)) : 0;
  std::size_t chunk = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  return weft::run(run(n, workers, chunk));
}
