// shared_mutex: weft::shared_mutex (weft/runtime/sync/shared_mutex.hpp),
// many readers or one writer.
//
// A table of account balances that always adds up to the same total.
// Writer tasks move money between two accounts in two steps, take from one,
// then (after a suspension, as real code that awaits something) add to the
// other: in between, the table is wrong. Reader tasks audit it, adding up
// every balance, also with suspensions in the middle.
//
// Readers hold the lock shared (`co_await m.lock_shared()`), so audits run
// side by side; writers hold it exclusively (`co_await m.lock()`), so no
// audit ever sees a transfer half done. The lock is fair: a steady stream
// of readers does not starve the writers. The program exits 1 if an audit
// saw a wrong total or the final total is off.
//
//   ./build/examples/shared_mutex [--readers N] [--writers N] [--quick]
#include <fmt/core.h>

#include <atomic>
#include <exception>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

constexpr long initial_balance = 1000;

struct bank {
  weft::shared_mutex lock;
  std::vector<long> balances;
  std::atomic<int> readers_inside{0}, most_readers{0};
  std::atomic<long> audits{0}, bad_audits{0}, transfers{0};
  explicit bank(std::size_t accounts) : balances(accounts, initial_balance) {}
  long expected_total() const { return initial_balance * static_cast<long>(balances.size()); }
};

weft::task<void> auditor(bank& b, int rounds) {
  for (int r = 0; r < rounds; ++r) {
    auto guard = co_await b.lock.lock_shared();  // a weft::shared_lock, released at the end of the iteration
    const int inside = b.readers_inside.fetch_add(1) + 1;
    for (int m = b.most_readers.load(); inside > m && !b.most_readers.compare_exchange_weak(m, inside);) {
    }
    long total = 0;
    for (std::size_t i = 0; i < b.balances.size(); ++i) {
      total += b.balances[i];
      if (i == b.balances.size() / 2) co_await weft::yield_now();  // other readers may come in meanwhile
    }
    b.readers_inside.fetch_sub(1);
    b.audits.fetch_add(1);
    if (total != b.expected_total()) b.bad_audits.fetch_add(1);
  }
}

weft::task<void> teller(bank& b, int id, int rounds) {
  unsigned seed = 12345u + static_cast<unsigned>(id);
  const auto n = static_cast<unsigned>(b.balances.size());
  for (int r = 0; r < rounds; ++r) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t from = (seed >> 8) % n, to = (from + 1 + (seed >> 20) % (n - 1)) % n;
    auto guard = co_await b.lock.lock();  // a weft::unique_lock: nobody else, reader or writer
    const long amount = b.balances[from] / 10;
    b.balances[from] -= amount;
    co_await weft::yield_now();  // half done: an audit now would see money missing
    b.balances[to] += amount;
    b.transfers.fetch_add(1);
  }
}

weft::task<int> amain(int readers, int writers, int rounds) {
  bank b{64};
  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
    for (int i = 0; i < readers; ++i) scope.spawn(auditor(b, rounds));
    for (int i = 0; i < writers; ++i) scope.spawn(teller(b, i, rounds));
    co_return;
  });  // all of them joined

  long total = 0;
  for (long x : b.balances) total += x;
  fmt::print("{} writers: {} transfers; {} readers: {} audits, {} saw a wrong total\n", writers, b.transfers.load(),
             readers, b.audits.load(), b.bad_audits.load());
  fmt::print("up to {} readers held the lock at once; final total {} (expected {})\n", b.most_readers.load(), total,
             b.expected_total());
  co_return b.bad_audits == 0 && total == b.expected_total() ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Auditors read a table of accounts under weft::shared_mutex while tellers change it.", "shared_mutex"};
  int readers = 8, writers = 2, rounds = 20'000;
  bool quick = false;
  app.add_option("--readers", readers, "reader tasks (audits)")->check(CLI::Range(1, 10'000));
  app.add_option("--writers", writers, "writer tasks (transfers)")->check(CLI::Range(1, 10'000));
  app.add_option("--rounds", rounds, "audits or transfers per task")->check(CLI::Range(1, 100'000'000));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 a check failed, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) rounds = 2000;
  try {
    return weft::run(amain(readers, writers, rounds));
  } catch (const std::exception& e) {
    fmt::print(stderr, "shared_mutex: {}\n", e.what());
    return example::exit_error;
  }
}
