// weft::redis::client against a real redis-server started by the test
// (redis_test_server.hpp), and against fake servers on a weft listener
// (one that never answers, one that closes mid-reply, one that speaks
// garbage): commands, binary-safe and large values, nested arrays, error
// replies, pipelining from many tasks, pipelines, AUTH, SELECT, deadlines,
// dead connections, reconnecting, the reply size limit, cancellation, TLS
// to a plain server. Every case runs on both drivers.
#include <atomic>
#include <string>
#include <vector>

#include "io_test_support.hpp"
#include "redis_test_server.hpp"
#include "test_pki.hpp"
#include "weft/redis/client.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/time.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;
namespace redis = weft::redis;

namespace {

std::string what_of(const std::exception_ptr& e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  }
  return "<no exception>";
}

template <class E>
bool is(const std::exception_ptr& e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
  }
  return false;
}

redis::client_options options_for(const redis_server& s) { return redis::parse_url(s.url()); }

/// A listener on 127.0.0.1 whose connections each get `serve`, until the
/// listener is closed (stop()); then it cancels and joins them, so that none
/// outlives the test. (Not by cancelling this task: a cancelled task could
/// not wait for them.)
template <class F>
weft::task<void> fake_server(io::tcp_listener& l, F serve) {
  std::vector<weft::join_handle<void>> conns;
  try {
    for (;;) {
      io::tcp_stream s = co_await l.accept();
      conns.push_back(weft::spawn(serve(std::move(s))));
    }
  } catch (...) {
  }
  for (auto& h : conns) {
    h.cancel();
    co_await error_of(std::move(h));
  }
}

weft::task<void> stop(io::tcp_listener& l, weft::join_handle<void>& server) {
  l.close();
  co_await server;
}

/// Reads what the client sends until it closes (answers nothing).
weft::task<void> swallow(io::tcp_stream s) {
  std::byte buf[4096];
  try {
    while (co_await s.read_some(buf) > 0) {
    }
  } catch (...) {
  }
}

}  // namespace

TEST_CASE("client: SET and GET, binary-safe, nil and integers", "[client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    redis::reply ok = co_await c.command("SET", "greeting", "hello");
    CHECK(ok.kind() == redis::reply_kind::simple_string);
    CHECK(ok.as_string() == "OK");
    redis::reply got = co_await c.command("GET", "greeting");
    CHECK(got.as_string() == "hello");

    const std::string binary("line1\r\nline2\0\xff end", 18);
    const std::string key("bin\r\nkey\0", 9);
    co_await c.command("SET", key, binary);
    redis::reply back = co_await c.command("GET", key);
    CHECK(back.as_string() == binary);

    redis::reply missing = co_await c.command("GET", "no-such-key");
    CHECK(missing.is_nil());
    redis::reply n = co_await c.command("INCRBY", "counter", 41);
    CHECK(n.as_integer() == 41);
    redis::reply m = co_await c.command("INCR", "counter");
    CHECK(m.as_integer() == 42);
    CHECK(c.stats().connects == 1);
  }());
}

TEST_CASE("client: a large bulk reply split across many reads", "[client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    std::string big(8 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 251);
    co_await c.command("SET", "big", big);
    redis::reply r = co_await c.command("GET", "big");
    CHECK(r.as_string().size() == big.size());
    CHECK(r.as_string() == big);
    redis::reply len = co_await c.command("STRLEN", "big");
    CHECK(len.as_integer() == static_cast<long long>(big.size()));
  }());
}

TEST_CASE("client: nested arrays from a Lua script", "[client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    redis::reply r = co_await c.command("EVAL", "return {1, 'two', {3, {'four', false}}, {}}", 0);
    std::vector<redis::reply> deepest{redis::reply::bulk_string("four"), redis::reply::nil()};
    std::vector<redis::reply> inner{redis::reply::integer(3), redis::reply::array(deepest)};
    std::vector<redis::reply> top{redis::reply::integer(1), redis::reply::bulk_string("two"),
                                  redis::reply::array(inner), redis::reply::array({})};
    CHECK(r == redis::reply::array(top));
    CHECK(r.to_string() == "[1, \"two\", [3, [\"four\", (nil)]], []]");
  }());
}

