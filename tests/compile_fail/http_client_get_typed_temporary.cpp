// Must not compile: `request_options{...}` written inside co_await is the
// same braced temporary with its type spelled out.
// expect-error: weft::http::client::get: pass request_options as a named variable
#include <chrono>

#include "weft/http/client.hpp"

using namespace std::chrono_literals;

weft::task<int> fetch(weft::http::client& c) {
  auto r = co_await c.get("http://localhost/", weft::http::request_options{.timeout = 2s});
  co_return r.status;
}
