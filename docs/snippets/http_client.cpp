// weft::http::client: options, redirects, timeouts and errors.
#include <fmt/core.h>
#include <weft/weft.hpp>

#include <string>

#include "check.hpp"

using namespace std::chrono_literals;
namespace http = weft::http;
namespace io = weft::io;

weft::task<http::response> site(http::request& req) {
  if (req.target == "/old" || req.target == "/loop") {
    http::response r = http::make_response(301, "");
    r.headers.set("Location", req.target == "/old" ? "/new" : "/loop");
    co_return r;
  }
  if (req.target == "/slow") co_await weft::sleep_for(10s);
  std::string auth(req.headers.get("Authorization").value_or("none"));
  co_return http::make_response(200, req.target + " " + auth);
}

weft::task<> client_tour() {
  auto srv = http::server::bind(io::address::parse("127.0.0.1:0"), site);
  const std::string base = "http://" + srv.local_address().to_string();
  auto running = weft::spawn(srv.run());

  // [start options]
  http::client_options co;
  co.max_connections_per_host = 4;
  co.connect_timeout = 2s;
  http::client c{co};

  http::request_options o{.timeout = 1s};          // a named variable: a braced temporary inside
  o.headers.add("Authorization", "Bearer t0ken");  // co_await does not compile (GCC 12)
  http::client_response r = co_await c.get(base + "/new", o);
  CHECK(r.body == "/new Bearer t0ken");
  // [end options]

  // [start redirects]
  r = co_await c.get(base + "/old");
  CHECK(r.status == 200 && r.url == base + "/new");  // followed: the final URL...
  CHECK(r.redirects.size() == 1);                    // ...and where it came from
  try {
    co_await c.get(base + "/loop");
    CHECK(false);
  } catch (const http::client_error& e) {
    CHECK(e.code() == http::client_errc::redirect_loop);
  }
  // [end redirects]

  // [start errors]
  http::request_options quick{.timeout = 50ms};
  try {
    co_await c.get(base + "/slow", quick);
    CHECK(false);
  } catch (const weft::timeout_error& e) {  // its message names the URL and the timeout
    fmt::print("{}\n", e.what());
    CHECK(std::string(e.what()).find(base + "/slow") != std::string::npos);
  }
  try {
    co_await c.get("ftp://127.0.0.1/");
    CHECK(false);
  } catch (const http::client_error& e) {  // what(): "<url>: <why>"
    CHECK(e.code() == http::client_errc::unsupported_scheme);
  }
  // [end errors]

  co_await srv.shutdown(100ms);  // then /slow's handler is cancelled
  co_await running;
}

int main() { weft::run(client_tour()); }
