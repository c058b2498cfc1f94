// Must not compile: braced client_options inside co_await (GCC 12 frees the
// temporary twice: its host, password and TLS strings).
// expect-error: weft::redis::client::connect: pass client_options as a named variable
#include "weft/redis/client.hpp"

weft::task<void> connect_braced() {
  weft::redis::client c = co_await weft::redis::client::connect({.host = "cache.internal", .port = 6380});
  co_await c.command("PING");
}
