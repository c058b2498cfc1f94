// io::resolve, on both drivers: numeric hosts, localhost, families, names
// that do not resolve, timeouts (io::connect's lookup included),
// cancellation (of a lookup still queued and of one already running).
// io::connect by name: connect_test.cpp.
//
// The network here may be closed with a nameserver that never answers, so
// no test waits on DNS: names that must fail are rejected by weft itself
// ("bad..name") or by glibc before any query ('*' is not a host-name
// character, checked after /etc/hosts). Timeouts and cancellation run
// against a blocking pool of one thread held busy by the test, or against
// a fake lookup (io::detail::resolve_with) that waits until released.
#include <netdb.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "io_test_support.hpp"
#include "weft/runtime/blocking.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

/// A gate a blocking-pool thread waits at until the test opens it.
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};

  void pass() {
    entered.fetch_add(1);
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(m);
      open = true;
    }
    cv.notify_all();
  }
};

/// Occupies the one thread of a max_blocking_threads = 1 pool, so that any
/// lookup submitted meanwhile stays queued.
weft::task<weft::join_handle<void>> occupy_pool(gate& g) {
  auto h = weft::spawn_blocking([&g] { g.pass(); });
  while (g.entered.load() == 0) co_await weft::sleep_for(1ms);
  co_return h;
}

weft::runtime_options one_blocking_thread(weft::io_backend b) {
  auto o = io_options(b);
  o.max_blocking_threads = 1;
  return o;
}

bool is_loopback(const io::address& a) { return a.is_ipv4() ? a.ip().rfind("127.", 0) == 0 : a.ip() == "::1"; }

// The fake lookup's state (a lookup_fn is a plain function pointer).
gate* fake_gate = nullptr;
std::atomic<int> fake_calls{0};
std::atomic<bool> fake_done{false};
std::string fake_seen_host;

io::detail::lookup_result gated_lookup(std::string host, std::uint16_t port, io::ip_family, bool) {
  fake_calls.fetch_add(1);
  fake_gate->pass();
  // Runs after the caller gave up: it must only touch what it owns.
  fake_seen_host = host;
  io::detail::lookup_result r;
  r.addresses.push_back(io::address::loopback_v4(port));
  fake_done.store(true);
  return r;
}

void reset_fake(gate& g) {
  fake_gate = &g;
  fake_calls = 0;
  fake_done = false;
  fake_seen_host.clear();
}

}  // namespace

TEST_CASE("resolve: numeric hosts are answered at once, without the blocking pool", "[io][resolve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{one_blocking_thread(backend)};
  gate g;
  std::vector<std::vector<io::address>> got;
  rt.block_on([&]() -> weft::task<void> {
    auto busy = co_await occupy_pool(g);  // a lookup on the pool would hang
    got.push_back(co_await io::resolve("127.0.0.1", 8080));
    got.push_back(co_await io::resolve("::1", 8080));
    got.push_back(co_await io::resolve("[::1]", 8080, {.family = io::ip_family::v6}));
    got.push_back(co_await io::resolve("", 8080, {.passive = true}));
    got.push_back(co_await io::resolve("", 8080, {.family = io::ip_family::v4, .passive = true}));
    g.release();
    co_await busy;
  }());
  REQUIRE(got.size() == 5);
  CHECK(got[0] == std::vector{io::address::parse("127.0.0.1:8080")});
  CHECK(got[1] == std::vector{io::address::parse("[::1]:8080")});
  CHECK(got[2] == std::vector{io::address::parse("[::1]:8080")});
  CHECK(got[3] == std::vector{io::address::parse("0.0.0.0:8080"), io::address::parse("[::]:8080")});
  CHECK(got[4] == std::vector{io::address::parse("0.0.0.0:8080")});
}

