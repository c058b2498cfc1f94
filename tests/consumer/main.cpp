// Builds against an installed weft (find_package or pkg-config) to check
// the package: headers, library and link dependencies.
#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

namespace {

weft::task<int> child(int i) {
  co_await weft::sleep_for(1ms);
  co_return i;
}

int square(int x) { return x * x; }  // runs in a worker process

weft::task<int> parent() {
  auto a = weft::spawn(child(1));
  auto b = weft::spawn(child(2));
  co_await weft::sleep_for(1ms);
  int x = co_await a;
  int y = co_await b;
  int z = co_await weft::spawn_process(square, 3);  // the ipc module links too
  co_return x + y + (z == 9 ? 0 : 100);
}

}  // namespace

int main() {
  int sum = weft::run(parent());
  std::printf("weft consumer: %d\n", sum);
  return sum == 3 ? 0 : 1;
}
