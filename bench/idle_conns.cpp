// idle_conns: memory of N idle connections in a weft server (ONE worker).
// The server accepts N connections (serve(), each handled by handle(): the
// idiomatic echo loop, waiting in its first read); a forked child opens the
// N client connections and idles (descriptors are limited per process, so
// the clients live in another one). The server's resident set is measured
// once its runtime is up and before it accepts, and again when every
// handler waits; the difference per connection is the figure.
//
//   bench_idle_conns [uring|epoll] [N]      (defaults: uring, 10000)
//   -> RESULT idle_conns io=uring conns=N rss_delta_kib=... bytes_per_conn=...
//
// The handler waits in receive(), which takes a buffer from the driver
// only when data arrives (io_uring: the worker's provided-buffer ring), so
// what remains per connection is its tasks' frames and bookkeeping.
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "backend_arg.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

/// The connection handler being measured.
weft::task<void> handle(weft::io::tcp_stream s) {
  while (weft::io::chunk c = co_await s.receive()) co_await s.write_all(c.bytes());
}

long rss_kib() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/// Lets this process have `n` more descriptors than it uses now.
bool raise_fd_limit(std::size_t n) {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  const rlim_t want = n + 64;
  if (r.rlim_cur >= want) return true;
  if (r.rlim_max < want) return false;
  r.rlim_cur = want;
  return setrlimit(RLIMIT_NOFILE, &r) == 0;
}

/// The child: opens n connections (blocking sockets, one after the other),
/// reports on `ready`, and holds them until `done` is closed.
[[noreturn]] void clients(const weft::io::address& to, std::size_t n, int ready, int done) {
  std::vector<int> fds;
  fds.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, to.data(), to.size()) < 0) {
      std::fprintf(stderr, "bench_idle_conns client %zu: %s\n", i, std::strerror(errno));
      _exit(1);
    }
    fds.push_back(fd);
  }
  char c = 1;
  if (::write(ready, &c, 1) != 1) _exit(1);
  while (::read(done, &c, 1) > 0) {
  }
  for (int fd : fds) ::close(fd);
  _exit(0);
}

struct measured {
  long before_kib = 0, after_kib = 0;
};

weft::task<measured> run(weft::io::tcp_listener& listener, std::size_t n, int ready, int done_w) {
  measured m;
  m.before_kib = rss_kib();
  std::atomic<std::size_t> accepted{0};
  // Not a coroutine: counting adds no frame to what is measured.
  auto counted = [&accepted](weft::io::tcp_stream s) {
    accepted.fetch_add(1, std::memory_order_relaxed);
    return handle(std::move(s));
  };
  auto server = weft::spawn(weft::io::serve(listener, counted));
  // Wait (without blocking the worker) for the child's "all connected".
  int ev = co_await weft::ops::poll(ready, POLLIN);
  char c = 0;
  if (ev < 0 || ::read(ready, &c, 1) != 1) throw std::runtime_error("the client process failed");
  while (accepted.load() < n) co_await weft::sleep_for(10ms);
  co_await weft::sleep_for(200ms);  // the last handlers reach their read
  m.after_kib = rss_kib();

  ::close(done_w);  // the child closes its end of every connection
  server.cancel();
  try {
    co_await server;
  } catch (const weft::operation_cancelled&) {
  }
  co_return m;
}

}  // namespace

int main(int argc, char** argv) {
  weft::io_backend io;
  if (!backend_arg(argc, argv, io, "bench_idle_conns [uring|epoll] [connections]")) return 2;
  const long arg = argc > 2 ? std::atol(argv[2]) : 10'000;
  if (arg <= 0) {
    std::fprintf(stderr, "usage: bench_idle_conns [uring|epoll] [connections > 0]\n");
    return 2;
  }
  const auto n = static_cast<std::size_t>(arg);
  if (!raise_fd_limit(n)) {
    std::fprintf(stderr, "bench_idle_conns: RLIMIT_NOFILE is too low for %zu connections\n", n);
    return 1;
  }

  weft::io::listen_options lo;
  lo.backlog = 4096;
  auto listener = weft::io::tcp_listener::bind(weft::io::address::loopback_v4(0), lo);
  const weft::io::address at = listener.local_address();
  int ready[2], done[2];
  if (pipe2(ready, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(done, O_CLOEXEC) < 0) {
    std::perror("bench_idle_conns: pipe");
    return 1;
  }
  std::fflush(stdout);
  const pid_t child = fork();  // before any runtime thread exists in this process
  if (child < 0) {
    std::perror("bench_idle_conns: fork");
    return 1;
  }
  if (child == 0) {
    listener.close();
    ::close(ready[0]);
    ::close(done[1]);
    int r = ready[1];
    clients(at, n, r, done[0]);
  }
  ::close(ready[1]);
  ::close(done[0]);

  int rc = 0;
  try {
    weft::runtime rt{{.workers = 1, .io = io}};
    measured m = rt.block_on(run(listener, n, ready[0], done[1]));
    const long delta = m.after_kib - m.before_kib;
    std::printf("RESULT idle_conns io=%s conns=%zu rss_delta_kib=%ld bytes_per_conn=%.0f rss_before_kib=%ld\n",
                io == weft::io_backend::io_uring ? "uring" : "epoll", n, delta,
                static_cast<double>(delta) * 1024 / static_cast<double>(n), m.before_kib);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_idle_conns: %s\n", e.what());
    rc = 1;
    kill(child, SIGTERM);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
    std::fprintf(stderr, "bench_idle_conns: the client process failed (status %d)\n", status);
    rc = 1;
  }
  return rc;
}
