// redis_pipeline: weft::redis::client throughput against a local
// redis-server, three ways:
//   - C tasks sharing one client, each awaiting SET then GET in a loop (the
//     client pipelines whatever they queue meanwhile): ops_per_s;
//   - one task sending explicit pipelines of 16 SETs (as redis-benchmark -P 16): batch16_ops_per_s;
//   - one task, one command at a time (round-trip bound): serial_ops_per_s.
// Every GET is checked against its SET. Without --url it starts its own
// redis-server on 127.0.0.1 (a free port, nothing saved) and stops it by pid.
//
//   bench_redis_pipeline [--url redis://127.0.0.1:6379] [-n 200000] [-c 100]
//   -> RESULT redis_pipeline n=... tasks=... ops_per_s=... commands_per_write=... batch16_ops_per_s=... serial_ops_per_s=...
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "weft/redis.hpp"
#include "weft/weft.hpp"

extern char** environ;

namespace redis = weft::redis;
using bench_clock = std::chrono::steady_clock;

namespace {

/// redis-server on a free port of 127.0.0.1, in a temporary directory.
struct local_server {
  pid_t pid = -1;
  int port = 0;
  std::string dir;

  local_server() {
    char tmpl[] = "/tmp/weft-bench-redis-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ::close(fd);
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port), "--bind",    "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir",        dir,      "--logfile",          dir + "/log"};
    std::vector<char*> argv;
    for (std::string& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot run redis-server (Debian: redis-server), or give --url");
    for (int i = 0; i < 500; ++i) {  // up to 5 s for it to listen
      const int s = ::socket(AF_INET, SOCK_STREAM, 0);
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      const bool up = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(s);
      if (up) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("redis-server did not start");
  }
  ~local_server() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

weft::task<void> set_get_loop(redis::client& c, int task, int ops) {
  const std::string key = "bench:" + std::to_string(task);
  for (int i = 0; i < ops; i += 2) {
    const std::string value = std::to_string(i);
    co_await c.command("SET", key, value);
    redis::reply r = co_await c.command("GET", key);
    if (r.as_string() != value) {
      std::fprintf(stderr, "redis_pipeline: GET %s returned %s, not %s\n", key.c_str(), r.to_string().c_str(),
                   value.c_str());
      std::abort();
    }
  }
}

double seconds_since(bench_clock::time_point t0) {
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

weft::task<std::string> run(std::string url, int n, int tasks) {
  redis::client c = co_await redis::client::connect(url);
  co_await c.command("FLUSHDB");

  // Warm-up (connection, server allocations), untimed.
  co_await set_get_loop(c, 0, 2000);

  const redis::client_stats before = c.stats();
  auto t0 = bench_clock::now();
  std::vector<weft::join_handle<void>> hs;
  for (int t = 0; t < tasks; ++t) hs.push_back(weft::spawn(set_get_loop(c, t, n / tasks)));
  for (auto& h : hs) co_await h;
  const double shared_s = seconds_since(t0);
  const redis::client_stats after = c.stats();
  const double commands = static_cast<double>(after.commands - before.commands);
  const double per_write = commands / static_cast<double>(after.writes - before.writes);

  t0 = bench_clock::now();
  for (int i = 0; i < n; i += 16) {
    redis::pipeline p;
    for (int j = 0; j < 16; ++j) p.add("SET", "batch", i + j);
    std::vector<redis::reply> r = co_await c.execute(p);
    if (r.size() != 16 || r.back().as_string() != "OK") std::abort();
  }
  const double batch_s = seconds_since(t0);

  const int serial = std::max(1, n / 20);
  t0 = bench_clock::now();
  for (int i = 0; i < serial; ++i) co_await c.command("SET", "serial", i);
  const double serial_s = seconds_since(t0);

  char line[512];
  std::snprintf(line, sizeof line,
                "n=%d tasks=%d ops_per_s=%.0f commands_per_write=%.1f batch16_ops_per_s=%.0f serial_ops_per_s=%.0f", n,
                tasks, commands / shared_s, per_write, static_cast<double>(n / 16 * 16) / batch_s,
                static_cast<double>(serial) / serial_s);
  co_return std::string(line);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft::redis::client throughput against redis-server (its own, unless --url).", "bench_redis_pipeline"};
  std::string url;
  int n = 200'000, tasks = 100;
  app.add_option("--url", url, "a running server (default: start redis-server on a free port)");
  app.add_option("-n", n, "commands in the shared-client run (SET+GET pairs)")->check(CLI::Range(32, 100'000'000));
  app.add_option("-c", tasks, "tasks sharing the client")->check(CLI::Range(1, 100'000));
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<local_server> server;
  if (url.empty()) {
    server = std::make_unique<local_server>();
    url = "redis://127.0.0.1:" + std::to_string(server->port);
  }
  weft::runtime rt{{.workers = 2}};
  const std::string line = rt.block_on(run(url, n, tasks));
  std::printf("RESULT redis_pipeline %s\n", line.c_str());
  return 0;
}
