// primes: the is_prime example of Python's concurrent.futures docs, on a
// weft process pool.
//
// Trial division of 14-16 digit numbers is pure CPU work; threads would
// do here too, but the example stands for any code that must not share a
// process (a leaky library, a crash-prone parser, CPython itself). Each
// number is checked once in this process, one after another, and once
// with process_pool::map over worker processes; the program prints both
// times and the speed-up, and checks that both agree with a Miller-Rabin
// test.
//
//   primes [--workers N] [--count N] [--seed S] [--quick]
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "../common/cli.hpp"
#include "../common/primes.hpp"
#include "weft/weft.hpp"

namespace {

using example::docs_numbers;
using example::generated_primes;
using example::isqrt;
using example::miller_rabin;
using example::seconds_since;

// Python's is_prime, returning the smallest factor (n itself for a prime,
// 0 for n < 2) so that the output can show why a number is not prime. It
// runs in the worker processes: a plain function, state in its argument.
std::uint64_t smallest_factor(std::uint64_t n) {
  if (n < 2) return 0;
  if (n % 2 == 0) return 2;
  const std::uint64_t limit = isqrt(n);
  for (std::uint64_t i = 3; i <= limit; i += 2)
    if (n % i == 0) return i;
  return n;
}

struct options {
  unsigned workers = 0;  // pool processes; 0: one per core
  unsigned count = 10;   // generated primes besides the documentation's list
  std::uint64_t seed = 2024;
  bool quick = false;
};

weft::task<int> amain(options opt, std::vector<std::uint64_t> numbers) {
  weft::ipc::process_pool pool{{.workers = opt.workers}};
  const unsigned workers = pool.size();
  fmt::print("{} numbers, {} worker processes\n", numbers.size(), workers);

  // Serial: this process, one number after another (on a blocking-pool
  // thread, as any long computation in a task should be).
  // (The lambda is a named variable: GCC 12 mishandles a capturing
  // lambda written inside a co_await expression.)
  // Timed inside, so that starting the blocking thread does not count.
  double serial_s = 0;
  auto check_all = [&numbers, &serial_s] {
    const auto t0 = weft::clock::now();
    std::vector<std::uint64_t> out;
    for (std::uint64_t n : numbers) out.push_back(smallest_factor(n));
    serial_s = seconds_since(t0);
    return out;
  };
  std::vector<std::uint64_t> serial = co_await weft::spawn_blocking(check_all);

  // The pool: few, large, uneven items, so one per call (chunk size 1)
  // keeps every worker busy until the end; map's default chunking (about
  // four chunks per worker) suits many small items.
  const auto t_pool = weft::clock::now();
  std::vector<std::uint64_t> pooled = co_await pool.map(smallest_factor, numbers, 1);
  const double pool_s = seconds_since(t_pool);
  co_await pool.shutdown();

  int wrong = 0;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const std::uint64_t n = numbers[i], f = pooled[i];
    const bool prime = f == n;
    if (f != serial[i] || prime != miller_rabin(n)) {
      fmt::print(stderr, "primes: wrong answer for {}: factor {} (serial {})\n", n, f, serial[i]);
      ++wrong;
    } else if (prime) {
      fmt::print("{:20} is prime\n", n);
    } else {
      fmt::print("{:20} is not prime: {} x {}\n", n, f, n / f);
    }
  }
  fmt::print("serial:  {:7.3f} s\n", serial_s);
  fmt::print("pool:    {:7.3f} s  (process_pool::map, {} workers)\n", pool_s, workers);
  fmt::print("speed-up: {:6.2f}x  ({} cores)\n", serial_s / pool_s, std::thread::hardware_concurrency());
  co_return wrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "The is_prime example of Python's concurrent.futures docs on a weft process pool: each number is\n"
      "checked in this process, then with process_pool::map; prints both times and the speed-up.",
      "primes"};
  options opt;
  app.add_option("--workers", opt.workers, "worker processes, 0 = one per core")->check(CLI::Range(0u, 256u));
  app.add_option("--count", opt.count, "generated 16-digit primes added to the documentation's six numbers")
      ->check(CLI::Range(0u, 10'000u));
  app.add_option("--seed", opt.seed, "seed of the generated numbers")->check(CLI::Range(0ull, 1'000'000'000ull));
  app.add_flag("--quick", opt.quick, "a few 12-digit primes only: finishes in well under a second");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 a wrong answer (or an error), 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;

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
    fmt::print(stderr, "primes: error: {}\n", e.what());
    return example::exit_error;
  }
}
