// producer_consumer: producers and consumers over a weft::channel.
//
// Producers send numbers to check; consumers test them for primality.
// Round 1 ends the normal way: when every producer is done, the channel is
// closed, and each consumer's `while (auto n = co_await jobs.recv())` loop
// ends once the channel is drained — no poison pill per consumer.
// Round 2 stops early: a weft::event is set after a time budget; producers
// and consumers check it, and closing the channel wakes anyone still
// waiting in send() or recv().
//
//   ./producer_consumer [NUMBERS_PER_PRODUCER]     (default 200,000)
#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

constexpr int producers = 3, consumers = 4;

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

weft::task<std::uint64_t> produce(weft::channel<std::uint64_t>& jobs, const weft::event& stop, std::uint64_t first,
                                  std::uint64_t count) {
  std::uint64_t sent = 0;
  try {
    for (std::uint64_t n = first; n < first + count && !stop.is_set(); ++n) {
      co_await jobs.send(n);
      ++sent;
    }
  } catch (const weft::channel_closed&) {
    // Closed under us (early stop): what we hold is simply not sent.
  }
  co_return sent;
}

struct tally {
  std::uint64_t checked = 0, primes = 0;
};

weft::task<tally> consume(weft::channel<std::uint64_t>& jobs, const weft::event& stop) {
  tally t;
  while (!stop.is_set()) {
    auto n = co_await jobs.recv();
    if (!n) break;  // closed and drained
    ++t.checked;
    if (is_prime(*n)) ++t.primes;
  }
  co_return t;
}

weft::task<void> round(const char* name, std::uint64_t per_producer, weft::event& stop,
                       std::chrono::milliseconds budget) {
  weft::channel<std::uint64_t> jobs{64};
  std::vector<weft::join_handle<std::uint64_t>> ps;
  std::vector<weft::join_handle<tally>> cs;
  const auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < consumers; ++c) cs.push_back(weft::spawn(consume(jobs, stop)));
  for (int p = 0; p < producers; ++p) ps.push_back(weft::spawn(produce(jobs, stop, p * per_producer, per_producer)));

  if (budget.count() > 0) {
    // Early stop: after the budget, tell everyone and wake whoever waits.
    co_await weft::sleep_for(budget);
    stop.set();
    jobs.close();
  }
  std::uint64_t sent = 0;
  for (auto& p : ps) sent += co_await p;
  jobs.close();  // normal end: no more jobs (idempotent after an early stop)
  tally total;
  for (auto& c : cs) {
    tally t = co_await c;
    total.checked += t.checked;
    total.primes += t.primes;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}: sent {}, checked {} ({} primes), {} left in the channel, {:.1f} ms\n", name, sent, total.checked,
             total.primes, jobs.size(), ms);
}

weft::task<void> amain(std::uint64_t per_producer) {
  weft::event never;  // round 1 runs to the end
  co_await round("round 1 (close when done)", per_producer, never, 0ms);
  weft::event stop;
  co_await round("round 2 (stopped after 20 ms)", per_producer * 50, stop, 20ms);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Producers and consumers over a weft::channel: round 1 ends by closing the channel, round 2 is\n"
      "stopped early by a weft::event.",
      "producer_consumer"};
  std::uint64_t per_producer = 200'000;
  app.add_option("NUMBERS_PER_PRODUCER", per_producer, "numbers each producer sends in round 1")
      ->check(CLI::Range(1ull, 1'000'000'000'000ull));
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  weft::run(amain(per_producer));
  return example::exit_ok;
}
