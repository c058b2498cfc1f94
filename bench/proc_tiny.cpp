// proc_tiny: the cost of a process-pool task when the task itself is
// nothing: N = 1,000,000 calls of x*x on a pool of 2 worker processes.
// The peer is Python's ProcessPoolExecutor (py.ppe_tasks: 20,000 tasks
// submitted at once, then every result collected).
//
// Calls are made by 128 submitter tasks, each awaiting pool.call() in a
// loop over its share of 0..N-1, so up to 128 calls are in flight and the
// workers' rings stay full. With the argument `map`, one pool.map() over
// the N items with its default chunking instead (Python's: about four
// chunks per worker), the peer being multiprocessing.Pool.map
// (py.pool_map_def). Pool start-up (forking the workers) and a warm-up
// call per worker are outside the timed region. The sum of the results is
// checked; a wrong one aborts.
//
//   bench_proc_tiny [N]        -> RESULT weft.proc_tiny tasks=... seconds=... tasks_per_s=...
//   bench_proc_tiny map [N]    -> RESULT weft.proc_tiny_map items=... seconds=... items_per_s=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;
constexpr unsigned submitters = 128;

std::uint64_t square(std::uint64_t x) { return x * x; }

// 0^2 + 1^2 + ... + (n-1)^2, wrapping at 2^64 as the measured sum does.
std::uint64_t expected_sum(std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t x = 0; x < n; ++x) sum += x * x;
  return sum;
}

void check(const char* what, std::uint64_t sum, std::uint64_t n) {
  if (sum != expected_sum(n)) {
    std::fprintf(stderr, "%s: wrong sum %llu, expected %llu\n", what, static_cast<unsigned long long>(sum),
                 static_cast<unsigned long long>(expected_sum(n)));
    std::abort();
  }
}

weft::task<void> warm_up(weft::ipc::process_pool& pool) {
  std::vector<weft::join_handle<std::uint64_t>> handles;
  for (std::uint64_t i = 0; i < 16; ++i) handles.push_back(pool.submit(square, i));
  std::uint64_t sum = 0;
  for (auto& h : handles) sum += co_await h;
  check("proc_tiny warm-up", sum, 16);
}

weft::task<std::uint64_t> submitter(weft::ipc::process_pool& pool, std::uint64_t first, std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t x = first; x < n; x += submitters) {
    const std::uint64_t y = co_await pool.call(square, x);
    sum += y;
  }
  co_return sum;
}

weft::task<std::string> calls(std::uint64_t n) {
  weft::ipc::process_pool pool{{.workers = 2}};
  co_await warm_up(pool);
  const auto t0 = bench_clock::now();
  std::vector<weft::join_handle<std::uint64_t>> handles;
  for (unsigned s = 0; s < submitters; ++s) handles.push_back(weft::spawn(submitter(pool, s, n)));
  std::uint64_t sum = 0;
  for (auto& h : handles) sum += co_await h;
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  check("proc_tiny", sum, n);
  co_await pool.shutdown();
  char line[256];
  std::snprintf(line, sizeof line, "tasks=%llu seconds=%.4f tasks_per_s=%.0f", static_cast<unsigned long long>(n), dt,
                static_cast<double>(n) / dt);
  co_return std::string(line);
}

weft::task<std::string> map(std::uint64_t n) {
  weft::ipc::process_pool pool{{.workers = 2}};
  co_await warm_up(pool);
  std::vector<std::uint64_t> items(n);
  for (std::uint64_t i = 0; i < n; ++i) items[i] = i;
  const auto t0 = bench_clock::now();
  const std::vector<std::uint64_t> out = co_await pool.map(square, items);
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  std::uint64_t sum = 0;
  for (std::uint64_t y : out) sum += y;
  if (out.size() != n) {
    std::fprintf(stderr, "proc_tiny map: %zu results for %llu items\n", out.size(), static_cast<unsigned long long>(n));
    std::abort();
  }
  check("proc_tiny map", sum, n);
  co_await pool.shutdown();
  char line[256];
  std::snprintf(line, sizeof line, "items=%llu chunksize=%zu seconds=%.4f items_per_s=%.0f",
                static_cast<unsigned long long>(n), weft::ipc::detail::default_chunk_size(n, 2), dt,
                static_cast<double>(n) / dt);
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const bool use_map = argc > 1 && std::strcmp(argv[1], "map") == 0;
  const int size_arg = use_map ? 2 : 1;
  const long long arg = argc > size_arg ? std::atoll(argv[size_arg]) : 0;
  if (argc > size_arg + 1 || (argc > size_arg && arg <= 0)) {
    std::fprintf(stderr, "usage: bench_proc_tiny [map] [N > 0]\n");
    return 2;
  }
  const std::uint64_t n = arg > 0 ? static_cast<std::uint64_t>(arg) : 1'000'000;
  weft::runtime rt{{.workers = 2}};
  if (use_map) std::printf("RESULT weft.proc_tiny_map %s\n", rt.block_on(map(n)).c_str());
  else std::printf("RESULT weft.proc_tiny %s\n", rt.block_on(calls(n)).c_str());
  return 0;
}
