// What the primes examples share (primes, cluster_primes): the numbers of
// Python's concurrent.futures example, integer square root, a Miller-Rabin
// test to make large primes fast and check the answers, and the generated
// primes that give the pools real work. Each example keeps its own task
// function (smallest_factor), the part it is about.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "weft/runtime/time.hpp"

namespace example {

// The list from the concurrent.futures documentation (the first number
// appears twice there too; the last one is not prime).
inline const std::vector<std::uint64_t> docs_numbers = {
    112272535095293, 112582705942171, 112272535095293, 115280095190773, 115797848077099, 1099726899285419,
};

inline std::uint64_t isqrt(std::uint64_t n) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
  while (r * r > n) --r;  // a double is off by one near 2^53
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

__extension__ using u128 = unsigned __int128;  // (__extension__: not ISO C++)

inline std::uint64_t mul_mod(std::uint64_t a, std::uint64_t b, std::uint64_t m) {
  return static_cast<std::uint64_t>(static_cast<u128>(a) * b % m);
}

inline std::uint64_t pow_mod(std::uint64_t b, std::uint64_t e, std::uint64_t m) {
  std::uint64_t r = 1;
  for (b %= m; e; e >>= 1, b = mul_mod(b, b, m))
    if (e & 1) r = mul_mod(r, b, m);
  return r;
}

inline bool miller_rabin(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t p : {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37})
    if (n % p == 0) return n == p;
  std::uint64_t d = n - 1;
  int s = 0;
  for (; d % 2 == 0; d /= 2) ++s;
  for (std::uint64_t a : {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}) {
    std::uint64_t x = pow_mod(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int r = 1; r < s && composite; ++r) composite = (x = mul_mod(x, x, n)) != n - 1;
    if (composite) return false;
  }
  return true;
}

// `count` primes just above seeded random numbers in [lo, hi): the worst
// case of trial division, so every one is real work.
inline std::vector<std::uint64_t> generated_primes(unsigned count, std::uint64_t lo, std::uint64_t hi,
                                                   std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::uint64_t> pick(lo, hi - 1);
  std::vector<std::uint64_t> out;
  while (out.size() < count) {
    std::uint64_t n = pick(rng) | 1;
    while (!miller_rabin(n)) n += 2;
    out.push_back(n);
  }
  return out;
}

inline double seconds_since(weft::clock::time_point t0) {
  return std::chrono::duration<double>(weft::clock::now() - t0).count();
}

}  // namespace example
