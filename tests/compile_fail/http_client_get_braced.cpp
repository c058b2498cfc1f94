// Must not compile: a braced request_options inside co_await, the form
// GCC 12 frees twice (free(): invalid pointer at run time).
// expect-error: weft::http::client::get: pass request_options as a named variable
#include <chrono>

#include "weft/http/client.hpp"

using namespace std::chrono_literals;

weft::task<int> fetch(weft::http::client& c) {
  auto r = co_await c.get("http://localhost/", {.timeout = 2s});
  co_return r.status;
}
