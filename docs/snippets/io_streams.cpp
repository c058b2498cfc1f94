// Buffered readers and writers over any stream: lines, records, exact
// lengths.
#include <weft/weft.hpp>

#include <optional>
#include <string>

#include "check.hpp"

using namespace std::chrono_literals;
namespace io = weft::io;

// [start lines]
weft::task<> greeter(io::unix_stream s) {  // a line protocol: one greeting per name
  io::buffered_reader in{s};               // an lvalue: the reader refers to s
  io::buffered_writer out{s};
  while (std::optional<std::string> name = co_await in.read_line(1024, 2s)) {  // nullopt: end of stream
    std::string reply = "hello, " + *name + "\n";
    co_await out.write(reply);
    co_await out.flush();  // nothing is sent before (and nothing on destruction)
  }
}

weft::task<> line_protocol() {
  auto [a, b] = io::unix_stream::pair();  // two connected streams
  auto server = weft::spawn(greeter(std::move(b)));
  io::buffered_reader in{a};
  co_await io::write_all(a, io::as_bytes("ada\r\nbob\n"));
  CHECK(co_await in.read_line() == "hello, ada");  // without "\n" or "\r\n"
  CHECK(co_await in.read_line() == "hello, bob");
  a.shutdown_write();  // the server's read_line returns nullopt, its task ends, b closes
  co_await server;
  CHECK(co_await in.read_line() == std::nullopt);
}
// [end lines]

// [start records]
weft::task<> records() {
  auto [a, b] = io::unix_stream::pair();
  const std::string sent = "0005hello|rest" + std::string(100, 'x');
  co_await io::write_all(b, io::as_bytes(sent));
  io::buffered_reader in{std::move(a)};  // an rvalue: the reader owns the stream

  std::string length = co_await in.read_exact(4);                 // exactly 4 bytes
  std::string body = co_await in.read_exact(std::stoul(length));  // then as many as they say
  CHECK(body == "hello");
  CHECK(co_await in.read_until("|") == "");  // up to a delimiter
  try {
    co_await in.read_line(16);  // a line longer than its limit...
    CHECK(false);
  } catch (const io::line_too_long&) {
  }
  CHECK(in.buffered_text().starts_with("restxxx"));  // ...stays in the buffer, nothing is lost
}
// [end records]

int main() {
  weft::run(line_protocol());
  weft::run(records());
}
