// cluster_latency: the round trip of one small call to a serving rank,
// against a plain MPI_Send/MPI_Recv ping-pong of the same ranks.
//
//   mpirun -n 2 bench_cluster_latency [N]       -> RESULT weft.cluster_latency calls=... p50_us=... p99_us=...
//   mpirun -n 2 bench_cluster_latency --mpi [N] -> RESULT mpi.ping_pong round_trips=... p50_us=... p99_us=...
//
// The weft run awaits N (default 20,000) sequential pool.call(square, i)
// (rank 0 to a serving rank, its local worker process, and back); the
// --mpi run is the same program without weft::cluster: rank 0 sends 8
// bytes to rank 1 and waits for them back, N times. The peer is
// mpi4py.futures (mpi_pool_bench.py latency).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "weft/cluster/init.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/weft.hpp"

namespace {

std::uint64_t square(std::uint64_t x) { return x * x; }

}  // namespace

WEFT_REMOTE(square);

namespace {

using bench_clock = std::chrono::steady_clock;

void report(const char* name, const char* unit, std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  std::printf("RESULT %s %s=%zu p50_us=%.1f p99_us=%.1f\n", name, unit, us.size(), us[us.size() / 2],
              us[us.size() * 99 / 100]);
}

weft::task<int> weft_run(std::size_t n) {
  weft::cluster::pool pool{{.workers_per_rank = 1}};
  for (std::uint64_t i = 0; i < 100; ++i) co_await pool.call(square, i);
  std::vector<double> us;
  us.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto t0 = bench_clock::now();
    std::uint64_t y = co_await pool.call(square, static_cast<std::uint64_t>(i));
    us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - t0).count());
    if (y != i * i) std::abort();
  }
  report("weft.cluster_latency", "calls", us);
  co_await pool.shutdown();
  co_return 0;
}

int mpi_run(int& argc, char**& argv, std::size_t n) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::uint64_t v = 0;
  std::vector<double> us;
  us.reserve(n);
  for (std::size_t i = 0; i < n + 100; ++i) {
    if (rank == 0) {
      auto t0 = bench_clock::now();
      v = i;
      MPI_Send(&v, 1, MPI_UINT64_T, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(&v, 1, MPI_UINT64_T, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (i >= 100) us.push_back(std::chrono::duration<double, std::micro>(bench_clock::now() - t0).count());
    } else if (rank == 1) {
      MPI_Recv(&v, 1, MPI_UINT64_T, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      v *= v;
      MPI_Send(&v, 1, MPI_UINT64_T, 0, 0, MPI_COMM_WORLD);
    }
  }
  if (rank == 0) report("mpi.ping_pong", "round_trips", us);
  MPI_Finalize();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool raw = argc > 1 && std::strcmp(argv[1], "--mpi") == 0;
  const char* count = argc > (raw ? 2 : 1) ? argv[raw ? 2 : 1] : "20000";
  std::size_t n = std::strtoull(count, nullptr, 10);
  if (raw) return mpi_run(argc, argv, n);
  weft::cluster::init(argc, argv);
  return weft::run(weft_run(n));
}
