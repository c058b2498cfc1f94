// shared_array: weft::ipc::shared_array<T> (weft/ipc/shared_array.hpp), an
// array in memory shared by processes (multiprocessing.Array).
//
// Worker processes compute the Collatz stopping time of 1..N (how many
// steps n -> n/2 or 3n+1 take to reach 1), each for its own slice:
//   - `steps[i]`: each process writes only its own elements, so plain
//     access needs no synchronization;
//   - `histogram[b]`: every process adds to the same bins, so it uses
//     atomic(b).fetch_add (lock-free, and atomic across processes).
// The parent hands both arrays to the processes as arguments (the handles
// travel; the memory is not copied), waits for them, then reads the
// results in place.
//
// The program checks every element and bin against a serial computation
// and exits 1 on a difference.
//
//   ./build/examples/shared_array [--processes N] [--count N] [--quick]
#include <fmt/core.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

namespace ipc = weft::ipc;
constexpr std::size_t bin_width = 50, bins = 10;  // steps 0-49, 50-99, ..., 450 and more

std::uint32_t collatz_steps(std::uint64_t n) {
  std::uint32_t s = 0;
  for (; n != 1; ++s) n = n % 2 ? 3 * n + 1 : n / 2;
  return s;
}

std::size_t bin_of(std::uint32_t s) { return std::min<std::size_t>(s / bin_width, bins - 1); }

// Runs in a process of its own: elements [lo, hi) of steps, any bins.
void fill(ipc::shared_array<std::uint32_t> steps, ipc::shared_array<std::uint64_t> histogram, std::size_t lo,
          std::size_t hi) {
  std::vector<std::uint64_t> local(bins);  // count privately, then one atomic add per bin
  for (std::size_t i = lo; i < hi; ++i) {
    steps[i] = collatz_steps(i + 1);
    ++local[bin_of(steps[i])];
  }
  for (std::size_t b = 0; b < bins; ++b) histogram.atomic(b).fetch_add(local[b]);
}

weft::task<int> amain(int processes, std::size_t count) {
  ipc::shared_array<std::uint32_t> steps(count);  // zeros
  ipc::shared_array<std::uint64_t> histogram(bins);

  std::vector<ipc::process> procs;
  const std::size_t per = (count + static_cast<std::size_t>(processes) - 1) / static_cast<std::size_t>(processes);
  for (std::size_t lo = 0; lo < count; lo += per)
    procs.push_back(ipc::process::start(fill, steps, histogram, lo, std::min(lo + per, count)));
  int failed = 0;
  for (auto& p : procs) failed += co_await p.join() != 0;  // 0: the function returned

  // The parent reads the same memory the processes wrote.
  std::vector<std::uint64_t> serial(bins);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t s = collatz_steps(i + 1);
    ++serial[bin_of(s)];
    wrong += steps[i] != s;
  }
  const auto longest = std::max_element(steps.begin(), steps.end());
  fmt::print("{} processes, 1..{}: longest {} steps, from {}\n", procs.size(), count, *longest,
             longest - steps.begin() + 1);
  const std::uint64_t top = *std::max_element(histogram.begin(), histogram.end());
  for (std::size_t b = 0; b < bins; ++b) {
    if (histogram[b] == 0) continue;
    const std::size_t lo = b * bin_width;
    const std::string steps_range =
        b + 1 < bins ? fmt::format("{}-{}", lo, lo + bin_width - 1) : fmt::format("{}+", lo);
    fmt::print("{:>7} steps {:>8} |{}\n", steps_range, histogram[b], std::string(histogram[b] * 40 / top, '#'));
    wrong += histogram[b] != serial[b];
  }
  fmt::print("{} of {} elements and bins differ from a serial run; {} processes failed\n", wrong, count + bins, failed);
  co_return wrong == 0 && failed == 0 ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Processes fill a weft::ipc::shared_array and add to a shared histogram.", "shared_array"};
  int processes = 4;
  std::size_t count = 1'000'000;
  bool quick = false;
  app.add_option("--processes", processes, "worker processes")->check(CLI::Range(1, 256));
  app.add_option("--count", count, "numbers, 1..N")->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error or a wrong result, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) processes = 2, count = 100'000;
  try {
    return weft::run(amain(processes, count));
  } catch (const std::exception& e) {
    fmt::print(stderr, "shared_array: {}\n", e.what());
    return example::exit_error;
  }
}
