// Must not compile: braced client_options inside co_await, for a pool (as
// redis_connect_braced.cpp).
// expect-error: weft::redis::pool::connect: pass client_options as a named variable
#include "weft/redis/pool.hpp"

weft::task<void> pool_braced() {
  weft::redis::pool p = co_await weft::redis::pool::connect({.port = 6380}, 4);
  co_await p.command("PING");
}
