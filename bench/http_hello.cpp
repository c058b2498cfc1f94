// http_hello: weft's http::server (ONE worker) answering every request with
// `Hello, World!` (13 B, text/plain), in a forked child pinned to the first
// allowed CPU, loaded by wrk pinned to the second, as the peer harness
// measures nginx (../shared/peers/net, its http group): a 2 s warm-up run
// (not recorded), then
//
//   taskset -c CPU1 wrk -t1 -c100 -dD s --latency http://127.0.0.1:PORT/
//
//   bench_http_hello [uring|epoll] [SECONDS]      (defaults: uring, 10; SECONDS takes units: 10s, 1m)
//   -> RESULT weft.http_hello io=uring rps=... p50_us=... p99_us=...
//             server_us_per_req=... server_cpu_pct=...
//
// server_us_per_req is the child's utime+stime (/proc/<pid>/stat) over the
// measured wrk run divided by the requests wrk completed; server_cpu_pct is
// that CPU time over the run's wall time. Exit status 2 when wrk is missing.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../examples/common/cli.hpp"
#include "../examples/common/server_cli.hpp"
#include "process_cpu.hpp"
#include "server_bench_args.hpp"
#include "weft/http/server.hpp"
#include "weft/weft.hpp"

namespace {

using bench::allowed_cpus;
using bench::cpu_us;
using bench::pin_to;

[[noreturn]] void run_server(weft::io::tcp_listener listener, weft::io_backend io) {
  int rc = 0;
  try {
    example::stop_signals signals;  // the parent ends us with SIGTERM
    weft::runtime rt{{.workers = 1, .io = io}};
    rt.block_on([](weft::io::tcp_listener l, example::stop_signals& sig) -> weft::task<void> {
      weft::http::server srv(std::move(l), [](weft::http::request&) -> weft::task<weft::http::response> {
        co_return weft::http::make_response(200, "Hello, World!", "text/plain");
      });
      co_await weft::when_any(srv.run(), sig.wait());
    }(std::move(listener), signals));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_http_hello server: %s\n", e.what());
    rc = 1;
  }
  std::fflush(stderr);
  _exit(rc);
}

/// Runs a shell command, returns its stdout (and whether it exited 0).
bool capture(const std::string& cmd, std::string& out) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return false;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  return pclose(p) == 0;
}

/// wrk's "812.00us" / "1.23ms" / "2.00s" in microseconds; -1 if unparsable.
double to_us(const std::string& v) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  std::string unit(end);
  if (unit == "us") return x;
  if (unit == "ms") return x * 1e3;
  if (unit == "s") return x * 1e6;
  return -1;
}

struct wrk_figures {
  double rps = 0, p50_us = -1, p99_us = -1;
  unsigned long long requests = 0, errors = 0;
};

/// The figures of wrk's --latency output.
wrk_figures parse_wrk(const std::string& text) {
  wrk_figures f;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string a, b;
    l >> a >> b;
    if (a == "Requests/sec:") f.rps = std::atof(b.c_str());
    else if (a == "50%") f.p50_us = to_us(b);
    else if (a == "99%") f.p99_us = to_us(b);
    else if (b == "requests" && !a.empty()) f.requests = std::strtoull(a.c_str(), nullptr, 10);
    else if (a == "Non-2xx" || a == "Socket") f.errors += 1;
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  weft::io_backend io = weft::io_backend::io_uring;
  std::chrono::seconds seconds{10};
  if (auto rc = bench::parse_driver_and_seconds(
          argc, argv, "bench_http_hello",
          "weft's http::server (one worker) answering \"Hello, World!\" in a forked child, loaded\n"
          "by wrk -t1 -c100 for SECONDS after a 2 s warm-up.",
          "Exit codes: 0 done, 1 error (wrk or the server failed), 2 usage error or wrk missing.", io, seconds))
    return *rc;
  if (std::system("command -v wrk >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "bench_http_hello: wrk is not installed (apt-get install wrk); nothing measured\n");
    return 2;
  }

  // Listening before the fork: the parent knows the port, and wrk's
  // connections queue in the backlog even before the child accepts.
  auto listener = weft::io::tcp_listener::bind(weft::io::address::loopback_v4(0));
  const std::string url = "http://127.0.0.1:" + std::to_string(listener.local_address().port()) + "/";
  const std::vector<int> cpus = allowed_cpus();
  std::fflush(stdout);
  const pid_t child = fork();  // before any runtime thread exists in this process
  if (child < 0) {
    std::perror("bench_http_hello: fork");
    return 1;
  }
  if (child == 0) {
    if (cpus.size() >= 2) pin_to(cpus[0]);
    run_server(std::move(listener), io);
  }
  listener.close();
  const std::string taskset = cpus.size() >= 2 ? "taskset -c " + std::to_string(cpus[1]) + " " : "";

  int rc = 0;
  std::string warm, out;
  capture(taskset + "wrk -t1 -c100 -d2s " + url + " 2>&1", warm);  // warm-up, not recorded
  const double s0 = cpu_us(child);
  const auto t0 = std::chrono::steady_clock::now();
  const bool ok =
      capture(taskset + "wrk -t1 -c100 -d" + std::to_string(seconds.count()) + "s --latency " + url + " 2>&1", out);
  const double s1 = cpu_us(child);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const wrk_figures f = parse_wrk(out);
  if (!ok || f.requests == 0 || f.errors) {
    std::fprintf(stderr, "bench_http_hello: wrk failed or saw errors:\n%s\n", out.c_str());
    rc = 1;
  }
  if (rc == 0) {
    const double reqs = static_cast<double>(f.requests);
    std::printf(
        "RESULT weft.http_hello io=%s rps=%.0f p50_us=%.1f p99_us=%.1f server_us_per_req=%.2f "
        "server_cpu_pct=%.0f\n",
        io == weft::io_backend::io_uring ? "uring" : "epoll", f.rps, f.p50_us, f.p99_us, (s1 - s0) / reqs,
        100.0 * (s1 - s0) / 1e6 / wall_s);
  }
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_http_hello: the server process failed (status %d)\n", status);
    rc = 1;
  }
  return rc;
}
