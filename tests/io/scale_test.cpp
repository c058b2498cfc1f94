// 10,000 concurrent TCP connections on loopback, on both drivers: the
// server runs in a forked child (the descriptor limit, 20000, is per
// process, and each side needs 10,000), the clients here. Every client
// connects, exchanges a message, and holds its connection open until all
// have done so, so the server really has 10,000 at once.
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io_fault_support.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/sync/latch.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

constexpr int connections = 10'000;

struct server_report {
  int handled = 0, max_active = 0, errors = 0;
};

/// Reads exactly n bytes from a pipe, waiting at most `limit`.
bool read_pipe(int fd, void* out, std::size_t n, std::chrono::seconds limit) {
  auto* p = static_cast<char*>(out);
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (n > 0) {
    ::pollfd pfd{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

/// The child: serves echo until `connections` handlers have ended, then
/// reports on `out` and exits.
[[noreturn]] void run_server(weft::io_backend backend, int out) {
  server_report rep;
  try {
    weft::runtime rt{io_options(backend)};
    rep = rt.block_on([](int out) -> weft::task<server_report> {
      io::listen_options lo;
      lo.backlog = 65535;  // the kernel caps it at net.core.somaxconn
      auto l = io::tcp_listener::bind(loopback(AF_INET), lo);
      std::uint16_t port = l.local_address().port();
      if (::write(out, &port, sizeof port) != sizeof port) throw std::runtime_error("pipe");
      std::atomic<int> active{0}, max_active{0}, handled{0}, errors{0};
      weft::event done;
      io::serve_options o;
      o.on_handler_error = [&](std::exception_ptr) { errors.fetch_add(1); };
      auto handler = [&](io::tcp_stream s) -> weft::task<void> {
        int now = active.fetch_add(1) + 1;
        for (int seen = max_active.load(); now > seen && !max_active.compare_exchange_weak(seen, now);) {
        }
        try {
          std::byte buf[256];
          while (std::size_t n = co_await s.read_some(buf, 90s)) co_await s.write_all({buf, n}, 90s);
        } catch (...) {
          errors.fetch_add(1);
        }
        active.fetch_sub(1);
        if (handled.fetch_add(1) + 1 == connections) done.set();
      };
      auto server = weft::spawn(io::serve(l, handler, o));
      co_await outcome_of(weft::with_timeout(100s, done.wait()));
      server.cancel();
      co_await outcome_of(std::move(server));
      co_return server_report{handled.load(), max_active.load(), errors.load()};
    }(out));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scale server: %s\n", e.what());
    ::_exit(2);
  }
  bool sent = ::write(out, &rep, sizeof rep) == sizeof rep;
  ::_exit(sent ? 0 : 3);
}

struct client_report {
  int exchanged = 0, closed_cleanly = 0, failed = 0;
  std::string first_error;
};

weft::task<void> client(io::address at, int i, weft::latch& all_connected, std::atomic<int>& exchanged,
                        std::atomic<int>& closed_cleanly, std::atomic<int>& failed, std::mutex& mu,
                        std::string& first_error) {
  std::exception_ptr error;
  std::optional<io::tcp_stream> c;
  try {
    c.emplace(co_await io::tcp_stream::connect(at, 90s));
    std::string msg = "hello " + std::to_string(i);
    co_await c->write_all(bytes(msg), 90s);
    std::string got(msg.size(), '\0');
    co_await io::read_exact(*c, io::as_writable_bytes(got), 90s);
    if (got == msg) exchanged.fetch_add(1);
  } catch (...) {
    error = std::current_exception();
  }
  all_connected.count_down();  // even after a failure, so nobody waits forever
  try {
    co_await all_connected.wait();
    if (c && !error) {
      c->shutdown_write();
      std::byte buf[16];
      if (co_await c->read_some(buf, 90s) == 0) closed_cleanly.fetch_add(1);
    }
  } catch (...) {
    if (!error) error = std::current_exception();
  }
  if (error) {
    failed.fetch_add(1);
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = classify(error).what;
  }
}

}  // namespace

TEST_CASE("scale: 10,000 concurrent connections on loopback, each echoing", "[io][scale]") {
  auto backend = WEFT_BOTH_BACKENDS();
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  // Fork before any runtime exists in this process: the child is then a
  // clean single-threaded copy.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    run_server(backend, pipe_fds[1]);
  }
  ::close(pipe_fds[1]);
  struct child_guard {  // never leave the server behind, whatever fails here
    pid_t pid;
    int fd;
    ~child_guard() {
      ::close(fd);
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } guard{pid, pipe_fds[0]};

  std::uint16_t port = 0;
  REQUIRE(read_pipe(pipe_fds[0], &port, sizeof port, 60s));

  client_report rep;
  {
    weft::runtime rt{io_options(backend)};
    rep = rt.block_on([](std::uint16_t port) -> weft::task<client_report> {
      weft::latch all_connected{connections};
      std::atomic<int> exchanged{0}, closed_cleanly{0}, failed{0};
      std::mutex mu;
      std::string first_error;
      std::vector<weft::join_handle<void>> hs;
      hs.reserve(connections);
      io::address at = loopback(AF_INET, port);
      for (int i = 0; i < connections; ++i)
        hs.push_back(weft::spawn(client(at, i, all_connected, exchanged, closed_cleanly, failed, mu, first_error)));
      for (auto& h : hs) co_await h;
      co_return client_report{exchanged.load(), closed_cleanly.load(), failed.load(), first_error};
    }(port));
  }
  INFO("first client error: " << rep.first_error);
  CHECK(rep.failed == 0);
  CHECK(rep.exchanged == connections);
  CHECK(rep.closed_cleanly == connections);

  server_report srv;
  REQUIRE(read_pipe(pipe_fds[0], &srv, sizeof srv, 60s));
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  guard.pid = -1;
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(srv.handled == connections);
  CHECK(srv.errors == 0);
  CHECK(srv.max_active == connections);  // all open at once
}
