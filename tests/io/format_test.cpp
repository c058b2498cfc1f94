// weft/io/format.hpp: addresses and the io errors through fmt.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in fmt/format.h before fmt 11)

#include <stdexcept>
#include <string>
#include <vector>

#include "weft/io.hpp"
#include "weft/io/format.hpp"

namespace io = weft::io;

namespace {

struct handshake_refused : io::tls_error {
  handshake_refused() : io::tls_error("tls: handshake refused by test") {}
};

}  // namespace

TEST_CASE("address formats as its to_string()", "[io][format]") {
  CHECK(fmt::format("{}", io::address::parse("127.0.0.1:80")) == "127.0.0.1:80");
  CHECK(fmt::format("{}", io::address::parse("[::1]:80")) == "[::1]:80");
  CHECK(fmt::format("{}", io::address::ipv4("0.0.0.0", 0)) == "0.0.0.0:0");
  CHECK(fmt::format("{}", io::address::loopback_v6(65535)) == "[::1]:65535");
  CHECK(fmt::format("{}", io::address::parse("[fe80::1%lo]:80")) == "[fe80::1%lo]:80");
  CHECK(fmt::format("{}", io::address::ipv6("fe80::1%4000000", 1)) == "[fe80::1%4000000]:1");
  CHECK(fmt::format("{}", io::address::unix_path("/run/app.sock")) == "/run/app.sock");
  CHECK(fmt::format("{}", io::address::unix_path("@weft-abstract")) == "@weft-abstract");
  CHECK(fmt::format("{}", io::address{}) == "");
  for (const char* text : {"10.1.2.3:8080", "[2001:db8::7]:443"}) {
    auto a = io::address::parse(text);
    CHECK(fmt::format("{}", a) == a.to_string());
  }
}

TEST_CASE("address takes the specs of a string", "[io][format]") {
  const auto a = io::address::parse("127.0.0.1:80");
  CHECK(fmt::format("{:>16}", a) == "    127.0.0.1:80");
  CHECK(fmt::format("{:<14}|", a) == "127.0.0.1:80  |");
  CHECK(fmt::format("{:*^16}", a) == "**127.0.0.1:80**");
  CHECK(fmt::format("{:{}}|", a, 13) == "127.0.0.1:80 |");
  CHECK(fmt::format("{:.9}", a) == "127.0.0.1");
  CHECK(fmt::format("{:4}", a) == "127.0.0.1:80");  // never cut by a width
}

TEST_CASE("addresses join and print in a line", "[io][format]") {
  std::vector<io::address> addrs = {io::address::parse("127.0.0.1:80"), io::address::parse("[::1]:80"),
                                    io::address::unix_path("/tmp/x.sock")};
  CHECK(fmt::format("{}", fmt::join(addrs, ", ")) == "127.0.0.1:80, [::1]:80, /tmp/x.sock");
  CHECK(fmt::format("listening on {} and {}", addrs[0], addrs[1]) == "listening on 127.0.0.1:80 and [::1]:80");
}

TEST_CASE("the io errors format as their what()", "[io][format]") {
  CHECK(fmt::format("{}", io::line_too_long(8192)) == "line longer than the limit of 8192 bytes");
  CHECK(fmt::format("{}", io::unexpected_eof{}) == "unexpected end of stream");
  CHECK(fmt::format("{}", io::tls_error("certificate verify failed")) == "certificate verify failed");
  io::resolve_error re(-2, "no.such.host", "Name or service not known");
  CHECK(fmt::format("{}", re) == "resolve 'no.such.host': Name or service not known");
  CHECK(fmt::format("{}", re) == re.what());
  // A type derived from one picks the same formatter, also through a base reference.
  CHECK(fmt::format("{}", handshake_refused{}) == "tls: handshake refused by test");
  try {
    throw handshake_refused{};
  } catch (const io::tls_error& e) {
    CHECK(fmt::format("failed: {}", e) == "failed: tls: handshake refused by test");
  }
#if FMT_VERSION < 100000  // later, fmt's own formatter of exceptions (see weft/runtime/format.hpp)
  CHECK(fmt::format("[{:>26}]", io::unexpected_eof{}) == "[  unexpected end of stream]");
#endif
  // The runtime's formatters come along.
  CHECK(fmt::format("{}", weft::timeout_error{}) == "weft: operation timed out");
}
