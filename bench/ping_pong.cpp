// ping_pong: two spawned tasks and two channel<uint64_t> of capacity 1. One
// round trip = A sends i on `ping`, B receives it and sends i+1 on `pong`, A
// receives. Metric: round trips/s (the same workload as the peers' Tokio
// mpsc::channel(1), Go chan and Asio concurrent_channel versions).
//
//   bench_ping_pong [round_trips]      (default 1,000,000)
//   -> RESULT weft.ping_pong round_trips=... time_ms=... rt_per_s=... ns_per_rt=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;
using u64_channel = weft::channel<std::uint64_t>;

weft::task<void> ponger(u64_channel& ping, u64_channel& pong) {
  while (auto v = co_await ping.recv()) co_await pong.send(*v + 1);
  pong.close();
}

weft::task<std::uint64_t> pinger(u64_channel& ping, u64_channel& pong, std::uint64_t rounds) {
  std::uint64_t acc = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    co_await ping.send(i);
    acc += *co_await pong.recv();
  }
  ping.close();
  co_return acc;
}

weft::task<std::string> ping_pong(std::uint64_t rounds) {
  u64_channel ping{1}, pong{1};
  const auto t0 = bench_clock::now();
  auto b = weft::spawn(ponger(ping, pong));
  auto a = weft::spawn(pinger(ping, pong, rounds));
  const std::uint64_t acc = co_await a;
  co_await b;
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  if (acc != rounds * (rounds - 1) / 2 + rounds) {
    std::fprintf(stderr, "ping_pong: bad checksum %llu\n", static_cast<unsigned long long>(acc));
    std::abort();
  }
  char line[256];
  std::snprintf(line, sizeof line, "round_trips=%llu time_ms=%.3f rt_per_s=%.0f ns_per_rt=%.1f",
                static_cast<unsigned long long>(rounds), dt * 1e3, static_cast<double>(rounds) / dt,
                dt * 1e9 / static_cast<double>(rounds));
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  const std::uint64_t rounds = arg > 0 ? static_cast<std::uint64_t>(arg) : 1'000'000;
  weft::runtime rt{{.workers = 2}};
  const std::string line = rt.block_on(ping_pong(rounds));
  std::printf("RESULT weft.ping_pong %s\n", line.c_str());
  return 0;
}
