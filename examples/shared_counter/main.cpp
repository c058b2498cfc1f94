// shared_counter: the lost-update race between processes, and the three
// ways weft::ipc fixes it.
//
// Worker processes of a weft::ipc::process_pool each add 1 to one
// weft::ipc::shared_value<long>, N times. The counter lives in the shared
// heap, so the parent and every worker see the same long; each worker gets
// a handle to it as an argument.
//
//   1. unsafe_ref(): a plain read, then a plain write. Between the two,
//      other processes write too, and those updates are lost.
//   2. The same read-modify-write under a weft::ipc::mutex: exact.
//   3. fetch_add: one atomic instruction, exact, and faster than the lock
//      (the work around it runs in parallel).
//
//   ./shared_counter [WORKERS] [INCREMENTS]       (default 4 and 1,000,000)
//   ./shared_counter --quick                      (2 and 20,000: the test suite's run)
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using weft::ipc::shared_value;

// These run in the worker processes: plain functions (a worker is forked,
// so a function's address means the same there), whose arguments travel
// serialized (a handle travels as its place in the shared heap).

// The workers start their loops together (each waits, a second at most,
// until all have arrived): a short loop would otherwise often end before
// the next worker began, and the race would not show.
void start_together(const shared_value<int>& arrived, int workers) {
  arrived.fetch_add(1);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (arrived.load() < workers && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
}

// What an update computes between reading the counter and writing it
// back (a hundred nanoseconds or so): the window in which others write.
void a_little_work() {
  volatile int spin = 0;
  for (int k = 0; k < 50; ++k) spin = spin + 1;
}

void add_unprotected(shared_value<long> counter, shared_value<int> arrived, int workers, int increments) {
  start_together(arrived, workers);
  long& c = counter.unsafe_ref();
  for (int i = 0; i < increments; ++i) {
    const long seen = c;  // read...
    a_little_work();      // ...other processes write here...
    c = seen + 1;         // ...and their updates are overwritten
    // Keeps the compiler from merging the iterations into one `c += n`:
    // each really reads and writes memory, as in Python.
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
}

void add_locked(shared_value<long> counter, shared_value<int> arrived, int workers, weft::ipc::mutex m,
                int increments) {
  start_together(arrived, workers);
  for (int i = 0; i < increments; ++i) {
    auto guard = m.blocking_lock();  // a worker process has no runtime: it may block
    const long seen = counter.unsafe_ref();
    a_little_work();  // nobody else is inside
    counter.unsafe_ref() = seen + 1;
  }
}

void add_atomic(shared_value<long> counter, shared_value<int> arrived, int workers, int increments) {
  start_together(arrived, workers);
  for (int i = 0; i < increments; ++i) {
    a_little_work();  // computes the increment, in parallel with the others
    counter.fetch_add(1, std::memory_order_relaxed);
  }
}

// Submits f(counter, arrived, workers, args...) once per worker, waits for
// all, returns the counter and the time it took.
template <class F, class... Args>
weft::task<long> run_all(weft::ipc::process_pool& pool, int workers, shared_value<long> counter, double& seconds, F f,
                         Args... args) {
  counter.store(0);
  shared_value<int> arrived{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<decltype(pool.submit(f, counter, arrived, workers, args...))> handles;
  for (int w = 0; w < workers; ++w) handles.push_back(pool.submit(f, counter, arrived, workers, args...));
  for (auto& h : handles) co_await h;
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  co_return counter.load();
}

weft::task<int> amain(int workers, int increments) {
  const long expected = static_cast<long>(workers) * increments;
  fmt::print("{} worker processes x {} increments = {} expected\n", workers, increments, expected);

  weft::ipc::process_pool pool{{.workers = static_cast<unsigned>(workers)}};
  shared_value<long> counter{0};
  weft::ipc::mutex m;
  double t = 0;

  const long racy = co_await run_all(pool, workers, counter, t, &add_unprotected, increments);
  fmt::print("unsafe_ref():     {:9}  ({} updates lost, {:.3f} s)\n", racy, expected - racy, t);

  const long locked = co_await run_all(pool, workers, counter, t, &add_locked, m, increments);
  fmt::print("ipc::mutex:       {:9}  ({} updates lost, {:.3f} s)\n", locked, expected - locked, t);

  const long atomic = co_await run_all(pool, workers, counter, t, &add_atomic, increments);
  fmt::print("fetch_add:        {:9}  ({} updates lost, {:.3f} s)\n", atomic, expected - atomic, t);

  co_return locked == expected&& atomic == expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Worker processes add 1 to one shared counter: a plain read-modify-write loses updates, an\n"
      "ipc::mutex or fetch_add does not.",
      "shared_counter"};
  int workers = 4, increments = 1'000'000;
  bool quick = false;
  auto* w = app.add_option("WORKERS", workers, "worker processes")->check(CLI::Range(1, 256));
  auto* n = app.add_option("INCREMENTS", increments, "increments per worker")->check(CLI::Range(1, 1'000'000'000));
  app.add_flag("--quick", quick, "2 workers x 20,000 increments: the test suite's run")->excludes(w, n);
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 the mutex or fetch_add lost an update, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) {
    workers = 2;
    increments = 20'000;
  }
  return weft::run(amain(workers, increments));
}
