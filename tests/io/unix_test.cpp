// unix_listener / unix_stream on both drivers: paths and abstract names,
// pair(), remove_existing, bind and connect errors, peer addresses,
// cancellation and close() of pending operations.
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "io_fault_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

/// A socket path unique to this process and call, removed at scope exit.
struct temp_path {
  std::string path;
  temp_path() {
    static std::atomic<int> n{0};
    path = "/tmp/weft-unix-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".sock";
    ::unlink(path.c_str());
  }
  ~temp_path() { ::unlink(path.c_str()); }
};

std::string abstract_name() {
  static std::atomic<int> n{0};
  return "@weft-unix-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

/// Connects to `name`, sends `msg`, and returns what the accepted side read
/// plus the addresses both ends report.
struct exchange_result {
  std::string got;
  std::string listener_address, server_peer, client_peer;
};

weft::task<exchange_result> unix_exchange(std::string name, std::string msg) {
  auto l = io::unix_listener::bind(name);
  auto c = co_await io::unix_stream::connect(name, 20s);
  auto s = co_await l.accept(20s);
  co_await c.write_all(bytes(msg), 20s);
  c.shutdown_write();
  exchange_result out;
  out.got.resize(256);
  out.got.resize(co_await s.read(io::as_writable_bytes(out.got), 20s));
  out.listener_address = l.local_address().to_string();
  out.server_peer = s.peer_address().to_string();  // the client is unnamed
  out.client_peer = c.peer_address().to_string();  // the listener's name
  co_return out;
}

}  // namespace

TEST_CASE("unix: listen and connect by path, addresses", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_path p;
  auto r = rt.block_on(unix_exchange(p.path, "by path"));
  CHECK(r.got == "by path");
  CHECK(r.listener_address == p.path);
  CHECK(r.client_peer == p.path);
  CHECK(r.server_peer.empty());
  struct ::stat st {};
  REQUIRE(::stat(p.path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
}

TEST_CASE("unix: listen and connect by abstract name ('@'), no file created", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::string name = abstract_name();
  auto r = rt.block_on(unix_exchange(name, "abstract"));
  CHECK(r.got == "abstract");
  CHECK(r.listener_address == name);
  CHECK(r.client_peer == name);
  struct ::stat st {};
  CHECK(::stat(name.c_str(), &st) != 0);
}

TEST_CASE("unix: pair() gives two connected streams, with half-close", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::string a_got, b_got;
    std::size_t eof = 99;
    bool unnamed = false;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [a, b] = io::unix_stream::pair();
    result out;
    co_await a.write_all(bytes("to b"), 20s);
    a.shutdown_write();
    out.b_got.resize(16);
    out.b_got.resize(co_await b.read(io::as_writable_bytes(out.b_got), 20s));
    co_await b.write_all(bytes("to a"), 20s);
    std::byte buf[4];
    co_await io::read_exact(a, buf, 20s);
    out.a_got = text(buf);
    b.close();
    out.eof = co_await a.read_some(buf, 20s);
    out.unnamed = a.local_address().is_unix() && a.local_address().to_string().empty();
    co_return out;
  }());
  CHECK(r.b_got == "to b");
  CHECK(r.a_got == "to a");
  CHECK(r.eof == 0);
  CHECK(r.unnamed);
}

TEST_CASE("unix: binding an existing path is EADDRINUSE unless remove_existing", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_path p;
  struct result {
    outcome again, abstract_again;
    std::string got;
  };
  result r = rt.block_on([](std::string path) -> weft::task<result> {
    result out;
    {
      auto stale = io::unix_listener::bind(path);  // closing leaves the file behind
    }
    try {
      auto l = io::unix_listener::bind(path);
    } catch (...) {
      out.again = classify(std::current_exception());
    }
    std::string name = abstract_name();
    auto first = io::unix_listener::bind(name);
    try {
      auto l = io::unix_listener::bind(name);
    } catch (...) {
      out.abstract_again = classify(std::current_exception());
    }
    auto l = io::unix_listener::bind(path, {}, /*remove_existing=*/true);
    auto c = co_await io::unix_stream::connect(path, 20s);
    auto s = co_await l.accept(20s);
    co_await c.write_all(bytes("fresh"), 20s);
    std::byte buf[5];
    co_await io::read_exact(s, buf, 20s);
    out.got = text(buf);
    co_return out;
  }(p.path));
  INFO(r.again);
  CHECK(r.again.kind == outcome::system_error);
  CHECK(r.again.err == EADDRINUSE);
  CHECK(r.again.what.find(p.path) != std::string::npos);
  INFO(r.abstract_again);
  CHECK(r.abstract_again.kind == outcome::system_error);
  CHECK(r.abstract_again.err == EADDRINUSE);
  CHECK(r.got == "fresh");
}

