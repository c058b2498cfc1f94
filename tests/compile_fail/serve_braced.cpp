// Must not compile: braced serve_options inside co_await (GCC 12 frees the
// temporary twice: its std::function members).
// expect-error: weft::io::serve: pass serve_options as a named variable
#include "weft/io/serve.hpp"
#include "weft/io/tcp.hpp"

weft::task<void> run(weft::io::tcp_listener& l) {
  co_await weft::io::serve(l, [](weft::io::tcp_stream) -> weft::task<void> { co_return; }, {.max_connections = 100});
}
