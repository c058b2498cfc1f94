// http_server: a small HTTP/1.1 server on weft::http::server with a route
// table, CPU-heavy work sent to a worker process, and graceful shutdown.
//
//   http_server [--host IP] [--port P] [--workers N] [--io uring|epoll|auto] [--quick]
//
//   GET  /             the routes, as text
//   GET  /hello        "Hello, World!" (13 bytes, text/plain)
//   GET  /json         a small JSON document
//   GET  /primes?n=N   how many primes are below N (N capped), counted in a
//                      worker process: the event loop stays free meanwhile
//   GET  /metrics      the runtime's counters (weft::metrics_text), for Prometheus
//   POST /echo         the request body, back
//
// Other paths get 404; a known path with another method gets 405 and
// Allow. The first stdout line is "listening on HOST:PORT" (flushed).
// SIGINT or SIGTERM: server.shutdown() (in-flight requests finish, idle
// connections close), then a one-line summary and exit code 128 + the
// signal number (130, 143). --quick: serve on a free port, check the
// routes with raw TCP clients, exit 0 or 1.
#include <fmt/core.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "../common/cli.hpp"
#include "../common/server_cli.hpp"
#include "weft/http/server.hpp"
#include "weft/weft.hpp"

namespace {

namespace http = weft::http;
using namespace std::chrono_literals;

constexpr std::uint64_t primes_cap = 20'000'000;

// Runs in a worker process: a sieve of Eratosthenes, plain CPU work.
std::uint64_t count_primes(std::uint64_t n) {
  if (n < 3) return 0;
  std::vector<bool> composite(n, false);
  std::uint64_t count = 0;
  for (std::uint64_t i = 2; i < n; ++i) {
    if (composite[i]) continue;
    ++count;
    for (std::uint64_t j = i * i; j < n; j += i) composite[j] = true;
  }
  return count;
}

/// The value of `name` in a query string ("n=10&x=y"), if present.
std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

weft::task<http::response> primes(http::request& req, std::string_view query) {
  auto n_text = query_param(query, "n");
  if (!n_text) co_return http::make_response(400, "missing parameter n: try /primes?n=1000\n");
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(n_text->data(), n_text->data() + n_text->size(), n);
  if (ec != std::errc{} || end != n_text->data() + n_text->size())
    co_return http::make_response(400, "n must be a non-negative integer, got '" + std::string(*n_text) + "'\n");
  const bool capped = n > primes_cap;
  if (capped) n = primes_cap;
  (void)req;
  // Off the event loop: the other connections are served meanwhile.
  const std::uint64_t count = co_await weft::spawn_process(count_primes, n);
  std::string body = "primes below " + std::to_string(n) + ": " + std::to_string(count);
  if (capped) body += " (n capped at " + std::to_string(primes_cap) + ")";
  co_return http::make_response(200, body + "\n");
}

/// Exact path -> (method -> handler).
struct route {
  std::string method;
  std::string path;
  std::string about;
  std::function<weft::task<http::response>(http::request&, std::string_view query)> fn;
};

std::vector<route> make_routes() {
  std::vector<route> r;
  r.push_back({"GET", "/", "this list", nullptr});
  r.push_back({"GET", "/hello", "Hello, World!", [](http::request&, std::string_view) -> weft::task<http::response> {
                 co_return http::make_response(200, "Hello, World!", "text/plain");
               }});
  r.push_back(
      {"GET", "/json", "a small JSON document", [](http::request&, std::string_view) -> weft::task<http::response> {
         co_return http::make_response(200,
                                       R"({"name":"weft","kind":"http_server example",)"
                                       R"("features":["keep-alive","pipelining","tls"]})",
                                       "application/json");
       }});
  r.push_back({"GET", "/primes", "?n=N: primes below N, counted in a worker process", primes});
  r.push_back({"GET", "/metrics", "the runtime's counters, in the Prometheus text format",
               [](http::request&, std::string_view) -> weft::task<http::response> {
                 co_return http::make_response(200, weft::metrics_text(*weft::runtime::current()),
                                               "text/plain; version=0.0.4");
               }});
  r.push_back({"POST", "/echo", "the request body, back",
               [](http::request& req, std::string_view) -> weft::task<http::response> {
                 auto type = req.headers.get("content-type");
                 co_return http::make_response(200, std::move(req.body),
                                               type ? *type : std::string_view("application/octet-stream"));
               }});
  std::string index = "weft http_server example\n";
  for (const auto& x : r) index += "  " + x.method + " " + x.path + "  " + x.about + "\n";
  r[0].fn = [index](http::request&, std::string_view) -> weft::task<http::response> {
    co_return http::make_response(200, index);
  };
  return r;
}

http::handler make_router() {
  auto routes = std::make_shared<const std::vector<route>>(make_routes());
  return [routes](http::request& req) -> weft::task<http::response> {
    std::string_view target = req.target;
    std::string_view query;
    if (auto q = target.find('?'); q != std::string_view::npos) {
      query = target.substr(q + 1);
      target = target.substr(0, q);
    }
    // HEAD is GET without the body (the server drops it).
    const std::string_view method = req.method == "HEAD" ? std::string_view("GET") : std::string_view(req.method);
    std::string allow;
    for (const auto& r : *routes) {
      if (r.path != target) continue;
      if (r.method == method) co_return co_await r.fn(req, query);
      allow += (allow.empty() ? "" : ", ") + r.method + (r.method == "GET" ? ", HEAD" : "");
    }
    if (allow.empty()) co_return http::make_response(404, "no route for " + std::string(target) + "\n");
    auto resp = http::make_response(405, req.method + " is not allowed here; use " + allow + "\n");
    resp.headers.add("Allow", allow);
    co_return resp;
  };
}

// ------------------------------------------------------------------ --quick

/// One request on a raw connection; returns the response.
weft::task<http::response> fetch(weft::io::tcp_stream& s, std::string request) {  // by value: tasks start later
  co_await s.write_all(weft::io::as_bytes(request), 10s);
  http::response_parser p({}, http::body_mode::accumulate);
  p.expect_no_body(request.starts_with("HEAD "));
  std::array<std::byte, 4096> buf;
  for (;;) {
    std::size_t n = co_await s.read_some(buf, 30s);
    std::span<const std::byte> in{buf.data(), n};
    if (n == 0) throw std::runtime_error("the server closed the connection");
    for (;;) {
      auto r = p.feed(in);
      in = in.subspan(r.consumed);
      if (r.event == http::parse_event::message_complete) co_return std::move(p.message());
      if (r.event == http::parse_event::error) throw std::runtime_error("bad response: " + p.error_message());
      if (r.event == http::parse_event::need_more) break;
    }
  }
}

weft::task<bool> self_test(http::server& srv) {
  int failures = 0;
  auto check = [&](bool ok, const std::string& what) {
    fmt::print("{} {}\n", ok ? "ok  " : "FAIL", what);
    if (!ok) ++failures;
  };
  auto a = co_await weft::io::tcp_stream::connect(srv.local_address(), 10s);
  auto get = [&](std::string target) { return fetch(a, "GET " + target + " HTTP/1.1\r\nHost: quick\r\n\r\n"); };

  auto r = co_await get("/hello");
  check(r.status == 200 && r.body == "Hello, World!", "GET /hello -> 200 Hello, World!");
  r = co_await get("/");
  check(r.status == 200 && r.body.find("/primes") != std::string::npos, "GET / lists the routes");
  r = co_await get("/json");
  check(r.status == 200 && r.headers.get("content-type") == "application/json" && r.body.starts_with("{"),
        "GET /json -> application/json");
  r = co_await get("/primes?n=100");
  check(r.status == 200 && r.body == "primes below 100: 25\n", "GET /primes?n=100 -> 25");
  r = co_await get("/primes?n=ten");
  check(r.status == 400, "GET /primes?n=ten -> 400");
  r = co_await get("/primes");
  check(r.status == 400, "GET /primes -> 400 (n missing)");
  r = co_await get("/metrics");
  check(r.status == 200 && r.headers.get("content-type") == "text/plain; version=0.0.4" &&
            r.body.find("\n# TYPE weft_tasks_polled_total counter\n") != std::string::npos &&
            r.body.find("weft_tasks_completed_total{worker=\"0\"} ") != std::string::npos,
        "GET /metrics -> the runtime's counters, Prometheus text format");
  r = co_await get("/nowhere");
  check(r.status == 404, "GET /nowhere -> 404");
  r = co_await fetch(a, "DELETE /hello HTTP/1.1\r\nHost: quick\r\n\r\n");
  check(r.status == 405 && r.headers.get("allow") == "GET, HEAD", "DELETE /hello -> 405, Allow: GET, HEAD");
  r = co_await fetch(a,
                     "POST /echo HTTP/1.1\r\nHost: quick\r\nContent-Type: text/x-test\r\n"
                     "Content-Length: 5\r\n\r\nweft!");
  check(r.status == 200 && r.body == "weft!" && r.headers.get("content-type") == "text/x-test", "POST /echo");
  r = co_await fetch(a, "HEAD /hello HTTP/1.1\r\nHost: quick\r\n\r\n");
  check(r.status == 200 && r.body.empty() && r.headers.get("content-length") == "13", "HEAD /hello");

  // /hello stays fast while a worker process counts primes: the slow
  // request runs on its own connection, /hello answers meanwhile.
  auto b = co_await weft::io::tcp_stream::connect(srv.local_address(), 10s);
  auto slow = weft::spawn(fetch(b, "GET /primes?n=5000000 HTTP/1.1\r\nHost: quick\r\n\r\n"));
  int fast = 0;
  for (int i = 0; i < 5; ++i) {
    r = co_await get("/hello");
    if (r.status == 200) ++fast;
  }
  const bool slow_pending = !slow.is_finished();
  r = co_await slow;
  check(fast == 5, "5 x GET /hello while /primes runs");
  check(slow_pending, "... answered before the /primes request finished");
  check(r.status == 200 && r.body == "primes below 5000000: 348513\n", "GET /primes?n=5000000 -> 348513");
  co_return failures == 0;
}

}  // namespace

