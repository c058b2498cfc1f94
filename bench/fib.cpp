// fib: fib(n) (default 32) with no serial cutoff: every call with n >= 2
// spawns fib(n-1) as a task, computes fib(n-2) inline in the current task
// (a nested co_await, not a spawn), then awaits the child: fib(n+1)-1 spawns
// (3,524,577 for n = 32). Also times serial recursive fib(n) in the same
// process: serial_ms, ratio = parallel / serial.
//
//   bench_fib [n]
//   -> RESULT weft.fib n=32 spawns=3524577 time_ms=... serial_ms=... ratio=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;

weft::task<std::uint64_t> fib(int n) {
  if (n < 2) co_return static_cast<std::uint64_t>(n);
  auto child = weft::spawn(fib(n - 1));
  const std::uint64_t y = co_await fib(n - 2);
  const std::uint64_t x = co_await child;
  co_return x + y;
}

__attribute__((noinline)) std::uint64_t fib_serial(int n) {
  return n < 2 ? static_cast<std::uint64_t>(n) : fib_serial(n - 1) + fib_serial(n - 2);
}

std::uint64_t fib_number(int n) {
  std::uint64_t a = 0, b = 1;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t t = a + b;
    a = b;
    b = t;
  }
  return a;
}

struct timed {
  std::uint64_t value;
  double seconds;
};

weft::task<timed> fib_parallel(int n) {
  const auto t0 = bench_clock::now();
  const std::uint64_t v = co_await fib(n);
  co_return timed{v, std::chrono::duration<double>(bench_clock::now() - t0).count()};
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  const int n = arg > 0 ? static_cast<int>(arg) : 32;
  weft::runtime rt{{.workers = 2}};

  volatile int vn = n;
  const auto ts = bench_clock::now();
  const std::uint64_t s = fib_serial(vn);
  const double serial = std::chrono::duration<double>(bench_clock::now() - ts).count();

  const timed p = rt.block_on(fib_parallel(n));
  if (p.value != s || s != fib_number(n)) {
    std::fprintf(stderr, "fib: mismatch parallel=%llu serial=%llu\n", static_cast<unsigned long long>(p.value),
                 static_cast<unsigned long long>(s));
    std::abort();
  }
  std::printf("RESULT weft.fib n=%d spawns=%llu time_ms=%.3f serial_ms=%.3f ratio=%.1f\n", n,
              static_cast<unsigned long long>(fib_number(n + 1) - 1), p.seconds * 1e3, serial * 1e3,
              p.seconds / serial);
  return 0;
}
