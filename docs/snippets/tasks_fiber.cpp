// Fibers: plain functions on a stack of their own, waiting with
// weft::await instead of co_await.
#include <weft/weft.hpp>

#include <optional>

#include "check.hpp"

using namespace std::chrono_literals;

// [start fiber]
int sum_all(weft::channel<int>& ch) {  // a plain function, not a coroutine
  int sum = 0;
  while (std::optional<int> v = weft::await(ch.recv())) sum += *v;  // suspends only this fiber
  return sum;
}

weft::task<> fibers() {
  weft::channel<int> ch{4};
  auto h = weft::spawn_fiber([&ch] { return sum_all(ch); });  // a join_handle<int>
  for (int i = 1; i <= 10; ++i) co_await ch.send(i);
  ch.close();
  CHECK(co_await h == 55);

  int r = co_await weft::fiber(
      [] {  // a fiber as a task<int>
        weft::await(weft::sleep_for(5ms));
        return 7;
      },
      {.stack_size = 64 * 1024});
  CHECK(r == 7);
}
// [end fiber]

int main() { weft::run(fibers()); }
