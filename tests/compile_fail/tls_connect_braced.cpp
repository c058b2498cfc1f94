// Must not compile: braced tls_client_options inside co_await (GCC 12 frees
// the temporary twice: its strings and ALPN vector; here it also reports
// "array used as initializer" at the end of the function, which must come
// after the static_assert, not before).
// expect-error: weft::io::tls_stream::connect: pass tls_client_options as a named variable
#include <chrono>
#include <utility>

#include "weft/io/tcp.hpp"
#include "weft/io/tls.hpp"

using namespace std::chrono_literals;

weft::task<void> handshake(weft::io::tcp_stream s) {
  auto t =
      co_await weft::io::tls_stream<weft::io::tcp_stream>::connect(std::move(s), {.server_name = "example.com"}, 5s);
  co_await t.shutdown();
}