TEST_CASE("client: an error reply throws redis::error and the connection goes on", "[client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    co_await c.command("SET", "s", "text");
    std::exception_ptr e = co_await error_of(c.command("INCR", "s"));
    REQUIRE(is<redis::error>(e));
    try {
      std::rethrow_exception(e);
    } catch (const redis::error& err) {
      CHECK(err.command() == "INCR");
      CHECK(err.code() == "ERR");
      CHECK(err.message() == "ERR value is not an integer or out of range");
    }
    std::exception_ptr unknown = co_await error_of(c.command("NOSUCHCOMMAND", "x"));
    CHECK(what_of(unknown).find("redis NOSUCHCOMMAND: ERR unknown command") == 0);
    redis::reply still = co_await c.command("GET", "s");
    CHECK(still.as_string() == "text");
    CHECK(c.stats().connects == 1);
  }());
}

TEST_CASE("client: 10000 concurrent commands from many tasks share a few writes", "[client][pipelining]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  constexpr int tasks = 100, per_task = 100;
  std::atomic<int> mismatched{0}, failed{0};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < tasks; ++t) {
      hs.push_back(weft::spawn(
          [](redis::client& c, int t, std::atomic<int>& mismatched, std::atomic<int>& failed) -> weft::task<void> {
            try {
              for (int i = 0; i < per_task / 2; ++i) {
                const std::string key = "k:" + std::to_string(t) + ":" + std::to_string(i);
                const std::string value = "v" + std::to_string(t * 1000 + i);
                co_await c.command("SET", key, value);
                redis::reply r = co_await c.command("GET", key);
                if (r.as_string() != value) ++mismatched;
              }
            } catch (...) {
              ++failed;
            }
          }(c, t, mismatched, failed)));
    }
    for (auto& h : hs) co_await h;
    const redis::client_stats s = c.stats();
    CHECK(s.commands == static_cast<std::uint64_t>(tasks * per_task) + 0);
    CHECK(s.writes < s.commands);
    redis::reply size = co_await c.command("DBSIZE");
    CHECK(size.as_integer() == tasks * per_task / 2);
  }());
  CHECK(mismatched == 0);
  CHECK(failed == 0);
}

TEST_CASE("client: 10000 tasks each with one command in flight at once get their own replies", "[client][pipelining]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  constexpr int tasks = 10000;
  std::atomic<int> mismatched{0}, failed{0};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    std::vector<weft::join_handle<void>> hs;
    hs.reserve(tasks);
    for (int t = 0; t < tasks; ++t) {
      hs.push_back(weft::spawn(
          [](redis::client& c, int t, std::atomic<int>& mismatched, std::atomic<int>& failed) -> weft::task<void> {
            try {
              const std::string mine = "echo-" + std::to_string(t);
              redis::reply r = co_await c.command("ECHO", mine);
              if (r.as_string() != mine) ++mismatched;
            } catch (...) {
              ++failed;
            }
          }(c, t, mismatched, failed)));
    }
    for (auto& h : hs) co_await h;
    CHECK(c.stats().commands == static_cast<std::uint64_t>(tasks));
    CHECK(c.stats().writes < c.stats().commands);
  }());
  CHECK(mismatched == 0);
  CHECK(failed == 0);
}

TEST_CASE("client: a pipeline is one write, its error replies stay replies", "[client][pipelining]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    const std::uint64_t writes_before = c.stats().writes;
    redis::pipeline p;
    p.add("SET", "a", "1").add("INCR", "a").add("HGET", "a", "f").add("GET", "a");
    for (int i = 0; i < 1000; ++i) p.add("RPUSH", "list", i);
    std::vector<redis::reply> r = co_await c.execute(p);
    REQUIRE(r.size() == p.size());
    CHECK(r[0].as_string() == "OK");
    CHECK(r[1].as_integer() == 2);
    CHECK(r[2].is_error());
    CHECK(r[2].as_error().find("WRONGTYPE") == 0);
    CHECK(r[3].as_string() == "2");
    CHECK(r.back().as_integer() == 1000);
    CHECK(c.stats().writes == writes_before + 1);
    redis::pipeline empty;
    std::vector<redis::reply> none = co_await c.execute(empty);
    CHECK(none.empty());
  }());
}

