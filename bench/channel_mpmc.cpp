// channel_mpmc: 4 producer and 4 consumer tasks over one channel<uint64_t>
// of capacity 1,024, 4,000,000 messages in all, on 2 workers. Every value
// is summed by the consumers and checked. Metric: messages/s.
//
//   bench_channel_mpmc [messages]     (default 4,000,000)
//   -> RESULT weft.channel_mpmc producers=4 consumers=4 messages=... time_ms=... msgs_per_s=...
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;
using u64_channel = weft::channel<std::uint64_t>;
constexpr std::uint64_t producers = 4, consumers = 4, capacity = 1024;

weft::task<void> produce(u64_channel& ch, std::uint64_t from, std::uint64_t n) {
  for (std::uint64_t i = from; i < from + n; ++i) co_await ch.send(i);
}

weft::task<std::uint64_t> consume(u64_channel& ch) {
  std::uint64_t sum = 0;
  while (auto v = co_await ch.recv()) sum += *v;
  co_return sum;
}

weft::task<std::string> mpmc(std::uint64_t messages) {
  u64_channel ch{capacity};
  const std::uint64_t per = messages / producers;
  messages = per * producers;
  std::vector<weft::join_handle<void>> ps;
  std::vector<weft::join_handle<std::uint64_t>> cs;
  const auto t0 = bench_clock::now();
  for (std::uint64_t c = 0; c < consumers; ++c) cs.push_back(weft::spawn(consume(ch)));
  for (std::uint64_t p = 0; p < producers; ++p) ps.push_back(weft::spawn(produce(ch, p * per, per)));
  for (auto& p : ps) co_await p;
  ch.close();
  std::uint64_t sum = 0;
  for (auto& c : cs) sum += co_await c;
  const double dt = std::chrono::duration<double>(bench_clock::now() - t0).count();
  if (sum != messages * (messages - 1) / 2) {
    std::fprintf(stderr, "channel_mpmc: bad sum %llu\n", static_cast<unsigned long long>(sum));
    std::abort();
  }
  char line[256];
  std::snprintf(line, sizeof line, "producers=%llu consumers=%llu messages=%llu time_ms=%.3f msgs_per_s=%.0f",
                static_cast<unsigned long long>(producers), static_cast<unsigned long long>(consumers),
                static_cast<unsigned long long>(messages), dt * 1e3, static_cast<double>(messages) / dt);
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  const std::uint64_t messages = arg > 0 ? static_cast<std::uint64_t>(arg) : 4'000'000;
  weft::runtime rt{{.workers = 2}};
  const std::string line = rt.block_on(mpmc(messages));
  std::printf("RESULT weft.channel_mpmc %s\n", line.c_str());
  return 0;
}
