// hello_tasks: the "Hello from thread N" of every threading tutorial, done
// twice on weft's scheduler: once with tasks (coroutines), once with fibers
// (plain functions on their own stacks).
//
// Each greeter says hello, waits a little (which suspends only the greeter,
// never the worker thread), and says goodbye; the worker it runs on may be
// a different one afterwards. The greetings interleave because all of them
// wait at the same time.
//
//   ./hello_tasks [GREETERS]        (default 5)
#include <fmt/core.h>

#include <chrono>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

std::size_t worker_index() { return weft::this_worker().value_or(0); }

// As a task: a coroutine that co_awaits.
weft::task<int> greet_task(int n) {
  fmt::print("hello from task {} (worker {})\n", n, worker_index());
  co_await weft::sleep_for(10ms * (5 - n % 5));
  fmt::print("goodbye from task {} (worker {})\n", n, worker_index());
  co_return n;
}

// As a fiber: an ordinary function; weft::await suspends just this fiber,
// at any call depth, so it could be deep inside legacy blocking-style code.
int greet_fiber(int n) {
  fmt::print("hello from fiber {} (worker {})\n", n, worker_index());
  weft::await(weft::sleep_for(10ms * (5 - n % 5)));
  fmt::print("goodbye from fiber {} (worker {})\n", n, worker_index());
  return n;
}

weft::task<void> amain(int greeters) {
  std::vector<weft::join_handle<int>> tasks;
  for (int i = 0; i < greeters; ++i) tasks.push_back(weft::spawn(greet_task(i)));
  int sum = 0;
  for (auto& h : tasks) sum += co_await h;
  fmt::print("all {} tasks done (sum of ids {})\n\n", greeters, sum);

  std::vector<weft::join_handle<int>> fibers;
  for (int i = 0; i < greeters; ++i) fibers.push_back(weft::spawn_fiber([i] { return greet_fiber(i); }));
  sum = 0;
  for (auto& h : fibers) sum += co_await h;
  fmt::print("all {} fibers done (sum of ids {})\n", greeters, sum);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"\"Hello from thread N\" on weft's scheduler, as tasks and then as fibers.", "hello_tasks"};
  int greeters = 5;
  app.add_option("GREETERS", greeters, "how many tasks, then fibers, say hello")->check(CLI::Range(1, 10'000));
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  weft::run(amain(greeters));
  return example::exit_ok;
}
