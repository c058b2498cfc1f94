// Deadlines, errors and cancellation of I/O operations.
#include <fmt/core.h>
#include <weft/weft.hpp>

#include <cstring>
#include <string>
#include <system_error>

#include "check.hpp"

using namespace std::chrono_literals;
namespace io = weft::io;

// [start deadline]
weft::task<> silent_peer() {
  auto [a, b] = io::unix_stream::pair();  // b says nothing
  std::byte buf[16];
  try {
    co_await a.read_some(buf, 20ms);  // a duration...
    CHECK(false);
  } catch (const weft::timeout_error&) {
  }
  try {
    co_await a.read_some(buf, weft::clock::now() + 20ms);  // ...or a time point
    CHECK(false);
  } catch (const weft::timeout_error&) {
  }
  co_await io::write_all(b, io::as_bytes("x"));
  CHECK(co_await a.read_some(buf, 2s) == 1);  // a read that timed out took nothing
}
// [end deadline]

// [start errors]
weft::task<> refused() {
  auto l = io::tcp_listener::bind(io::address::parse("127.0.0.1:0"));
  const io::address where = l.local_address();
  l.close();  // nobody listens there any more
  try {
    co_await io::tcp_stream::connect(where, 2s);
    CHECK(false);
  } catch (const std::system_error& e) {  // the errno, and what failed
    CHECK(e.code() == std::errc::connection_refused);
    fmt::print("{}\n", e.what());  // connect to 127.0.0.1:<port>: Connection refused
    CHECK(std::string(e.what()).starts_with("connect to " + where.to_string()));
  }
}
// [end errors]

// [start cancel]
weft::task<std::size_t> read_one(io::unix_stream& s) {
  std::byte b[1];
  co_return co_await s.read_some(b);
}

weft::task<> cancel_reads() {
  auto [a, b] = io::unix_stream::pair();
  auto h = weft::spawn(read_one(a));
  co_await weft::sleep_for(10ms);
  h.cancel();  // the task: its pending read ends with operation_cancelled
  try {
    co_await h;
    CHECK(false);
  } catch (const weft::operation_cancelled&) {
  }

  auto h2 = weft::spawn(read_one(a));
  co_await weft::sleep_for(10ms);
  a.cancel();  // the socket: every operation pending on it ends with ECANCELED
  try {
    co_await h2;
    CHECK(false);
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::operation_canceled);
  }
}
// [end cancel]

int main() {
  weft::run(silent_peer());
  weft::run(refused());
  weft::run(cancel_reads());
}
