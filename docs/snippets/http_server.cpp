// weft::http::server around one handler, and weft::http::client talking
// to it.
#include <weft/weft.hpp>

#include <stdexcept>
#include <string>

#include "check.hpp"

using namespace std::chrono_literals;
namespace http = weft::http;
namespace io = weft::io;

// [start handler]
weft::task<http::response> handle(http::request& req) {
  if (req.target == "/hello") co_return http::make_response(200, "Hello, World!\n");
  if (req.method == "POST" && req.target == "/echo")
    co_return http::make_response(200, std::move(req.body), "application/octet-stream");
  if (req.target == "/fail") throw std::runtime_error("a bug");  // a 500; the connection goes on
  http::response r = http::make_response(404, "not found\n");
  r.headers.set("Cache-Control", "no-store");
  co_return r;
}
// [end handler]

weft::task<> serve_and_ask() {
  // [start serve]
  http::server_options so;
  so.on_error = [](std::exception_ptr) {};  // a handler's exception (default: a line on stderr)
  auto srv = http::server::bind(io::address::parse("127.0.0.1:0"), handle, so);
  const std::string base = "http://" + srv.local_address().to_string();
  auto running = weft::spawn(srv.run());

  http::client c;  // share one client: it keeps connections per host
  http::client_response r = co_await c.get(base + "/hello");
  CHECK(r.status == 200 && r.body == "Hello, World!\n");
  CHECK(r.headers.get("content-length") == "14");  // filled in by the server, as are Date and Server
  CHECK(r.headers.contains("Date"));

  http::client_response echoed = co_await c.post(base + "/echo", "some bytes", "text/plain");
  CHECK(echoed.body == "some bytes");
  http::client_response missing = co_await c.get(base + "/nope");
  CHECK(missing.status == 404);  // an answer, not an exception
  http::client_response failed = co_await c.get(base + "/fail");
  CHECK(failed.status == 500);

  co_await srv.shutdown(2s);  // stop accepting, finish what is in progress, close the rest
  co_await running;           // run() returns once every connection is gone
  CHECK(srv.stats().requests == 4);
  CHECK(c.stats().connections_opened == 1);  // keep-alive: one connection for all four
  // [end serve]
}

int main() { weft::run(serve_and_ask()); }