TEST_CASE("client: AUTH with the right password, refused with a wrong one", "[client][auth]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server({"--requirepass", "s3cret"});
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    const std::string port = std::to_string(server.port());
    redis::client c = co_await redis::client::connect("redis://:s3cret@127.0.0.1:" + port);
    redis::reply pong = co_await c.command("PING");
    CHECK(pong.as_string() == "PONG");
    redis::client d = co_await redis::client::connect("redis://default:s3cret@127.0.0.1:" + port);
    redis::reply pong2 = co_await d.command("PING");
    CHECK(pong2.as_string() == "PONG");

    std::exception_ptr wrong = co_await error_of(redis::client::connect("redis://:nope@127.0.0.1:" + port));
    REQUIRE(is<redis::error>(wrong));
    CHECK(what_of(wrong).find("redis AUTH: WRONGPASS") == 0);

    redis::client_options none = redis::parse_url(server.url());
    redis::client anonymous = co_await redis::client::connect(none);
    std::exception_ptr noauth = co_await error_of(anonymous.command("GET", "x"));
    CHECK(what_of(noauth).find("redis GET: NOAUTH") == 0);
  }());
}

TEST_CASE("client: SELECT from the URL picks the database", "[client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client db2 = co_await redis::client::connect(server.url() + "/2");
    redis::client db0 = co_await redis::client::connect(server.url() + "/0");
    co_await db2.command("SET", "where", "two");
    redis::reply in2 = co_await db2.command("GET", "where");
    redis::reply in0 = co_await db0.command("GET", "where");
    CHECK(in2.as_string() == "two");
    CHECK(in0.is_nil());
    std::exception_ptr bad = co_await error_of(redis::client::connect(server.url() + "/99"));
    CHECK(what_of(bad).find("redis SELECT: ERR DB index is out of range") == 0);
  }());
}

TEST_CASE("client: a server that never answers costs the command its deadline", "[client][deadline]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto server = weft::spawn(fake_server(l, swallow));
    redis::client_options o;
    o.port = l.local_address().port();
    o.command_timeout = 200ms;
    redis::client c = co_await redis::client::connect(o);
    std::exception_ptr e = co_await error_of(c.command("GET", "k"));
    REQUIRE(is<weft::timeout_error>(e));
    CHECK(what_of(e) == "weft::redis: GET on 127.0.0.1:" + std::to_string(o.port) +
                            " timed out after 200 ms (client_options::command_timeout); the connection was closed");

    // A per-call deadline, named as such; the client reconnected for it.
    std::exception_ptr e2 = co_await error_of(c.command(io::deadline(100ms), "PING"));
    REQUIRE(is<weft::timeout_error>(e2));
    CHECK(what_of(e2).find("weft::redis: PING on 127.0.0.1:") == 0);
    CHECK(what_of(e2).find("(the call's deadline)") != std::string::npos);
    CHECK(c.stats().connects == 2);

    // A command in flight behind the one that timed out fails at once, with why.
    auto slow = weft::spawn(c.command(io::deadline(5s), "GET", "behind"));
    co_await weft::sleep_for(50ms);
    std::exception_ptr first = co_await error_of(c.command(io::deadline(100ms), "GET", "first"));
    CHECK(is<weft::timeout_error>(first));
    (void)first;
    std::exception_ptr behind = co_await error_of(std::move(slow));
    REQUIRE(is<redis::connection_error>(behind));
    CHECK(what_of(behind).find("closed after GET timed out") != std::string::npos);
    co_await stop(l, server);
  }());
}

