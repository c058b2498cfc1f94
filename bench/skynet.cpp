// skynet: a tree with L (default 1,000,000) leaves and fan-out 10; every node
// except the root is a spawned task (1,111,110 spawns, leaves included). A
// leaf returns its number; an inner node spawns its 10 children, awaits all
// their handles and returns the sum (checked: L*(L-1)/2). Metric: total ms.
//
//   bench_skynet [leaves]
//   -> RESULT weft.skynet leaves=1000000 spawned=1111110 time_ms=... tasks_per_s=...
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;
constexpr std::uint64_t fan_out = 10;

weft::task<std::uint64_t> skynet(std::uint64_t num, std::uint64_t size) {
  if (size == 1) co_return num;
  const std::uint64_t sub = size / fan_out;
  std::array<weft::join_handle<std::uint64_t>, fan_out> children;
  for (std::uint64_t i = 0; i < fan_out; ++i) children[i] = weft::spawn(skynet(num + i * sub, sub));
  std::uint64_t sum = 0;
  for (auto& h : children) sum += co_await h;
  co_return sum;
}

std::uint64_t spawned_nodes(std::uint64_t leaves) {
  std::uint64_t total = 0;  // every node but the root: leaves + leaves/10 + ... + 10
  for (std::uint64_t level = leaves; level > 1; level /= fan_out) total += level;
  return total;
}

weft::task<std::string> skynet_bench(std::uint64_t leaves) {
  const auto t0 = bench_clock::now();
  const std::uint64_t sum = co_await skynet(0, leaves);  // the root runs in this task
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  if (sum != leaves * (leaves - 1) / 2) {
    std::fprintf(stderr, "skynet: bad sum %llu\n", static_cast<unsigned long long>(sum));
    std::abort();
  }
  const std::uint64_t spawned = spawned_nodes(leaves);
  char line[256];
  std::snprintf(line, sizeof line, "leaves=%llu spawned=%llu time_ms=%.3f tasks_per_s=%.0f",
                static_cast<unsigned long long>(leaves), static_cast<unsigned long long>(spawned), dt * 1e3,
                static_cast<double>(spawned) / dt);
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  const std::uint64_t leaves = arg > 0 ? static_cast<std::uint64_t>(arg) : 1000000;
  std::uint64_t l = leaves;
  while (l % fan_out == 0) l /= fan_out;
  if (l != 1) {
    std::fprintf(stderr, "skynet: leaves must be a power of %llu\n", static_cast<unsigned long long>(fan_out));
    return 2;
  }
  weft::runtime rt{{.workers = 2}};
  const std::string line = rt.block_on(skynet_bench(leaves));
  std::printf("RESULT weft.skynet %s\n", line.c_str());
  return 0;
}
