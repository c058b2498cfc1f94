// Builds against an installed weft (find_package or pkg-config) to check
// the package: headers, library and link dependencies.
#include <weft/weft.hpp>

#include <fmt/core.h>

#include <chrono>

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
  // The http module links (a response made without I/O), and weft's types
  // format with fmt (a public dependency of the package).
  auto ok = weft::http::make_response(200, "ok");
  auto text = fmt::format("{} {}", weft::io::address::parse("127.0.0.1:80"), ok);
  fmt::print("weft consumer: {} ({})\n", sum, text);
  return sum == 3 && text == "127.0.0.1:80 HTTP/1.1 200 OK" ? 0 : 1;
}
