// Blocking calls go to the runtime's thread pool: spawn_blocking, and
// as_completed to take the results as they come.
#include <weft/weft.hpp>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;

// [start blocking]
std::size_t count_lines(const std::string& text) {  // a plain function that blocks
  std::this_thread::sleep_for(20ms);                // (a synchronous library call, say)
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

weft::task<> blocking() {
  std::size_t n = co_await weft::spawn_blocking(count_lines, std::string("a\nb\n"));
  CHECK(n == 2);

  std::vector<weft::join_handle<std::size_t>> jobs;  // four jobs on four pool threads at once
  for (int i = 1; i <= 4; ++i) jobs.push_back(weft::spawn_blocking(count_lines, std::string(i, '\n')));
  auto stream = weft::as_completed(std::move(jobs));
  std::size_t total = 0;
  while (auto done = co_await stream.next()) {  // in the order they finish
    std::size_t lines = co_await done->handle;  // finished: at once (or rethrows)
    CHECK(lines == done->index + 1);            // index: the position in `jobs`
    total += lines;
  }
  CHECK(total == 10);
}
// [end blocking]

weft::task<std::size_t> join(weft::join_handle<std::size_t> h) { co_return co_await std::move(h); }

int main() {
  weft::runtime rt{{.max_blocking_threads = 8}};
  rt.block_on(blocking());
  auto m = rt.metrics();
  CHECK(m.blocking_threads >= 1 && m.blocking_threads <= 8);
  // From outside the runtime (any thread): rt.spawn_blocking.
  auto h = rt.spawn_blocking(count_lines, std::string("\n"));
  CHECK(rt.block_on(join(std::move(h))) == 1);
}
