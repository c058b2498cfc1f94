// process_tour: the multiprocessing tutorials' programs, one subcommand
// each, on weft::ipc — Process, Pool.map, Value/Array with a Lock, a Queue
// filled by Processes, a Pipe, workers stopped by an Event.
//
//   process_tour greeter        Process(target=greeter).start() / join(), with pids
//   process_tour pool-greeter   Pool(3).map(greeter, names)
//   process_tour value-array    Value('d') and Array('i') changed under a Lock
//   process_tour cubes          Processes put cubes into a Queue, the parent collects them
//   process_tour pipe           Pipe(): ping-pong between the parent and a Process
//   process_tour event-workers  daemon workers take jobs from a Queue until an Event is cleared
//   process_tour                all of them in turn (--quick: small and fast, as the tests run it)
//
// Each checks what it printed and exits 1 if something came out wrong.
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
namespace ipc = weft::ipc;

bool quick = false;

// ---------------------------------------------------------------- greeter
// Functions that run in other processes are plain functions (or
// captureless lambdas); their arguments travel serialized.

std::string greeter(std::string name) {
  fmt::print("Process {}: Hello {}!\n", ::getpid(), name);
  std::fflush(stdout);
  return name;
}

weft::task<bool> run_greeter() {
  std::vector<ipc::process> processes;
  for (std::string name : {"Harry", "George", "Dirk", "David"}) processes.push_back(ipc::process::start(greeter, name));
  bool ok = true;
  for (auto& p : processes) ok &= co_await p.join() == 0;  // 0: the function returned
  co_return ok;
}

// ---------------------------------------------------------------- pool-greeter

weft::task<bool> run_pool_greeter() {
  ipc::process_pool pool{{.workers = 3}};
  std::vector<std::string> names{"Harry", "George", "Dirk", "David", "Ron", "Ginny", "Luna"};
  std::vector<std::string> greeted = co_await pool.map(greeter, names);  // in order, like Pool.map
  co_await pool.shutdown();
  co_return greeted == names;
}

// ---------------------------------------------------------------- value-array

void square_all(ipc::shared_value<double> total, ipc::shared_array<int> numbers, ipc::mutex lock) {
  auto guard = lock.blocking_lock();  // a process has no runtime: it may block
  for (int& x : numbers.span()) {
    x *= x;
    total.unsafe_ref() += x;
  }
}

weft::task<bool> run_value_array() {
  ipc::shared_value<double> total{0.0};
  ipc::shared_array<int> numbers(5);
  for (int i = 0; i < 5; ++i) numbers[static_cast<std::size_t>(i)] = i + 1;
  ipc::mutex lock;
  auto p = ipc::process::start(square_all, total, numbers, lock);
  co_await p.join();
  auto guard = co_await lock.lock();
  fmt::print("total {:.1f}, numbers {}\n", total.load(), fmt::join(numbers.span(), " "));
  co_return total.load() == 55.0 && numbers[4] == 25;
}

// ---------------------------------------------------------------- cubes

void put_cube(ipc::process_queue<long> results, long x) { results.blocking_push(x * x * x); }

weft::task<bool> run_cubes() {
  ipc::process_queue<long> results{64};
  std::vector<ipc::process> processes;
  for (long x = 1; x <= 6; ++x) processes.push_back(ipc::process::start(put_cube, results, x));
  for (auto& p : processes) co_await p.join();
  std::vector<long> cubes;
  while (auto c = results.try_pop()) cubes.push_back(*c);
  std::sort(cubes.begin(), cubes.end());  // they arrive in the order the processes ran
  fmt::print("cubes:");
  for (long c : cubes) fmt::print(" {}", c);
  fmt::print("\n");
  co_return cubes == std::vector<long>{1, 8, 27, 64, 125, 216};
}

// ---------------------------------------------------------------- pipe

int pong(ipc::connection<std::string> conn) {
  int answered = 0;
  while (auto msg = conn.blocking_recv()) {  // std::nullopt: the other end was closed
    conn.blocking_send("pong " + std::to_string(++answered) + " for " + *msg);
  }
  return answered;
}

weft::task<bool> run_pipe() {
  auto [mine, theirs] = ipc::pipe<std::string>();
  auto p = ipc::process::start(pong, theirs);
  theirs.close();  // the process has its copy: keep none, or it never sees the end
  bool ok = true;
  for (int i = 1; i <= 3; ++i) {
    co_await mine.send("ping " + std::to_string(i));
    auto reply = co_await mine.recv();
    fmt::print("{}\n", reply.value_or("(end of file)"));
    ok &= reply.has_value();
  }
  mine.close();
  co_return ok&& co_await p.result() == 3;
}

// ---------------------------------------------------------------- event-workers

void worker_func(ipc::process_queue<int> jobs, ipc::process_queue<std::string> done, ipc::event running, int id) {
  fmt::print("Worker {} starting\n", id);
  std::fflush(stdout);
  while (running.is_set()) {
    std::optional<int> job;
    try {
      job = jobs.blocking_pop(100ms);  // Python's queue.get(timeout=...)
    } catch (const weft::timeout_error&) {
      continue;  // queue.Empty: look at the event again
    }
    if (!job) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(*job));
    done.blocking_push("worker " + std::to_string(id) + " did a " + std::to_string(*job) + " ms job");
  }
  fmt::print("Worker {} shutting down\n", id);
  std::fflush(stdout);
}

weft::task<bool> run_event_workers() {
  ipc::process_queue<int> jobs{64};
  ipc::process_queue<std::string> done{64};
  ipc::event running{true};
  std::vector<ipc::process> workers;
  for (int id = 0; id < 3; ++id)
    workers.push_back(ipc::process::start({.daemon = true}, worker_func, jobs, done, running, id));
  const int count = quick ? 6 : 15;
  for (int i = 0; i < count; ++i) co_await jobs.push(10 + 20 * (i % 4));
  for (int i = 0; i < count; ++i) fmt::print("{}\n", *co_await done.pop());
  running.clear();  // every worker leaves its loop within a queue timeout
  bool ok = true;
  for (auto& w : workers) ok &= co_await w.join() == 0;
  co_return ok;
}

struct subcommand {
  const char* name;
  weft::task<bool> (*run)();
};
const subcommand all[] = {{"greeter", run_greeter},
                          {"pool-greeter", run_pool_greeter},
                          {"value-array", run_value_array},
                          {"cubes", run_cubes},
                          {"pipe", run_pipe},
                          {"event-workers", run_event_workers}};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"process_tour: the multiprocessing tutorials' programs on weft::ipc", "process_tour"};
  std::string which = "all";
  app.add_option("program", which, "greeter, pool-greeter, value-array, cubes, pipe, event-workers, or all")
      ->check(CLI::IsMember({"all", "greeter", "pool-greeter", "value-array", "cubes", "pipe", "event-workers"}));
  app.add_flag("--quick", quick, "small runs (the test suite's)");
  example::add_version_flag(app);
  if (auto rc = example::parse(app, argc, argv)) return *rc;

  // One line at a time, also into a pipe: the processes' lines and ours
  // then appear in the order they were written.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  bool ok = true;
  weft::run([&]() -> weft::task<void> {
    for (const subcommand& s : all) {
      if (which != "all" && which != s.name) continue;
      fmt::print("== {}\n", s.name);
      std::fflush(stdout);
      const bool good = co_await s.run();
      if (!good) fmt::print(stderr, "process_tour: {} printed something wrong\n", s.name);
      ok &= good;
    }
  }());
  return ok ? example::exit_ok : example::exit_error;
}