TEST_CASE("unix: remove_existing does not delete a regular file", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_path p;
  std::FILE* f = std::fopen(p.path.c_str(), "w");
  REQUIRE(f);
  std::fclose(f);
  outcome o = rt.block_on([](std::string path) -> weft::task<outcome> {
    try {
      auto l = io::unix_listener::bind(path, {}, /*remove_existing=*/true);
    } catch (...) {
      co_return classify(std::current_exception());
    }
    co_return outcome{};
  }(p.path));
  INFO(o);
  CHECK(o.kind == outcome::system_error);
  CHECK(o.err == EADDRINUSE);
  struct ::stat st {};
  REQUIRE(::stat(p.path.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
}

TEST_CASE("unix: connecting to a missing path is ENOENT, to a stale one ECONNREFUSED", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_path missing, stale;
  struct result {
    outcome missing, stale, abstract_missing;
  };
  result r = rt.block_on([](std::string missing, std::string stale) -> weft::task<result> {
    result out;
    out.missing = co_await outcome_of(io::unix_stream::connect(missing, 20s));
    { auto l = io::unix_listener::bind(stale); }
    out.stale = co_await outcome_of(io::unix_stream::connect(stale, 20s));
    out.abstract_missing = co_await outcome_of(io::unix_stream::connect(abstract_name(), 20s));
    co_return out;
  }(missing.path, stale.path));
  INFO(r.missing);
  CHECK(r.missing.kind == outcome::system_error);
  CHECK(r.missing.err == ENOENT);
  CHECK(r.missing.what.find(missing.path) != std::string::npos);
  INFO(r.stale);
  CHECK(r.stale.kind == outcome::system_error);
  CHECK(r.stale.err == ECONNREFUSED);
  INFO(r.abstract_missing);
  CHECK(r.abstract_missing.kind == outcome::system_error);
  CHECK(r.abstract_missing.err == ECONNREFUSED);
}

TEST_CASE("unix: a path too long for sun_path is std::invalid_argument", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::string too_long = "/tmp/" + std::string(200, 'x');
  outcome o = rt.block_on([](std::string p) -> weft::task<outcome> {
    co_return co_await outcome_of(io::unix_stream::connect(p, 20s));
  }(too_long));
  CHECK(o.kind == outcome::other);
  CHECK(o.what.find("too long") != std::string::npos);
  CHECK_THROWS_AS(io::unix_listener::bind(too_long), std::invalid_argument);
}

TEST_CASE("unix: cancelling a pending accept or read gives operation_cancelled", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto op = GENERATE(as<std::string>{}, "accept", "read_some");
  weft::runtime rt{io_options(backend, 1)};
  INFO("operation: " << op);
  struct result {
    outcome pending;
    std::string after;
  };
  result r = rt.block_on([](std::string op) -> weft::task<result> {
    std::string name = abstract_name();
    auto l = io::unix_listener::bind(name);
    auto [a, b] = io::unix_stream::pair();
    weft::join_handle<void> h;
    if (op == "accept") {
      h = weft::spawn([](io::unix_listener& l) -> weft::task<void> { (void)co_await l.accept(); }(l));
    } else {
      h = weft::spawn([](io::unix_stream& a) -> weft::task<void> {
        std::byte buf[16];
        (void)co_await a.read_some(buf);
      }(a));
    }
    co_await settle();
    h.cancel();
    result out;
    out.pending = co_await outcome_of(std::move(h));
    std::byte buf[2];
    if (op == "accept") {
      auto c = co_await io::unix_stream::connect(name, 20s);
      auto s = co_await l.accept(20s);
      co_await c.write_all(bytes("ok"), 20s);
      co_await io::read_exact(s, buf, 20s);
    } else {
      co_await b.write_all(bytes("ok"), 20s);
      co_await io::read_exact(a, buf, 20s);
    }
    out.after = text(buf);
    co_return out;
  }(op));
  INFO(r.pending);
  CHECK(r.pending.kind == outcome::cancelled);
  CHECK(r.after == "ok");
}

TEST_CASE("unix: close() while another task accepts or reads ends it with ECANCELED", "[io][unix]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto op = GENERATE(as<std::string>{}, "accept", "read_some");
  auto workers = GENERATE(1u, 2u);
  weft::runtime rt{io_options(backend, workers)};
  INFO("operation: " << op);
  struct result {
    outcome pending, peer;
  };
  result r = rt.block_on([](std::string op) -> weft::task<result> {
    auto l = io::unix_listener::bind(abstract_name());
    auto [a, b] = io::unix_stream::pair();
    weft::join_handle<outcome> h;
    if (op == "accept") {
      h = weft::spawn(
          [](io::unix_listener& l) -> weft::task<outcome> { co_return co_await outcome_of(l.accept(10s)); }(l));
    } else {
      h = weft::spawn([](io::unix_stream& a) -> weft::task<outcome> {
        std::byte buf[16];
        co_return co_await outcome_of(a.read_some(buf, 10s));
      }(a));
    }
    co_await settle();
    result out;
    if (op == "accept") {
      l.close();
    } else {
      a.close();
      std::byte buf[16];
      out.peer = co_await outcome_of(b.read_some(buf, 10s));
    }
    out.pending = co_await h;
    co_return out;
  }(op));
  INFO(r.pending);
  CHECK(r.pending.kind == outcome::system_error);
  CHECK(r.pending.err == ECANCELED);
  if (op == "read_some") {
    INFO(r.peer);
    CHECK(r.peer.ok());
    CHECK(r.peer.result == 0);
  }
}
