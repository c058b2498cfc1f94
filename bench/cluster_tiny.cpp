// cluster_tiny: the cost of a cluster-pool task when the task itself is
// nothing: N (default 1,000,000) calls of x*x submitted at once to a
// weft::cluster::pool, then every result collected (as the peer,
// mpi4py.futures.MPIPoolExecutor in peers' mpi_pool_bench.py tiny, does
// with 20,000). Run under mpirun: rank 0 calls, the others serve.
//
//   mpirun -n 4 bench_cluster_tiny [N] [workers-per-rank]
//     -> RESULT weft.cluster_tiny tasks=... ranks=... workers=... seconds=... tasks_per_s=...
//
// Pool start-up and a warm-up call per worker are outside the timed
// region; the sum is checked (a wrong one aborts).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "weft/cluster/init.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/weft.hpp"

namespace {

std::uint64_t square(std::uint64_t x) { return x * x; }

}  // namespace

WEFT_REMOTE(square);

namespace {

weft::task<int> run(std::uint64_t n, unsigned workers_per_rank) {
  weft::cluster::pool pool{{.workers_per_rank = workers_per_rank}};
  {
    std::vector<weft::join_handle<std::uint64_t>> warm;
    for (std::uint64_t i = 0; i < 4 * pool.size(); ++i) warm.push_back(pool.submit(square, i));
    for (auto& h : warm) co_await h;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<weft::join_handle<std::uint64_t>> handles;
  handles.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) handles.push_back(pool.submit(square, i));
  std::uint64_t sum = 0;
  for (auto& h : handles) sum += co_await h;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::uint64_t want = 0;
  for (std::uint64_t x = 0; x < n; ++x) want += x * x;
  if (sum != want) {
    std::fprintf(stderr, "cluster_tiny: wrong sum\n");
    std::abort();
  }
  std::printf("RESULT weft.cluster_tiny tasks=%llu ranks=%d workers=%u seconds=%.3f tasks_per_s=%.0f\n",
              static_cast<unsigned long long>(n), weft::cluster::size() - 1, pool.size(), secs, double(n) / secs);
  co_await pool.shutdown();
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  weft::cluster::init(argc, argv);
  std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  unsigned workers = argc > 2 ? static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)) : 0;
  return weft::run(run(n, workers));
}
