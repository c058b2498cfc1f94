// Must not compile: a braced request_options inside co_await (GCC 12 frees
// it twice).
// expect-error: weft::http::client::post: pass request_options as a named variable
#include <chrono>

#include "weft/http/client.hpp"

using namespace std::chrono_literals;

weft::task<int> send(weft::http::client& c) {
  auto r = co_await c.post("http://localhost/api", "{}", "application/json", {.timeout = 2s});
  co_return r.status;
}
