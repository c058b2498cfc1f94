// Must not compile: a command built as a temporary inside co_await (GCC 12
// frees it twice: its encoded arguments).
// expect-error: weft::redis::client::execute: pass the command as a named variable
#include "weft/redis/client.hpp"

weft::task<void> execute_temporary(weft::redis::client& c) {
  weft::redis::reply r = co_await c.execute(weft::redis::command{"GET", "key"});
  (void)r;
}
