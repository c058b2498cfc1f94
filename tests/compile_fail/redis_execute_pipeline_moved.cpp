// Must not compile: a pipeline passed as std::move(p) (an rvalue cannot be
// told apart from a temporary, which GCC 12 frees twice inside co_await).
// expect-error: weft::redis::client::execute: pass the pipeline as a named variable
#include <utility>

#include "weft/redis/client.hpp"

weft::task<void> execute_moved(weft::redis::client& c) {
  weft::redis::pipeline p;
  p.add("INCR", "n");
  auto r = co_await c.execute(std::move(p));
  (void)r;
}
