// echo: weft's echo server (ONE worker, examples/echo_server/echo_handler.hpp)
// in a forked child process, driven from the parent by the weft closed-loop
// load generator (examples/echo_client/echo_load.hpp): 100 connections, 64 B
// messages, 1 s warm-up, then D seconds measured. With 2 or more CPUs the
// server is pinned to the first allowed CPU and the client to the second,
// as in the peer harness (../shared/peers/net, its echo group).
//
//   bench_echo [uring|epoll] [SECONDS]      (defaults: uring, 10; SECONDS takes units: 10s, 1m)
//   -> RESULT echo io=uring conns=100 size=64 msgs_per_s=... p50_us=... p99_us=...
//             server_us_per_msg=... client_us_per_msg=... errors=0
//
// server_us_per_msg is the child's utime+stime (/proc/<pid>/stat) over the
// measured window divided by the messages of that window. The client runs
// on one weft worker (io_uring when allowed): when it is the side at 100%
// CPU the rate is a lower bound, and server_us_per_msg is the figure to
// compare (the harness's own C load generator, used by
// scripts/bench-net.sh, is cheaper per message).
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../examples/common/cli.hpp"
#include "../examples/common/server_cli.hpp"
#include "../examples/echo_client/echo_load.hpp"
#include "../examples/echo_server/echo_handler.hpp"
#include "process_cpu.hpp"
#include "server_bench_args.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

using bench::allowed_cpus;
using bench::cpu_us;
using bench::pin_to;

[[noreturn]] void run_server(weft::io::tcp_listener listener, weft::io_backend io) {
  int rc = 0;
  try {
    example::stop_signals signals;  // the parent ends us with SIGTERM
    weft::runtime rt{{.workers = 1, .io = io}};
    example::echo_stats stats;
    rt.block_on([](weft::io::tcp_listener& l, example::stop_signals& sig, example::echo_stats& st) -> weft::task<void> {
      co_await weft::when_any(
          weft::io::serve(l, [&st](weft::io::tcp_stream s) { return example::echo(std::move(s), st); }), sig.wait());
    }(listener, signals, stats));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_echo server: %s\n", e.what());
    rc = 1;
  }
  std::fflush(stderr);
  _exit(rc);
}

}  // namespace

int main(int argc, char** argv) {
  weft::io_backend io = weft::io_backend::io_uring;
  std::chrono::seconds seconds{10};
  if (auto rc = bench::parse_driver_and_seconds(
          argc, argv, "bench_echo",
          "weft's echo server (one worker) in a forked child, loaded by weft's closed-loop client:\n"
          "100 connections x 64 B, 1 s warm-up, then SECONDS measured.",
          "Exit codes: 0 done, 1 error (a connection or the server failed), 2 usage error.", io, seconds))
    return *rc;
  constexpr std::size_t conns = 100, size = 64;

  // Listening before the fork: the parent knows the port, and its
  // connections queue in the backlog even before the child accepts.
  auto listener = weft::io::tcp_listener::bind(weft::io::address::loopback_v4(0));
  const weft::io::address at = listener.local_address();
  const std::vector<int> cpus = allowed_cpus();
  std::fflush(stdout);
  const pid_t child = fork();  // before any runtime thread exists in this process
  if (child < 0) {
    std::perror("bench_echo: fork");
    return 1;
  }
  if (child == 0) {
    if (cpus.size() >= 2) pin_to(cpus[0]);
    run_server(std::move(listener), io);
  }
  listener.close();
  if (cpus.size() >= 2) pin_to(cpus[1]);

  int rc = 0;
  try {
    weft::runtime rt{{.workers = 1}};
    double s0 = 0, s1 = 0, c0 = 0, c1 = 0;
    example::load_options o;
    o.to = at;
    o.connections = conns;
    o.size = size;
    o.warmup = 1s;
    o.duration = seconds;
    o.on_window_start = [&] {
      s0 = cpu_us(child);
      c0 = cpu_us(getpid());
    };
    o.on_window_end = [&] {
      s1 = cpu_us(child);
      c1 = cpu_us(getpid());
    };
    example::load_result r = rt.block_on(example::run_load(o));
    const double msgs = static_cast<double>(r.messages);
    std::printf(
        "RESULT echo io=%s conns=%zu size=%zu msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f server_us_per_msg=%.2f "
        "client_us_per_msg=%.2f errors=%llu\n",
        io == weft::io_backend::io_uring ? "uring" : "epoll", conns, size, r.messages_per_s(),
        r.latency.percentile(0.50) / 1e3, r.latency.percentile(0.99) / 1e3, msgs > 0 ? (s1 - s0) / msgs : 0.0,
        msgs > 0 ? (c1 - c0) / msgs : 0.0, static_cast<unsigned long long>(r.errors));
    if (r.errors) {
      std::fprintf(stderr, "bench_echo: %llu connections failed (first: %s)\n",
                   static_cast<unsigned long long>(r.errors), r.first_error.c_str());
      rc = 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_echo: %s\n", e.what());
    rc = 1;
  }
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_echo: the server process failed (status %d)\n", status);
    rc = 1;
  }
  return rc;
}
