// counter_lock: the classic lost-update race, and weft::mutex fixing it.
//
// Many tasks on several workers each add 1 to a shared counter, N times.
// An increment is "read the counter, do a little work, write it back"; the
// task yields in the middle, as real code would when it awaits something.
// Without a lock, other tasks write in between and those updates are lost;
// with the read-modify-write under a weft::mutex, none is.
//
//   ./counter_lock [TASKS] [INCREMENTS]       (default 8 and 10,000)
#include <fmt/core.h>

#include <atomic>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

// The counter is atomic only so that the unprotected version is a race in
// the program's logic (lost updates) and not undefined behaviour; its load
// and store are separate steps, exactly like `counter += 1` in Python.
std::atomic<long> counter{0};

weft::task<void> add_unprotected(int increments) {
  for (int i = 0; i < increments; ++i) {
    long seen = counter.load(std::memory_order_relaxed);
    co_await weft::yield_now();                          // someone else runs here...
    counter.store(seen + 1, std::memory_order_relaxed);  // ...and their update is overwritten
  }
}

weft::task<void> add_locked(weft::mutex& m, int increments) {
  for (int i = 0; i < increments; ++i) {
    auto guard = co_await m.lock();  // released at the end of the iteration
    long seen = counter.load(std::memory_order_relaxed);
    co_await weft::yield_now();  // others run, but none can touch the counter
    counter.store(seen + 1, std::memory_order_relaxed);
  }
}

template <class MakeTask>
weft::task<long> run_all(int tasks, MakeTask make) {
  counter = 0;
  std::vector<weft::join_handle<void>> handles;
  for (int t = 0; t < tasks; ++t) handles.push_back(weft::spawn(make()));
  for (auto& h : handles) co_await h;
  co_return counter.load();
}

weft::task<int> amain(int tasks, int increments) {
  const long expected = static_cast<long>(tasks) * increments;
  fmt::print("{} tasks x {} increments = {} expected\n", tasks, increments, expected);

  const long racy = co_await run_all(tasks, [&] { return add_unprotected(increments); });
  fmt::print("without a lock: {:8}  ({} updates lost)\n", racy, expected - racy);

  weft::mutex m;
  const long locked = co_await run_all(tasks, [&] { return add_locked(m, increments); });
  fmt::print("with weft::mutex: {:6}  ({} updates lost)\n", locked, expected - locked);
  co_return locked == expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Tasks add 1 to a shared counter, each increment yielding in the middle: without a lock updates\n"
      "are lost, with weft::mutex none is.",
      "counter_lock"};
  int tasks = 8, increments = 10'000;
  app.add_option("TASKS", tasks, "tasks adding to the counter")->check(CLI::Range(1, 100'000));
  app.add_option("INCREMENTS", increments, "increments per task")->check(CLI::Range(1, 100'000'000));
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 the locked count came out wrong, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  return weft::run(amain(tasks, increments));
}