TEST_CASE("client: a server that closes mid-reply fails the command clearly", "[client][failure]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto server = weft::spawn(fake_server(l, [](io::tcp_stream s) -> weft::task<void> {
      std::byte buf[4096];
      if (co_await s.read_some(buf) == 0) co_return;
      co_await s.write_all(io::as_bytes("$10\r\nhalf"));  // 4 of 10 bytes, then gone
      s.close();
    }));
    redis::client_options o;
    o.port = l.local_address().port();
    redis::client c = co_await redis::client::connect(o);
    std::exception_ptr e = co_await error_of(c.command("GET", "k"));
    REQUIRE(is<redis::connection_error>(e));
    CHECK(what_of(e) ==
          "redis 127.0.0.1:" + std::to_string(o.port) + ": the server closed the connection (1 command in flight)");
    co_await stop(l, server);
  }());
}

TEST_CASE("client: a server that sends no RESP fails the connection with a protocol error", "[client][failure]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto server = weft::spawn(fake_server(l, [](io::tcp_stream s) -> weft::task<void> {
      std::byte buf[4096];
      if (co_await s.read_some(buf) == 0) co_return;
      co_await s.write_all(io::as_bytes("HTTP/1.1 400 Bad Request\r\n\r\n"));
      co_await swallow(std::move(s));
    }));
    redis::client_options o;
    o.port = l.local_address().port();
    redis::client c = co_await redis::client::connect(o);
    std::exception_ptr e = co_await error_of(c.command("GET", "k"));
    REQUIRE(is<redis::connection_error>(e));
    CHECK(what_of(e).find("protocol error: Protocol error, got \"H\" as reply type byte") != std::string::npos);
    co_await stop(l, server);
  }());
}

TEST_CASE("client: reconnects after the server is killed and restarted on its port", "[client][reconnect]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client_options o = options_for(server);
    o.reconnect.max_attempts = 3;
    o.reconnect.initial_backoff = 20ms;
    redis::client c = co_await redis::client::connect(o);
    co_await c.command("SET", "k", "before");
    server.kill();

    // Down: the command fails after the reconnect attempts, naming the server.
    std::exception_ptr down = co_await error_of(c.command("GET", "k"));
    REQUIRE(is<redis::connection_error>(down));
    const std::string msg = what_of(down);
    INFO(msg);
    CHECK((msg.find("the server closed the connection") != std::string::npos ||
           msg.find("could not connect (3 attempts in") != std::string::npos));
    std::exception_ptr still_down = co_await error_of(c.command("GET", "k"));
    CHECK(what_of(still_down)
              .find("redis 127.0.0.1:" + std::to_string(server.port()) + ": could not connect (3 attempts") == 0);

    server.start();  // an empty server (nothing saved) on the same port
    redis::reply after = co_await c.command("GET", "k");
    CHECK(after.is_nil());
    co_await c.command("SET", "k", "after");
    redis::reply again = co_await c.command("GET", "k");
    CHECK(again.as_string() == "after");
    CHECK(c.stats().connects == 2);
  }());
}

TEST_CASE("client: a reply over max_reply_bytes fails its connection, the next command reconnects",
          "[client][limits]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client_options o = options_for(server);
    o.max_reply_bytes = 1 << 20;
    redis::client c = co_await redis::client::connect(o);
    const std::string big(2 << 20, 'x');
    co_await c.command("SET", "big", big);  // the limit is on replies only
    std::exception_ptr e = co_await error_of(c.command("GET", "big"));
    REQUIRE(is<redis::connection_error>(e));
    CHECK(what_of(e).find("a reply over max_reply_bytes (1048576 bytes)") != std::string::npos);
    redis::reply small = co_await c.command("STRLEN", "big");
    CHECK(small.as_integer() == 2 << 20);
    CHECK(c.stats().connects == 2);
  }());
}

TEST_CASE("client: a cancelled command's reply is read and dropped, the others stay matched", "[client][cancel]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    // BLPOP holds the connection's replies for 0.3 s; its waiter gives up at once.
    auto blocked = weft::spawn(c.command("BLPOP", "empty-list", "0.3"));
    co_await weft::sleep_for(50ms);
    blocked.cancel();
    std::exception_ptr e = co_await error_of(std::move(blocked));
    CHECK(is<weft::operation_cancelled>(e));
    redis::reply pong = co_await c.command("ECHO", "after");
    CHECK(pong.as_string() == "after");
    CHECK(c.stats().replies_dropped == 1);
    CHECK(c.stats().connects == 1);
  }());
}

