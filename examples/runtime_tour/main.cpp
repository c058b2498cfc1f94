// A tour of weft's runtime: spawn, when_all, when_any, timeouts,
// cancellation, a task_scope, driver operations, and the scheduler's metrics.
//
//   runtime_tour [--workers N] [--io uring|epoll|auto]
#include <fcntl.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include <weft/weft.hpp>

#include "../common/cli.hpp"

using namespace std::chrono_literals;

namespace {

// Stands in for real work: a remote call, a query, a file read...
weft::task<std::string> fetch(std::string what, std::chrono::milliseconds latency) {
  co_await weft::sleep_for(latency);
  if (what == "broken") throw std::runtime_error("fetch(" + what + "): server error");
  co_return what + " (" + std::to_string(latency.count()) + " ms)";
}

long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

weft::task<long> parallel_fib(int n) {
  if (n < 20) co_return fib(n);  // small enough: not worth a task
  auto left = weft::spawn(parallel_fib(n - 1));
  long right = co_await parallel_fib(n - 2);
  co_return co_await left + right;
}

weft::task<void> tour() {
  fmt::print("1. spawn and join: a task runs concurrently, join for its value\n");
  auto h = weft::spawn(fetch("profile", 30ms));
  fmt::print("   joined: {}\n", co_await h);

  fmt::print("2. when_all: three fetches at once, results in order\n");
  auto start = weft::clock::now();
  auto [a, b, c] = co_await weft::when_all(fetch("users", 40ms), fetch("orders", 20ms), fetch("stock", 30ms));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(weft::clock::now() - start);
  fmt::print("   {} | {} | {}  (together {} ms, not 90)\n", a, b, c, took.count());

  fmt::print("3. when_any: two mirrors race; the loser is cancelled\n");
  auto fastest = co_await weft::when_any(fetch("mirror-eu", 50ms), fetch("mirror-us", 10ms));
  fmt::print("   winner #{}: {}\n", fastest.index, std::get<1>(fastest.value));

  fmt::print("4. with_timeout: a slow call gets 25 ms\n");
  try {
    co_await weft::with_timeout(25ms, fetch("slow-report", 500ms));
  } catch (const weft::timeout_error& e) {
    fmt::print("   {}\n", e.what());
  }

  fmt::print("5. errors: the failure comes back to whoever joins\n");
  try {
    co_await weft::when_all(fetch("fine", 5ms), fetch("broken", 10ms));
  } catch (const std::exception& e) {
    fmt::print("   caught: {}\n", e.what());
  }

  fmt::print("6. cancel: stop a task at its next suspension point\n");
  auto ticker = weft::spawn([]() -> weft::task<int> {
    weft::interval every{10ms};
    int ticks = 0;
    for (;;) {
      co_await every.next();
      ++ticks;
    }
  }());
  co_await weft::sleep_for(55ms);
  ticker.cancel();
  try {
    co_await ticker;
  } catch (const weft::operation_cancelled&) {
    fmt::print("   the ticker was cancelled\n");
  }

  fmt::print("7. task_scope: a nursery joins every child it started\n");
  std::atomic<int> done{0};
  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<void> {
    for (int i = 0; i < 100; ++i)
      scope.spawn([](std::atomic<int>& done, int i) -> weft::task<void> {
        co_await weft::sleep_for(std::chrono::milliseconds(i % 10));
        ++done;
      }(done, i));
    co_return;
  });
  fmt::print("   {} of 100 children finished before the scope ended\n", done.load());

  fmt::print("8. CPU work spreads over the workers (work stealing)\n");
  start = weft::clock::now();
  long f = co_await parallel_fib(32);
  took = std::chrono::duration_cast<std::chrono::milliseconds>(weft::clock::now() - start);
  fmt::print("   fib(32) = {} in {} ms\n", f, took.count());

  fmt::print("9. driver operations: two tasks talk through a pipe\n");
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::system_error(errno, std::system_category(), "pipe2");
  auto reader = weft::spawn([](int fd) -> weft::task<std::string> {
    std::string got;
    char buf[64];
    for (int n; (n = co_await weft::ops::read(fd, buf, sizeof buf)) != 0;) {
      if (n < 0) throw std::system_error(-n, std::system_category(), "read");
      got.append(buf, static_cast<std::size_t>(n));
    }
    co_return got;
  }(fds[0]));
  const std::string msg = "hello through the driver";
  int n = co_await weft::ops::write(fds[1], msg.data(), msg.size());
  co_await weft::ops::close(fds[1]);  // end of stream for the reader
  fmt::print("   wrote {} bytes, read back \"{}\"\n", n, co_await reader);
  co_await weft::ops::close(fds[0]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "A tour of weft's runtime: spawn, when_all, when_any, timeouts, cancellation, a task_scope,\n"
      "driver operations and the scheduler's metrics.",
      "runtime_tour"};
  unsigned workers = 0;
  weft::io_backend io = weft::io_backend::automatic;
  example::add_runtime_flags(app, workers, io);
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;

  try {
    weft::runtime rt{{.workers = workers, .io = io}};
    fmt::print("weft runtime: {} workers, {} driver\n\n", rt.worker_count(), rt.io_backend());
    rt.block_on(tour());
    const auto t = rt.metrics().total();
    fmt::print("\nscheduler: {} tasks run, {} stolen, {} timers fired, {} parks\n", t.tasks_polled, t.tasks_stolen,
               t.timers_fired, t.parks);
  } catch (const std::exception& e) {
    fmt::print(stderr, "runtime_tour: {}\n", e.what());
    return example::exit_error;
  }
}
