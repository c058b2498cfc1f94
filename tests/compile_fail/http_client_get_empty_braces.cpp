// Must not compile: `{}` for request_options inside co_await is also a
// braced temporary (leave the options out instead).
// expect-error: weft::http::client::get: pass request_options as a named variable
#include "weft/http/client.hpp"

weft::task<int> fetch(weft::http::client& c) {
  auto r = co_await c.get("http://localhost/", {});
  co_return r.status;
}
