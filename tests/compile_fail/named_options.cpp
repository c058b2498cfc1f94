// The positive control of the compile-fail tests: the forms that must go on
// compiling beside the refused ones (the options left out, or passed as a
// named variable), and the option structs that stay allowed as braced
// temporaries because they are trivially copyable (file::open, resolve).
#include <chrono>
#include <utility>

#include "weft/http/client.hpp"
#include "weft/io/file.hpp"
#include "weft/io/resolve.hpp"
#include "weft/io/serve.hpp"
#include "weft/io/tcp.hpp"
#include "weft/io/tls.hpp"

using namespace std::chrono_literals;
namespace http = weft::http;
namespace io = weft::io;

weft::task<int> client_forms(http::client& c) {
  int sum = (co_await c.get("http://localhost/")).status;
  http::request_options o{.timeout = 2s};
  sum += (co_await c.get("http://localhost/", o)).status;
  const http::request_options fixed{.max_redirects = 0};
  sum += (co_await c.get("http://localhost/", fixed)).status;
  sum += (co_await c.post("http://localhost/api", "{}", "application/json")).status;
  sum += (co_await c.post("http://localhost/api", "{}", "application/json", o)).status;
  sum += (co_await c.request("DELETE", "http://localhost/x")).status;
  sum += (co_await c.request("DELETE", "http://localhost/x", o)).status;
  weft::task<http::client_response> later = c.get("http://localhost/", o);  // o is copied now
  sum += (co_await std::move(later)).status;
  co_return sum;
}

weft::task<void> tls_forms(io::tcp_stream a, io::tcp_stream b) {
  io::tls_client_options o{.server_name = "example.com"};
  auto t = co_await io::tls_stream<io::tcp_stream>::connect(std::move(a), o);
  co_await t.shutdown();
  auto u = co_await io::tls_stream<io::tcp_stream>::connect(std::move(b), o, 5s);
  co_await u.shutdown();
}

weft::task<void> serve_forms(io::tcp_listener& l) {
  auto handler = [](io::tcp_stream) -> weft::task<void> { co_return; };
  co_await io::serve(l, handler);
  io::serve_options o{.max_connections = 100};
  co_await io::serve(l, handler, o);
}

weft::task<std::size_t> trivially_copyable_forms() {
  io::file f = co_await io::file::open("/tmp/x", {.write = true, .create = true});
  auto addrs = co_await io::resolve("localhost", 80, {.family = io::ip_family::v4});
  co_return addrs.size() + static_cast<std::size_t>(f.fd());
}