TEST_CASE("resolve: bad numeric hosts and malformed names fail at once, precisely", "[io][resolve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{one_blocking_thread(backend)};
  struct outcome {
    int code = 0;
    std::string what;
  };
  gate g;
  std::vector<outcome> got;
  rt.block_on([&]() -> weft::task<void> {
    auto busy = co_await occupy_pool(g);
    auto attempt = [&](std::string host, io::resolve_options o) -> weft::task<void> {
      try {
        (void)co_await io::resolve(host, 80, o);
        got.push_back({0, "resolved"});
      } catch (const io::resolve_error& e) {
        got.push_back({e.code(), e.what()});
      }
    };
    co_await attempt("127.0.0.1", {.family = io::ip_family::v6});
    co_await attempt("::1", {.family = io::ip_family::v4});
    co_await attempt("[127.0.0.1]", {});
    co_await attempt("1:2:3", {});
    co_await attempt("", {});
    co_await attempt("bad..name", {});
    co_await attempt("has space.example", {});
    co_await attempt(std::string(64, 'a') + ".example", {});
    co_await attempt(std::string(300, 'a'), {});
    g.release();
    co_await busy;
  }());
  REQUIRE(got.size() == 9);
  CHECK(got[0].code == EAI_ADDRFAMILY);
  CHECK(got[0].what == "resolve '127.0.0.1': an IPv4 address, but only IPv6 was asked for");
  CHECK(got[1].code == EAI_ADDRFAMILY);
  CHECK(got[2].what == "resolve '[127.0.0.1]': not a valid IPv6 address");
  CHECK(got[3].what == "resolve '1:2:3': not a valid IPv6 address");
  CHECK(got[4].what == "resolve '': empty host name");
  CHECK(got[5].code == EAI_NONAME);
  CHECK(got[5].what == "resolve 'bad..name': host name has an empty label");
  CHECK(got[6].what == "resolve 'has space.example': host name contains a space or control character");
  CHECK(got[7].what.find("label longer than 63") != std::string::npos);
  CHECK(got[8].what.find("longer than 253") != std::string::npos);
}

TEST_CASE("resolve: localhost, any family, IPv4 only, IPv6 only", "[io][resolve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::vector<io::address> any, v4, v6;
  bool v6_failed = false;
  rt.block_on([&]() -> weft::task<void> {
    any = co_await io::resolve("localhost", 8080);
    v4 = co_await io::resolve("localhost", 8080, {.family = io::ip_family::v4});
    try {
      v6 = co_await io::resolve("localhost", 8080, {.family = io::ip_family::v6});
    } catch (const io::resolve_error&) {
      v6_failed = true;  // /etc/hosts without "::1 localhost"
    }
  }());
  REQUIRE_FALSE(any.empty());
  CHECK(std::all_of(any.begin(), any.end(), is_loopback));
  CHECK(std::all_of(any.begin(), any.end(), [](const io::address& a) { return a.port() == 8080; }));
  CHECK(std::find(v4.begin(), v4.end(), io::address::loopback_v4(8080)) != v4.end());
  CHECK(std::all_of(v4.begin(), v4.end(), [](const io::address& a) { return a.is_ipv4(); }));
  CHECK((v6_failed || !v6.empty()));
  CHECK(std::all_of(v6.begin(), v6.end(), [](const io::address& a) { return a.is_ipv6() && is_loopback(a); }));
  // No duplicates.
  for (std::size_t i = 0; i < any.size(); ++i)
    for (std::size_t j = i + 1; j < any.size(); ++j) CHECK_FALSE(any[i] == any[j]);
}

TEST_CASE("resolve: a name that does not resolve throws resolve_error with the EAI code", "[io][resolve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::string what;
  int code = 0;
  rt.block_on([&]() -> weft::task<void> {
    try {
      (void)co_await io::resolve("no*such*host.invalid", 80);
    } catch (const io::resolve_error& e) {
      what = e.what();
      code = e.code();
    }
  }());
  CHECK(code == EAI_NONAME);
  CHECK(what == std::string("resolve 'no*such*host.invalid': ") + ::gai_strerror(EAI_NONAME));
}

