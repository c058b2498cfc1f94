// Must not compile: a braced request_options inside co_await (GCC 12 frees
// it twice).
// expect-error: weft::http::client::request: pass request_options as a named variable
#include "weft/http/client.hpp"

weft::task<int> put(weft::http::client& c) {
  auto r = co_await c.request("PUT", "http://localhost/x", {.body = "data", .max_redirects = 0});
  co_return r.status;
}
