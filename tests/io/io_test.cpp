// The umbrella header weft/io.hpp on its own: it compiles without any other
// weft header, and a few names from the headers it gathers work without a
// runtime (addresses, deadlines, byte views, the stream concepts, a socket
// pair). Each header's own tests are in <header>_test.cpp.
#include <catch2/catch.hpp>

#include "weft/io.hpp"

#include <chrono>
#include <string>

namespace io = weft::io;

static_assert(io::stream<io::tcp_stream>);
static_assert(io::stream<io::unix_stream>);
static_assert(io::stream<io::buffered_reader<io::tcp_stream>>);

TEST_CASE("weft/io.hpp: addresses, deadlines, byte views and sockets", "[io][umbrella]") {
  auto at = io::address::parse("127.0.0.1:8080");
  CHECK(at.port() == 8080);
  CHECK(at.to_string() == "127.0.0.1:8080");

  io::deadline none;
  CHECK_FALSE(none);
  const auto t = weft::clock::now() + std::chrono::seconds(5);
  io::deadline at_t{t};
  CHECK(at_t.at() == t);
  CHECK(earliest(none, at_t).at() == t);

  std::string text = "bytes";
  CHECK(io::as_bytes(text).size() == 5);
  CHECK(io::as_writable_bytes(std::span<char>(text)).size() == 5);

  auto [a, b] = io::unix_stream::pair();
  CHECK(a.is_open());
  CHECK(b.is_open());
  a.close();
  CHECK_FALSE(a.is_open());
}
