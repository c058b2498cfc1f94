// weft::io::serve on both drivers: many clients, failing handlers,
// max_connections, cancellation, and running out of descriptors (EMFILE).
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "io_fault_support.hpp"
#include "weft/runtime/ops.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

/// Echoes until end of stream.
weft::task<void> echo(io::tcp_stream s) {
  std::byte buf[1024];
  while (std::size_t n = co_await s.read_some(buf, 20s)) co_await s.write_all({buf, n}, 20s);
}

/// Sends msg, half-closes, returns everything the server sends back.
weft::task<std::string> round_trip(io::address at, std::string msg) {
  auto c = co_await io::tcp_stream::connect(at, 20s);
  co_await c.write_all(bytes(msg), 20s);
  c.shutdown_write();
  std::string out(msg.size() + 64, '\0');
  out.resize(co_await c.read(io::as_writable_bytes(out), 20s));
  co_return out;
}

/// Sends msg and reads the same number of bytes back (connection left open).
weft::task<std::string> ping(io::tcp_stream& c, std::string msg) {
  co_await c.write_all(bytes(msg), 20s);
  std::string out(msg.size(), '\0');
  co_await io::read_exact(c, io::as_writable_bytes(out), 20s);
  co_return out;
}

}  // namespace

TEST_CASE("serve: echoes for many concurrent clients, cancelling serve ends it", "[io][serve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  constexpr int clients = 64;
  struct result {
    int matched = 0;
    outcome served;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto l = io::tcp_listener::bind(loopback(AF_INET));
    auto server = weft::spawn(io::serve(l, echo));
    std::vector<weft::join_handle<std::string>> hs;
    for (int i = 0; i < clients; ++i)
      hs.push_back(weft::spawn(round_trip(l.local_address(), "client " + std::to_string(i) + " says hi")));
    result out;
    for (int i = 0; i < clients; ++i)
      if (co_await hs[i] == "client " + std::to_string(i) + " says hi") ++out.matched;
    server.cancel();
    out.served = co_await outcome_of(std::move(server));
    co_return out;
  }());
  CHECK(r.matched == clients);
  INFO(r.served);
  CHECK(r.served.kind == outcome::cancelled);
}

TEST_CASE("serve: a handler that throws is reported, the other connections go on", "[io][serve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    int errors = 0;
    std::string error_message, survivor_before, survivor_after, failed_got;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto l = io::tcp_listener::bind(loopback(AF_INET));
    std::atomic<int> errors{0};
    std::string message;  // written once, by the one failing handler, read after it ended
    io::serve_options o;
    o.on_handler_error = [&](std::exception_ptr e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        message = x.what();
      }
      errors.fetch_add(1);
    };
    auto handler = [](io::tcp_stream s) -> weft::task<void> {
      std::byte buf[64];
      while (std::size_t n = co_await s.read_some(buf, 20s)) {
        if (text({buf, n}).find("boom") != std::string::npos) throw std::runtime_error("handler saw boom");
        co_await s.write_all({buf, n}, 20s);
      }
    };
    auto server = weft::spawn(io::serve(l, handler, o));
    result out;
    auto survivor = co_await io::tcp_stream::connect(l.local_address(), 20s);
    out.survivor_before = co_await ping(survivor, "alive");
    out.failed_got = co_await round_trip(l.local_address(), "boom");  // connection closed, nothing echoed
    for (int i = 0; i < 2000 && errors.load() == 0; ++i) co_await weft::sleep_for(10ms);
    out.survivor_after = co_await ping(survivor, "still alive");
    out.errors = errors.load();
    out.error_message = message;
    server.cancel();
    co_await outcome_of(std::move(server));
    co_return out;
  }());
  CHECK(r.failed_got.empty());
  CHECK(r.errors == 1);
  CHECK(r.error_message == "handler saw boom");
  CHECK(r.survivor_before == "alive");
  CHECK(r.survivor_after == "still alive");
}

