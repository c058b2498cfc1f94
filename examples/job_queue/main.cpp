// job_queue: long-running jobs of random length on a process pool with a
// per-task timeout, where some jobs misbehave: one segfaults, one aborts,
// one calls exit(3), one throws, one hangs. Each failure stays with its
// job; the pool replaces the dead workers and goes on with the others.
//
// Jobs are submitted at once (process_pool::submit gives a join_handle
// each) and reported in the order they finish (weft::as_completed). The
// plan (lengths and which job does what) comes from --seed, so a run can
// be repeated; the program exits 1 if any job ended otherwise than
// planned.
//
//   job_queue [--jobs N] [--workers N] [--timeout 1.5s] [--seed S] [--quick]
#include <signal.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

enum class kind : std::uint32_t { ok, raise, segfault, abort, exit3, hang };

const char* kind_name(kind k) {
  switch (k) {
    case kind::ok: return "work";
    case kind::raise: return "throw";
    case kind::segfault: return "segfault";
    case kind::abort: return "abort()";
    case kind::exit3: return "exit(3)";
    case kind::hang: return "hang";
  }
  return "?";
}

// What a job is told to do. Trivially copyable: sent as plain bytes.
struct job {
  std::uint32_t id;
  kind what;
  std::uint32_t ms;  // how long it works before it finishes (or misbehaves)
};

// The job, in a worker process. The work is simulated by sleeping, so the
// demo's timing does not depend on how busy the machine is.
std::uint64_t run_job(job j) {
  std::this_thread::sleep_for(std::chrono::milliseconds(j.ms));
  switch (j.what) {
    case kind::ok: break;
    case kind::raise: throw std::runtime_error("job " + std::to_string(j.id) + ": bad input record");
    case kind::segfault: {
      volatile int* p = nullptr;  // volatile: the write happens, and faults
      *p = 1;
      break;
    }
    case kind::abort: std::abort();
    case kind::exit3: std::exit(3);
    case kind::hang:
      for (;;) ::pause();  // until the pool's timeout kills the worker
  }
  return std::uint64_t{j.id} * 1'000'003;  // the job's "result"
}

struct options {
  unsigned jobs = 16;
  unsigned workers = 4;
  std::chrono::milliseconds timeout{1500};
  std::uint64_t seed = 7;
  bool quick = false;
};

// The plan: one job of each misbehaving kind, the rest ordinary work,
// shuffled; lengths between a tenth and a third of the timeout, leaving
// room for a loaded machine.
std::vector<job> plan(const options& opt) {
  std::mt19937_64 rng(opt.seed);
  const auto ms = static_cast<std::uint32_t>(opt.timeout.count());
  std::uniform_int_distribution<std::uint32_t> length(ms / 10, ms / 3);
  std::vector<kind> kinds = {kind::raise, kind::segfault, kind::abort, kind::exit3, kind::hang};
  kinds.resize(std::max<std::size_t>(opt.jobs, kinds.size()), kind::ok);
  std::shuffle(kinds.begin(), kinds.end(), rng);
  std::vector<job> jobs;
  for (std::uint32_t i = 0; i < kinds.size(); ++i) jobs.push_back({i, kinds[i], length(rng)});
  return jobs;
}

std::string describe_signal(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + " (SIG" + (abbrev ? abbrev : "?") + ", " + ::strsignal(sig) + ")";
}

