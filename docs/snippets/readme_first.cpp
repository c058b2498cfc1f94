#include <fmt/core.h>
#include <weft/weft.hpp>
using namespace std::chrono_literals;

weft::task<int> work(int i) {
  co_await weft::sleep_for(10ms);
  co_return i* i;
}

weft::task<int> main_task() {
  auto [a, b] = co_await weft::when_all(work(3), work(4));
  auto h = weft::spawn(work(5));
  int c = co_await weft::with_timeout(1s, std::move(h));
  co_return a + b + c;
}

int main() {
  int sum = weft::run(main_task());
  fmt::print("{}\n", sum);
  return sum == 50 ? 0 : 1;
}