TEST_CASE("serve: max_connections: the next client is served only after one finishes", "[io][serve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    int started_while_full = -1, max_active = 0;
    std::string a, b_early, b;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto l = io::tcp_listener::bind(loopback(AF_INET));
    std::atomic<int> started{0}, active{0}, max_active{0};
    io::serve_options o;
    o.max_connections = 1;
    auto handler = [&](io::tcp_stream s) -> weft::task<void> {
      started.fetch_add(1);
      int now = active.fetch_add(1) + 1;
      int seen = max_active.load();
      while (now > seen && !max_active.compare_exchange_weak(seen, now)) {
      }
      std::byte buf[64];
      try {
        while (std::size_t n = co_await s.read_some(buf, 20s)) co_await s.write_all({buf, n}, 20s);
      } catch (...) {
        active.fetch_sub(1);
        throw;
      }
      active.fetch_sub(1);
    };
    auto server = weft::spawn(io::serve(l, handler, o));
    result out;
    auto a = co_await io::tcp_stream::connect(l.local_address(), 20s);
    out.a = co_await ping(a, "a");
    // b's connection completes in the kernel's accept queue, but serve does
    // not accept it while a's handler runs.
    auto b = co_await io::tcp_stream::connect(l.local_address(), 20s);
    co_await b.write_all(bytes("b"), 20s);
    std::byte buf[1];
    outcome early = co_await outcome_of(b.read_some(buf, 300ms));
    out.b_early = early.kind == outcome::timeout ? "not served" : "served";
    out.started_while_full = started.load();
    a.close();  // a's handler ends; b's starts
    co_await io::read_exact(b, buf, 20s);
    out.b = text(buf);
    out.max_active = max_active.load();
    server.cancel();
    co_await outcome_of(std::move(server));
    co_return out;
  }());
  CHECK(r.a == "a");
  CHECK(r.b_early == "not served");
  CHECK(r.started_while_full == 1);
  CHECK(r.b == "b");
  CHECK(r.max_active == 1);
}

TEST_CASE("serve: cancelling serve cancels the handlers and waits for them to end", "[io][serve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  constexpr int clients = 8;
  struct result {
    int started = 0, ended_when_serve_returned = 0, cancelled = 0;
    outcome served;
    std::vector<std::size_t> client_reads;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto l = io::tcp_listener::bind(loopback(AF_INET));
    std::atomic<int> started{0}, ended{0}, cancelled{0};
    auto handler = [&](io::tcp_stream s) -> weft::task<void> {
      started.fetch_add(1);
      std::byte buf[64];
      try {
        (void)co_await s.read_some(buf);  // no deadline: only cancellation ends this
      } catch (const weft::operation_cancelled&) {
        cancelled.fetch_add(1);
        // Cleanup that takes a while: serve must wait for it.
        std::this_thread::sleep_for(50ms);
        ended.fetch_add(1);
        throw;
      }
      ended.fetch_add(1);
    };
    auto server = weft::spawn(io::serve(l, handler));
    // One connection comes and goes first: serve was idle once before.
    {
      auto first = co_await io::tcp_stream::connect(l.local_address(), 20s);
      first.shutdown_write();
      std::byte buf[8];
      (void)co_await first.read_some(buf, 20s);  // 0: its handler ended
    }
    for (int i = 0; i < 2000 && ended.load() < 1; ++i) co_await weft::sleep_for(10ms);
    std::vector<io::tcp_stream> cs;
    for (int i = 0; i < clients; ++i) cs.push_back(co_await io::tcp_stream::connect(l.local_address(), 20s));
    for (int i = 0; i < 2000 && started.load() < clients + 1; ++i) co_await weft::sleep_for(10ms);
    result out;
    out.started = started.load() - 1;
    server.cancel();
    out.served = co_await outcome_of(std::move(server));
    out.ended_when_serve_returned = ended.load() - 1;
    out.cancelled = cancelled.load();
    // The handlers' streams are closed: every client sees end of stream.
    for (auto& c : cs) {
      std::byte buf[8];
      out.client_reads.push_back(co_await c.read_some(buf, 20s));
    }
    co_return out;
  }());
  CHECK(r.started == clients);
  INFO(r.served);
  CHECK(r.served.kind == outcome::cancelled);
  CHECK(r.cancelled == clients);
  CHECK(r.ended_when_serve_returned == clients);
  CHECK(r.client_reads == std::vector<std::size_t>(clients, 0));
}

