// process_queue: weft::ipc::process_queue<T> (weft/ipc/process_queue.hpp),
// producer/consumer between processes (multiprocessing.Queue).
//
// The parent task produces work: numbers to factorize, pushed into a
// bounded queue (co_await jobs.push waits while it is full). Consumer
// processes pop them (blocking_pop: a process has no runtime, it may
// block), factorize them by trial division and push {number, factors} into
// a second queue, which the parent drains at the same time. The parent closes
// the job queue when all are pushed; each consumer's blocking_pop then
// returns nullopt once the queue is drained, and it returns how many it did.
//
// The program checks that every number came back once, as the product of
// its factors, and exits 1 otherwise. Should the parent fail midway, it still
// closes both queues, so no consumer is left blocked forever.
//
//   ./build/examples/process_queue [--consumers N] [--count N] [--quick]
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

namespace ipc = weft::ipc;
using factors = std::vector<std::uint64_t>;
using result = std::pair<std::uint64_t, factors>;  // any serializable type travels

factors factorize(std::uint64_t n) {
  factors f;
  for (std::uint64_t d = 2; d * d <= n; d += d == 2 ? 1 : 2)
    for (; n % d == 0; n /= d) f.push_back(d);
  if (n > 1) f.push_back(n);
  return f;
}

// Runs in a process of its own: the queue handles arrived as arguments.
long consumer(ipc::process_queue<std::uint64_t> jobs, ipc::process_queue<result> results) {
  long done = 0;
  while (std::optional<std::uint64_t> n = jobs.blocking_pop()) {  // nullopt: closed and drained
    results.blocking_push({*n, factorize(*n)});
    ++done;
  }
  return done;
}

// Closes the queue when the parent leaves its scope, however it leaves.
template <class T>
struct close_on_exit {
  const ipc::process_queue<T>& q;
  ~close_on_exit() { q.close(); }
};

weft::task<int> amain(int consumers, int count, std::uint64_t first) {
  ipc::process_queue<std::uint64_t> jobs{64};
  ipc::process_queue<result> results{64};
  close_on_exit<std::uint64_t> close_jobs{jobs};
  close_on_exit<result> close_results{results};

  std::vector<ipc::basic_process<long>> procs;
  for (int i = 0; i < consumers; ++i) procs.push_back(ipc::process::start(consumer, jobs, results));

  auto produce = [&]() -> weft::task<> {
    for (int i = 0; i < count; ++i) co_await jobs.push(first + static_cast<std::uint64_t>(i));
    jobs.close();  // no more jobs: consumers stop once it is drained
  };
  std::vector<factors> found(static_cast<std::size_t>(count));
  long wrong = 0;
  auto collect = [&]() -> weft::task<> {
    for (int i = 0; i < count; ++i) {
      std::optional<result> r = co_await results.pop();
      if (!r) throw std::runtime_error("the result queue was closed early");
      std::uint64_t product = 1;
      for (std::uint64_t f : r->second) product *= f;
      auto& slot = found[static_cast<std::size_t>(r->first - first)];
      if (product != r->first || !slot.empty()) ++wrong;  // a bad product, or a number seen twice
      slot = std::move(r->second);
    }
  };
  co_await weft::when_all(produce(), collect());

  long total = 0;
  for (auto& p : procs) {
    const long n = co_await p.result();  // its return value (remote_error if it threw)
    fmt::print("consumer process {}: {} numbers\n", p.pid(), n);
    total += n;
  }
  long primes = 0;
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (found[i].empty()) ++wrong;  // never came back
    if (found[i].size() == 1) ++primes;
    if (i < 3) fmt::print("{} = {}\n", first + i, fmt::join(found[i], " x "));
  }
  fmt::print("{} numbers from {}: {} primes, {} results wrong or missing; consumers did {} in all\n", count, first,
             primes, wrong, total);
  co_return wrong == 0 && total == count ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A parent task feeds numbers to consumer processes through a weft::ipc::process_queue.",
               "process_queue"};
  int consumers = 4, count = 20'000;
  std::uint64_t first = 1'000'000'000'001;
  bool quick = false;
  app.add_option("--consumers", consumers, "consumer processes")->check(CLI::Range(1, 256));
  app.add_option("--count", count, "numbers to test")->check(CLI::Range(1, 10'000'000));
  app.add_option("--first", first, "the first number");
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error or a wrong result, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) consumers = 2, count = 2000, first = 1'000'000'001;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // whole lines, also into a pipe
  try {
    return weft::run(amain(consumers, count, first));
  } catch (const std::exception& e) {
    fmt::print(stderr, "process_queue: {}\n", e.what());
    return example::exit_error;
  }
}
