// spawn_process: one function in a worker process, awaited like a task.
#include <weft/weft.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "check.hpp"

using namespace std::chrono_literals;

// [start spawn]
std::uint64_t count_primes(std::uint64_t lo, std::uint64_t hi) {  // runs in a worker process
  std::uint64_t n = 0;
  for (std::uint64_t x = std::max<std::uint64_t>(lo, 2); x < hi; ++x) {
    bool prime = true;
    for (std::uint64_t d = 2; d * d <= x && prime; ++d) prime = x % d != 0;
    n += prime;
  }
  return n;
}

weft::task<> offload() {
  std::uint64_t n = co_await weft::spawn_process(count_primes, 0, 100'000);  // the worker threads stay free
  CHECK(n == 9592);

  auto a = weft::spawn_process(count_primes, 0, 50'000);        // both start now,
  auto b = weft::spawn_process(count_primes, 50'000, 100'000);  // in two processes
  CHECK(co_await a + co_await b == 9592);                       // join_handles, as from weft::spawn
}
// [end spawn]

// [start failures]
int throws(int x) { throw std::out_of_range("bad x: " + std::to_string(x)); }
int exits(int code) { std::_Exit(code); }
int hangs(int) {
  for (;;) ::pause();
}

weft::task<> failures() {
  try {
    co_await weft::spawn_process(throws, 7);
    CHECK(false);
  } catch (const weft::ipc::remote_error& e) {  // the exception, by type name and message
    CHECK(e.type_name() == "std::out_of_range" && e.message() == "bad x: 7");
  }
  try {
    co_await weft::spawn_process(exits, 3);
    CHECK(false);
  } catch (const weft::ipc::worker_crashed& e) {  // the worker died (and was replaced)
    CHECK(e.exit_code() == 3 && e.signal() == 0);
  }
  try {
    co_await weft::with_timeout(100ms, weft::spawn_process(hangs, 0));
    CHECK(false);
  } catch (const weft::timeout_error&) {  // the worker was killed at the deadline, and replaced
  }
  CHECK(co_await weft::spawn_process(count_primes, 0, 10) == 4);  // the pool goes on
}
// [end failures]

int main() {
  weft::run(offload());
  weft::run(failures());
}