TEST_CASE("resolve: the deadline passes while the lookup waits for a pool thread", "[io][resolve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{one_blocking_thread(backend)};
  gate g, fake;
  reset_fake(fake);
  fake.release();  // would return at once, if it ever ran
  std::exception_ptr timed_out, connect_timed_out, fake_timed_out;
  std::vector<io::address> after;
  rt.block_on([&]() -> weft::task<void> {
    auto busy = co_await occupy_pool(g);
    timed_out = co_await error_of(io::resolve("localhost", 80, {.timeout = 20ms}));
    connect_timed_out = co_await error_of(io::connect("localhost", 80, 20ms));
    fake_timed_out =
        co_await error_of(io::detail::resolve_with(&gated_lookup, "queued.example", 80, {.timeout = 20ms}));
    g.release();
    co_await busy;
    // The pool is free again, and the timed-out jobs left it: FIFO, so a
    // cancelled job still queued would have run before this one.
    co_await weft::spawn_blocking([] {});
    after = co_await io::resolve("localhost", 80);
  }());
  CHECK_THROWS_AS(rethrow_if(timed_out), weft::timeout_error);
  CHECK_THROWS_AS(rethrow_if(connect_timed_out), weft::timeout_error);
  CHECK_THROWS_AS(rethrow_if(fake_timed_out), weft::timeout_error);
  CHECK(fake_calls.load() == 0);
  CHECK_FALSE(after.empty());
}

TEST_CASE("resolve: the deadline passes while getaddrinfo runs, the job finishes on its own", "[io][resolve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  std::atomic<int> reported{0};
  auto opts = io_options(backend);
  opts.unhandled_exception = [&](std::exception_ptr) { reported.fetch_add(1); };
  weft::runtime rt{opts};
  gate fake;
  reset_fake(fake);
  std::exception_ptr err;
  rt.block_on([&]() -> weft::task<void> {
    // The host string is a temporary: only the job's own copy may be read
    // once the caller has given up (ASan checks that).
    err =
        co_await error_of(io::detail::resolve_with(&gated_lookup, std::string("slow.example"), 80, {.timeout = 100ms}));
    fake.release();
    // On a loaded machine the deadline may pass before a pool thread picks
    // the job up; then it never runs. Either way the caller saw a timeout.
    if (fake_calls.load() > 0)
      while (!fake_done.load()) co_await weft::sleep_for(1ms);
  }());
  CHECK_THROWS_AS(rethrow_if(err), weft::timeout_error);
  if (fake_calls.load() > 0) CHECK(fake_seen_host == "slow.example");
  CHECK(reported.load() == 0);
}

TEST_CASE("resolve: cancelling a lookup that is running or still queued", "[io][resolve]") {
  auto backend = WEFT_BOTH_BACKENDS();
  const bool queued = GENERATE(false, true);
  weft::runtime rt{one_blocking_thread(backend)};
  gate g, fake;
  reset_fake(fake);
  std::exception_ptr err;
  rt.block_on([&]() -> weft::task<void> {
    std::optional<weft::join_handle<void>> busy;
    if (queued) busy.emplace(co_await occupy_pool(g));
    auto h = weft::spawn([]() -> weft::task<void> {
      (void)co_await io::detail::resolve_with(&gated_lookup, "cancel.example", 80, {.timeout = 1h});
    }());
    if (queued) co_await weft::sleep_for(5ms);  // most likely queued by now; cancelled earlier is fine too
    else
      while (fake.entered.load() == 0) co_await weft::sleep_for(1ms);  // getaddrinfo is "running"
    h.cancel();
    err = co_await error_of(std::move(h));
    fake.release();
    if (busy) {
      g.release();
      co_await *busy;
    }
    co_await weft::spawn_blocking([] {});  // FIFO: anything queued before ran before this
    if (fake_calls.load() > 0)
      while (!fake_done.load()) co_await weft::sleep_for(1ms);
  }());
  CHECK_THROWS_AS(rethrow_if(err), weft::operation_cancelled);
  CHECK(fake_calls.load() == (queued ? 0 : 1));
}