int main(int argc, char** argv) {
  example::stop_signals signals;  // before the runtime's threads exist
  CLI::App app{"A small HTTP/1.1 server on weft: GET / lists its routes. Prints \"listening on HOST:PORT\" first.",
               "http_server"};
  example::server_flags flags;
  bool quick = false;
  example::add_server_flags(app, flags);
  app.add_flag("--quick", quick, "serve on a free port, test the routes, exit 0 or 1");
  example::add_version_flag(app);
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) flags.port = 0;

  try {
    const auto addr = example::listen_address(flags.host, flags.port);
    weft::runtime rt{flags.runtime_options()};
    return rt.block_on([](weft::io::address addr, example::stop_signals& signals, bool quick) -> weft::task<int> {
      http::server srv = http::server::bind(addr, make_router());
      fmt::print("listening on {}\n", srv.local_address());
      std::fflush(stdout);
      const auto started = weft::clock::now();
      int sig = 0;
      bool ok = true;
      if (quick) {
        auto run = weft::spawn(srv.run());
        ok = co_await self_test(srv);
        co_await srv.shutdown(5s);
        co_await run;
      } else {
        // The watcher turns a signal into a graceful shutdown; run() then returns.
        auto watcher = weft::spawn([](example::stop_signals& s, http::server& srv) -> weft::task<int> {
          int n = co_await s.wait();
          fmt::print(stderr, "http_server: {}, shutting down\n", example::signal_name(n));
          co_await srv.shutdown(5s);
          co_return n;
        }(signals, srv));
        std::exception_ptr failed;
        try {
          co_await srv.run();
        } catch (...) {
          failed = std::current_exception();
        }
        if (failed) {
          watcher.cancel();
          std::rethrow_exception(failed);
        }
        sig = co_await watcher;
      }
      const auto s = srv.stats();
      const double secs = std::chrono::duration<double>(weft::clock::now() - started).count();
      fmt::print("http_server: {} after {:.1f} s: {} requests on {} connections, {} 4xx, {} 5xx, {} timeouts\n",
                 quick ? (ok ? "self-test passed" : "self-test FAILED") : example::signal_name(sig), secs, s.requests,
                 s.connections_accepted, s.responses_4xx, s.responses_5xx, s.timeouts);
      co_return quick ? (ok ? 0 : 1) : 128 + sig;
    }(addr, signals, quick));
  } catch (const std::exception& e) {
    fmt::print(stderr, "http_server: {}\n", e.what());
    return example::exit_error;
  }
}
