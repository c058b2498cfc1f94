// cluster_primes: the primes example (Python's concurrent.futures is_prime)
// over the ranks of an MPI job, with weft::cluster::pool.
//
// Rank 0 checks each number once itself, one after another, and once with
// pool.map over the serving ranks (every other rank, each running its
// share in a local process pool); it prints both times and the speed-up,
// and exits 1 if the pool's answers differ from its own or from a
// Miller-Rabin test.
//
//   mpirun -n 4 ./cluster_primes [--workers-per-rank N] [--count N] [--seed S] [--quick]
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "../common/cli.hpp"
#include "../common/primes.hpp"
#include "weft/cluster/init.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/weft.hpp"

namespace {

using example::docs_numbers;
using example::generated_primes;
using example::isqrt;
using example::miller_rabin;
using example::seconds_since;

// The smallest factor of n (n itself for a prime, 0 below 2): Python's
// is_prime, telling why a number is not prime.
std::uint64_t smallest_factor(std::uint64_t n) {
  if (n < 2) return 0;
  if (n % 2 == 0) return 2;
  const std::uint64_t limit = isqrt(n);
  for (std::uint64_t i = 3; i <= limit; i += 2)
    if (n % i == 0) return i;
  return n;
}

}  // namespace

// Ranks are separately started copies of the program: the function travels
// by this registration, not by address.
WEFT_REMOTE(smallest_factor);

namespace {

struct options {
  unsigned workers_per_rank = 0;  // 0: one per core of each rank's machine
  unsigned count = 10;
  std::uint64_t seed = 2024;
  bool quick = false;
};

weft::task<int> amain(options opt, std::vector<std::uint64_t> numbers) {
  weft::cluster::pool pool{{.workers_per_rank = opt.workers_per_rank}};
  const auto ranks = weft::cluster::size() - 1;
  fmt::print("{} numbers, {} serving ranks, {} worker processes\n", numbers.size(), ranks, pool.size());
  if (ranks == 0) {
    fmt::print(stderr, "cluster_primes: no serving ranks: start it with mpirun -n 2 or more\n");
    co_return example::exit_error;
  }

  double serial_s = 0;
  auto check_all = [&numbers, &serial_s] {
    const auto t0 = weft::clock::now();
    std::vector<std::uint64_t> out;
    for (std::uint64_t n : numbers) out.push_back(smallest_factor(n));
    serial_s = seconds_since(t0);
    return out;
  };
  std::vector<std::uint64_t> serial = co_await weft::spawn_blocking(check_all);

  // Few, large, uneven items: one per call (chunk size 1).
  const auto t_pool = weft::clock::now();
  std::vector<std::uint64_t> pooled = co_await pool.map(smallest_factor, numbers, 1);
  const double pool_s = seconds_since(t_pool);
  const auto stats = pool.stats();
  co_await pool.shutdown();

  int wrong = 0;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const std::uint64_t n = numbers[i], f = pooled[i];
    const bool prime = f == n;
    if (f != serial[i] || prime != miller_rabin(n)) {
      fmt::print(stderr, "cluster_primes: wrong answer for {}: factor {} (serial {})\n", n, f, serial[i]);
      ++wrong;
    } else if (prime) {
      fmt::print("{:20} is prime\n", n);
    } else {
      fmt::print("{:20} is not prime: {} x {}\n", n, f, n / f);
    }
  }
  for (int r = 1; r <= ranks; ++r) {
    const auto& info = weft::cluster::ranks()[static_cast<std::size_t>(r)];
    fmt::print("rank {} on {}: {} numbers\n", r, info.host, stats.finished_by_rank[static_cast<std::size_t>(r)]);
  }
  fmt::print("serial:  {:7.3f} s  (rank 0 alone)\n", serial_s);
  fmt::print("cluster: {:7.3f} s  (cluster::pool::map, {} ranks, {} workers; {} worker processes started)\n", pool_s,
             ranks, pool.size(), stats.workers_started);
  fmt::print("speed-up: {:6.2f}x\n", serial_s / pool_s);
  co_return wrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "The primes example over the ranks of an MPI job: rank 0 checks each number itself, then with\n"
      "weft::cluster::pool::map over the other ranks. Run it as: mpirun -n 4 ./cluster_primes",
      "cluster_primes"};
  options opt;
  app.add_option("--workers-per-rank", opt.workers_per_rank,
                 "worker processes on each serving rank, 0 = one per core of its machine")
      ->check(CLI::Range(0u, 256u));
  app.add_option("--count", opt.count, "generated 16-digit primes added to the documentation's six numbers")
      ->check(CLI::Range(0u, 10'000u));
  app.add_option("--seed", opt.seed, "seed of the generated numbers")->check(CLI::Range(0ull, 1'000'000'000ull));
  app.add_flag("--quick", opt.quick, "a few 12-digit primes only: finishes in well under a second");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 a wrong answer (or an error), 2 usage error.");
  // Every rank parses the same command line (before MPI starts: --help and
  // usage errors need no job).
  if (auto rc = example::parse(app, argc, argv)) return *rc;

  // Ranks 1..N-1 serve inside init() and never return.
  weft::cluster::init(argc, argv);
  try {
    std::vector<std::uint64_t> numbers;
    if (opt.quick) {
      numbers = generated_primes(6, 100'000'000'000, 999'999'999'999, opt.seed);
      numbers.push_back(numbers[0] * 3);  // and two that are not prime
      numbers.push_back(999'999'999'989ULL * 2);
    } else {
      numbers = docs_numbers;
      auto more = generated_primes(opt.count, 1'000'000'000'000'000, 9'999'999'999'999'999, opt.seed);
      numbers.insert(numbers.end(), more.begin(), more.end());
    }
    return weft::run(amain(opt, std::move(numbers)));
  } catch (const std::exception& e) {
    fmt::print(stderr, "cluster_primes: error: {}\n", e.what());
    return example::exit_error;
  }
}
