// weft::ipc::process, pipe and process_queue: multiprocessing's Process,
// Pipe and Queue.
#include <fmt/core.h>
#include <weft/weft.hpp>

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;
namespace ipc = weft::ipc;

// [start process]
void greet(std::string name) { fmt::print("hello {} from process {}\n", name, ::getpid()); }
int square(int x) { return x * x; }
int fails(int) { throw std::runtime_error("no"); }
int quits(int code) { std::exit(code); }
int sleeps(int) {
  for (;;) ::pause();
}

weft::task<> processes() {
  auto p = ipc::process::start(greet, "ada");  // running now; "ada" arrives as a std::string
  CHECK(co_await p.join() == 0);               // its exit code: 0, the function returned
  auto q = ipc::process::start(square, 7);
  CHECK(co_await q.result() == 49);                           // the function's value
  CHECK(co_await ipc::process::start(fails, 0).join() == 1);  // 1: it threw (result() rethrows it)
  CHECK(co_await ipc::process::start(quits, 3).join() == 3);  // what it gave exit()

  auto s = ipc::process::start(sleeps, 0);
  CHECK(s.is_alive() && co_await s.join_for(20ms) == std::nullopt);  // still running
  s.kill();
  CHECK(co_await s.join() == -9);  // -N: killed by signal N
}
// [end process]

// [start pipe]
int pong(ipc::connection<std::string> c) {  // in the child: blocking calls, it has no runtime
  int answered = 0;
  while (std::optional<std::string> msg = c.blocking_recv()) {  // nullopt: the other end is closed
    c.blocking_send("pong " + *msg);
    ++answered;
  }
  return answered;
}

weft::task<> ping_pong() {
  auto [mine, theirs] = ipc::pipe<std::string>();
  auto p = ipc::process::start(pong, theirs);
  theirs.close();  // the child has its copy: keep none, or it never sees the end
  for (int i = 0; i < 3; ++i) {
    const std::string ping = std::to_string(i);
    co_await mine.send(ping);
    CHECK(co_await mine.recv() == "pong " + ping);
  }
  mine.close();
  CHECK(co_await p.result() == 3);
}
// [end pipe]

// [start queue]
void cube(ipc::process_queue<long> out, long x) { out.blocking_push(x * x * x); }

weft::task<> cubes() {
  ipc::process_queue<long> results{16};  // at most 16 items (and 1 MiB) queued
  std::vector<ipc::process> workers;
  for (long x = 1; x <= 4; ++x) workers.push_back(ipc::process::start(cube, results, x));
  long sum = 0;
  for (int i = 0; i < 4; ++i) sum += *co_await results.pop();  // in whatever order they came
  CHECK(sum == 1 + 8 + 27 + 64);
  for (auto& w : workers) CHECK(co_await w.join() == 0);
}
// [end queue]

int main() {
  weft::run(processes());
  weft::run(ping_pong());
  weft::run(cubes());
}
