// Tasks are lazy: nothing runs until a task is awaited (or spawned).
#include <fmt/core.h>
#include <weft/weft.hpp>

#include "check.hpp"

// [start lazy]
int started = 0;

weft::task<int> answer() {
  ++started;  // runs only once the task is awaited
  co_return 42;
}

weft::task<int> twice() {
  weft::task<int> t = answer();  // a task object: nothing has run yet
  CHECK(started == 0);
  int a = co_await t;         // runs answer() to the end, right here
  int b = co_await answer();  // a temporary task, awaited at once
  CHECK(started == 2);
  co_return a + b;
}
// [end lazy]

int main() {
  // [start run]
  int v = weft::run(twice());  // a runtime for one task: one worker per core
  started = 0;
  weft::runtime rt{{.workers = 2, .thread_name = "docs"}};
  int w = rt.block_on(twice());  // the same, on a runtime of your own
  fmt::print("{} {}: {} workers on {}\n", v, w, rt.worker_count(), weft::to_string(rt.io_backend()));
  // [end run]
  CHECK(v == 84 && w == 84 && rt.worker_count() == 2);
}