TEST_CASE("client: connection refused, and rediss:// to a plain server, fail clearly", "[client][failure]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    const std::uint16_t closed_port = l.local_address().port();
    l.close();
    redis::client_options o;
    o.port = closed_port;
    o.reconnect.max_attempts = 2;
    o.reconnect.initial_backoff = 10ms;
    std::exception_ptr refused = co_await error_of(redis::client::connect(o));
    REQUIRE(is<redis::connection_error>(refused));
    CHECK(what_of(refused).find("redis 127.0.0.1:" + std::to_string(closed_port) +
                                ": could not connect (2 attempts in") == 0);
    CHECK(what_of(refused).find("Connection refused") != std::string::npos);

    // A bad URL fails where the connect is awaited.
    std::exception_ptr bad_url = co_await error_of(redis::client::connect("redis://127.0.0.1:notaport"));
    CHECK(is<std::invalid_argument>(bad_url));

    redis::client_options tls = redis::parse_url("rediss://127.0.0.1:" + std::to_string(server.port()));
    tls.tls_options.verify = false;
    tls.reconnect.max_attempts = 1;
    tls.connect_timeout = 500ms;
    std::exception_ptr plain = co_await error_of(redis::client::connect(tls));
    REQUIRE(is<redis::connection_error>(plain));
    INFO(what_of(plain));
    CHECK(what_of(plain).find(": could not connect (1 attempt in") != std::string::npos);
    const bool handshake_named =
        what_of(plain).find(
            "the TLS handshake did not complete within 500 ms (client_options::connect_timeout); "
            "does the server speak TLS?") != std::string::npos ||
        what_of(plain).find("tls") != std::string::npos || what_of(plain).find("TLS") != std::string::npos;
    CHECK(handshake_named);
  }());
}

TEST_CASE("client: SUBSCRIBE and MONITOR are refused", "[client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    std::exception_ptr e = co_await error_of(c.command("subscribe", "news"));
    REQUIRE(is<std::invalid_argument>(e));
    CHECK(what_of(e).find("weft::redis::client: subscribe is not supported") == 0);
    redis::reply ok = co_await c.command("PING");
    CHECK(ok.as_string() == "PONG");
  }());
}

TEST_CASE("client: close() fails what is in flight, the next command reconnects", "[client]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    auto blocked = weft::spawn(c.command("BLPOP", "nothing", "5"));
    co_await weft::sleep_for(50ms);
    c.close();
    std::exception_ptr e = co_await error_of(std::move(blocked));
    REQUIRE(is<redis::connection_error>(e));
    CHECK(what_of(e).find("closed by client::close() (1 command in flight)") != std::string::npos);
    redis::reply pong = co_await c.command("PING");
    CHECK(pong.as_string() == "PONG");
    CHECK(c.stats().connects == 2);
  }());
}

TEST_CASE("client: rediss:// to a TLS redis-server, verified, with AUTH and SELECT", "[client][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server({"--requirepass", "s3cret"}, redis_tls{pki().server.cert, pki().server.key});
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client_options o = redis::parse_url("rediss://:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/3");
    o.tls_options.ca_pem = pki().ca;  // the certificate names 127.0.0.1 (the host is the server name)
    redis::client c = co_await redis::client::connect(o);
    const std::string big(1 << 20, 'z');
    redis::pipeline p;
    p.add("SET", "big", big).add("GET", "big").add("CLIENT", "INFO");
    std::vector<redis::reply> r = co_await c.execute(p);
    CHECK(r[0].as_string() == "OK");
    CHECK(r[1].as_string() == big);
    CHECK(r[2].as_string().find(" db=3 ") != std::string::npos);

    // A server whose certificate is not trusted: refused, saying why.
    redis::client_options untrusted = o;
    untrusted.tls_options.ca_pem.clear();
    untrusted.reconnect.max_attempts = 1;
    std::exception_ptr e = co_await error_of(redis::client::connect(untrusted));
    REQUIRE(is<redis::connection_error>(e));
    CHECK(what_of(e).find("certificate verify failed") != std::string::npos);
  }());
}
