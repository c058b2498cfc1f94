// ipc_semaphore: weft::ipc::semaphore (weft/ipc/semaphore.hpp), a counting
// semaphore shared by processes (multiprocessing.Semaphore): at most
// LIMIT processes do something at once (hold a licence, use a device, talk
// to a server that allows few connections).
//
// PROCESSES worker processes each take a permit (blocking_acquire: a
// process has no runtime, it may block), work for a while, and give it
// back; the parent task takes a turn too, with `co_await slots.acquire()`,
// which waits without blocking a worker thread. Everyone counts itself in
// and out of a shared counter, so the program can check that no more than
// LIMIT ever held a permit together and that none was lost at the end;
// it exits 1 otherwise.
//
//   ./build/examples/ipc_semaphore [--processes N] [--limit N] [--quick]
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

namespace ipc = weft::ipc;
using namespace std::chrono_literals;

// Gives the permit back however the scope is left (ipc::semaphore has no
// guard of its own; a process that dies holding one takes it with it).
struct permit {
  const ipc::semaphore& slots;
  ~permit() { slots.release(); }
};

// Counts one holder in while alive; records the most at once.
struct holder {
  ipc::shared_value<int> inside;
  holder(ipc::shared_value<int> in, ipc::shared_value<int> most) : inside(in) {
    const int now = inside.fetch_add(1) + 1;
    for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
    }
  }
  ~holder() { inside.fetch_sub(1); }
};

// Runs in a process of its own.
void worker(ipc::semaphore slots, ipc::shared_value<int> inside, ipc::shared_value<int> most, int ms) {
  slots.blocking_acquire();
  permit p{slots};
  holder h{inside, most};
  fmt::print("process {} has a permit ({} held)\n", ::getpid(), inside.load());
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // the work that needs one
}

weft::task<int> amain(int processes, int limit, int ms) {
  ipc::semaphore slots{static_cast<std::uint64_t>(limit)};
  ipc::shared_value<int> inside{0}, most{0};
  const auto t0 = std::chrono::steady_clock::now();

  std::vector<ipc::process> procs;
  for (int i = 0; i < processes; ++i) procs.push_back(ipc::process::start(worker, slots, inside, most, ms));
  {
    co_await slots.acquire();  // the parent takes a turn too
    permit p{slots};
    holder h{inside, most};
    fmt::print("the parent has a permit ({} held)\n", inside.load());
    co_await weft::sleep_for(std::chrono::milliseconds(ms));
  }
  int failed = 0;
  for (auto& p : procs) failed += co_await p.join() != 0;

  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{} turns of {} ms, at most {} at once: {:.2f} s; {} held together at most, {} of {} permits free\n",
             processes + 1, ms, limit, s, most.load(), slots.value(), limit);
  const bool ok = failed == 0 && most.load() <= limit && slots.value() == static_cast<std::uint32_t>(limit);
  co_return ok ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Worker processes take turns, at most LIMIT at once, through a weft::ipc::semaphore.", "ipc_semaphore"};
  int processes = 8, limit = 3, ms = 100;
  bool quick = false;
  app.add_option("--processes", processes, "worker processes")->check(CLI::Range(1, 256));
  app.add_option("--limit", limit, "permits: how many may work at once")->check(CLI::Range(1, 256));
  app.add_option("--work-ms", ms, "milliseconds each holds its permit")->check(CLI::Range(0, 60'000));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error or a check failed, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) processes = 4, limit = 2, ms = 50;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // whole lines, also into a pipe: the processes' and ours in order
  try {
    return weft::run(amain(processes, limit, ms));
  } catch (const std::exception& e) {
    fmt::print(stderr, "ipc_semaphore: {}\n", e.what());
    return example::exit_error;
  }
}