weft::task<int> amain(options opt) {
  const std::vector<job> jobs = plan(opt);
  weft::ipc::process_pool pool{{.workers = opt.workers, .task_timeout = opt.timeout}};
  fmt::print("{} jobs on {} worker processes, timeout {} ms per job (seed {})\n\n", jobs.size(), opt.workers,
             opt.timeout.count(), opt.seed);

  const auto t0 = weft::clock::now();
  std::vector<weft::join_handle<std::uint64_t>> handles;
  for (const job& j : jobs) handles.push_back(pool.submit(run_job, j));

  unsigned unexpected = 0;
  auto stream = weft::as_completed(std::move(handles));
  while (auto done = co_await stream.next()) {
    const job& j = jobs[done->index];
    std::string outcome;
    bool as_planned = false;
    try {
      const std::uint64_t result = co_await done->handle;
      outcome = "done, result " + std::to_string(result);
      as_planned = j.what == kind::ok && result == std::uint64_t{j.id} * 1'000'003;
    } catch (const weft::ipc::remote_error& e) {
      outcome = "raised " + e.type_name() + ": " + e.message();
      as_planned = j.what == kind::raise;
    } catch (const weft::ipc::worker_crashed& e) {
      outcome =
          "crashed: worker " + std::to_string(e.pid()) + " " +
          (e.signal() ? "killed by " + describe_signal(e.signal()) : "exited with " + std::to_string(e.exit_code()));
      // (Under AddressSanitizer a segfault is reported and exits 1.)
      as_planned = j.what == kind::segfault || j.what == kind::abort || (j.what == kind::exit3 && e.exit_code() == 3);
    } catch (const weft::timeout_error& e) {
      outcome = std::string("timed out: ") + e.what();
      as_planned = j.what == kind::hang;
    }
    const double at = std::chrono::duration<double>(weft::clock::now() - t0).count();
    fmt::print("{:6.2f} s  job {:2}  {:<9} {:4} ms  {}{}\n", at, j.id, kind_name(j.what), j.ms, outcome,
               as_planned ? "" : "   <- NOT AS PLANNED");
    std::fflush(stdout);
    if (!as_planned) ++unexpected;
  }

  // The pool replaces a dead worker in the background: wait (briefly) until
  // it has all of them again, to show it recovered.
  const std::uint64_t failures = 4;  // segfault, abort, exit(3), hang
  weft::ipc::pool_stats s = pool.stats();
  for (int i = 0; i < 500 && (s.workers < opt.workers || s.workers_restarted < failures); ++i) {
    co_await weft::sleep_for(std::chrono::milliseconds(10));
    s = pool.stats();
  }
  co_await pool.shutdown();

  fmt::print("\npool stats: {} completed, {} raised, {} crashed, {} timed out\n", s.completed, s.failed, s.crashed,
             s.timed_out);
  fmt::print("            {} workers started, {} of them replacements; {} of {} alive at the end\n", s.workers_started,
             s.workers_restarted, s.workers, opt.workers);
  fmt::print("total {:.2f} s; {} job(s) not as planned\n",
             std::chrono::duration<double>(weft::clock::now() - t0).count(), unexpected);
  co_return unexpected == 0 && s.workers == opt.workers ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  CLI::App app{
      "Jobs on a process pool with a per-job timeout; five of them misbehave (segfault, abort, exit(3),\n"
      "throw, hang) and the pool goes on. Exits 1 if a job ended otherwise than planned.",
      "job_queue"};
  options opt;
  auto* jobs = app.add_option("--jobs", opt.jobs, "jobs, at least 5 (one of each failure); 8 with --quick")
                   ->check(CLI::Range(5u, 10'000u));
  app.add_option("--workers", opt.workers, "worker processes")->check(CLI::Range(1u, 256u));
  auto* timeout = example::add_duration(app, "--timeout", opt.timeout,
                                        "per-job timeout; jobs work a tenth to a third of it (600ms with --quick)")
                      ->check(example::duration_range(20ms, 1h));
  app.add_option("--seed", opt.seed, "seed of the plan")->check(CLI::Range(0ull, 1'000'000'000ull));
  app.add_flag("--quick", opt.quick, "8 jobs, 600ms timeout: about a second");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 every job ended as planned, 1 one did not (or an error), 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (opt.quick && !*jobs) opt.jobs = 8;
  if (opt.quick && !*timeout) opt.timeout = 600ms;

  try {
    return weft::run(amain(opt));
  } catch (const std::exception& e) {
    fmt::print(stderr, "job_queue: error: {}\n", e.what());
    return example::exit_error;
  }
}
