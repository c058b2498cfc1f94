// Must not compile: std::move(o). GCC 12 handles it, but an overload cannot
// tell it from a `request_options{...}` temporary: every rvalue is refused.
// expect-error: weft::http::client::get: pass request_options as a named variable
#include <chrono>
#include <utility>

#include "weft/http/client.hpp"

using namespace std::chrono_literals;

weft::task<int> fetch(weft::http::client& c) {
  weft::http::request_options o{.timeout = 2s};
  auto r = co_await c.get("http://localhost/", std::move(o));
  co_return r.status;
}