TEST_CASE("serve: a fatal accept error (the listener closed under it) ends serve with that error", "[io][serve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  outcome o = rt.block_on([]() -> weft::task<outcome> {
    auto l = io::tcp_listener::bind(loopback(AF_INET));
    auto server = weft::spawn(io::serve(l, echo));
    co_await settle();
    l.close();
    co_return co_await outcome_of(std::move(server));
  }());
  INFO(o);
  CHECK(o.kind == outcome::system_error);
}

namespace {

/// In a forked child: serve with the descriptor table full. Returns "" on
/// success, else what went wrong.
std::string emfile_scenario(weft::io_backend backend) {
  // The limit is lowered before anything is armed: io_uring's accept takes
  // RLIMIT_NOFILE when it is submitted, so a multishot accept armed under
  // the old limit would go on allocating descriptors above a lowered one.
  ::rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  int lowest = ::dup(0);
  ::close(lowest);
  ::rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(lowest + 64);
  if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return "setrlimit failed";
  weft::runtime rt{io_options(backend)};
  return rt.block_on([old]() -> weft::task<std::string> {
    auto l = io::tcp_listener::bind(loopback(AF_INET));
    std::atomic<int> accept_errors{0}, last_errno{0};
    io::serve_options o;
    o.backoff_min = 1ms;
    o.backoff_max = 20ms;
    o.on_accept_error = [&](const std::system_error& e) {
      last_errno.store(e.code().value());
      accept_errors.fetch_add(1);
    };
    auto server = weft::spawn(io::serve(l, echo, o));
    auto a = co_await io::tcp_stream::connect(l.local_address(), 20s);
    if (co_await ping(a, "a1") != "a1") co_return "no echo before the limit";

    // b's socket is made now, while descriptors are left.
    io::tcp_stream b(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!b.is_open()) co_return "socket() failed";

    // Fill the descriptor table up to the (lowered) limit.
    std::vector<int> fillers;
    for (;;) {
      int fd = ::dup(0);
      if (fd < 0) break;
      fillers.push_back(fd);
    }
    if (errno != EMFILE) co_return "filling the table did not end with EMFILE";

    io::address at = l.local_address();
    if (int rc = co_await weft::ops::connect(b.fd(), at.data(), at.size()); rc != 0)
      co_return "b could not connect: " + std::to_string(rc);
    // serve now fails to accept b with EMFILE, reports it and backs off.
    for (int i = 0; i < 2000 && accept_errors.load() == 0; ++i) co_await weft::sleep_for(10ms);
    if (accept_errors.load() == 0) co_return "on_accept_error was not called";
    if (last_errno.load() != EMFILE) co_return "accept error was " + std::to_string(last_errno.load());
    // It keeps failing while nothing frees up, still serving a.
    co_await weft::sleep_for(100ms);
    if (co_await ping(a, "a2") != "a2") co_return "the existing connection stopped echoing";

    // Free descriptors: b is accepted and served, and the episode was
    // reported once.
    for (int fd : fillers) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &old);
    if (co_await ping(b, "b") != "b") co_return "b was not served after descriptors freed up";
    auto c = co_await io::tcp_stream::connect(l.local_address(), 20s);
    if (co_await ping(c, "c") != "c") co_return "c was not served";
    if (accept_errors.load() != 1)
      co_return "on_accept_error called " + std::to_string(accept_errors.load()) + " times, not once";
    server.cancel();
    co_await outcome_of(std::move(server));
    co_return "";
  }());
}

}  // namespace

TEST_CASE("serve: EMFILE: reported once, existing connections go on, accepting resumes when fds free up",
          "[io][serve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  // RLIMIT_NOFILE is per process: change it in a child, not in the test runner.
  auto outcome = run_in_child(
      [backend] {
        std::string failure = emfile_scenario(backend);
        if (!failure.empty())
          std::fprintf(stderr, "emfile scenario (%s): %s\n", weft::to_string(backend), failure.c_str());
        return failure.empty();
      },
      std::chrono::seconds(100));
  INFO("child " << name(outcome));
  CHECK(outcome == child_outcome::passed);
}
