// weft::io::address: parsing and formatting IPv4, IPv6 (brackets, scope)
// and Unix paths (with abstract '@' names), and the errors bad input gets.
// No I/O here, so no runtime and no backends.
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdexcept>
#include <string>

#include "io_fault_support.hpp"

namespace io = weft::io;
using namespace std::string_literals;

namespace {

/// The message of the std::invalid_argument that f throws ("" if none).
template <class F>
std::string invalid_argument_message(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("address: IPv4 parse and format", "[io][address]") {
  auto a = io::address::parse("127.0.0.1:8080");
  CHECK(a.is_ipv4());
  CHECK(a.family() == AF_INET);
  CHECK(a.port() == 8080);
  CHECK(a.ip() == "127.0.0.1");
  CHECK(a.to_string() == "127.0.0.1:8080");
  CHECK(a.size() == sizeof(::sockaddr_in));
  CHECK(a == io::address::ipv4("127.0.0.1", 8080));
  CHECK(a == io::address::parse("127.0.0.1", 8080));
  CHECK(a == io::address::loopback_v4(8080));
  CHECK_FALSE(a == io::address::loopback_v4(8081));
  CHECK(io::address::parse("0.0.0.0:0").to_string() == "0.0.0.0:0");
  CHECK(io::address::parse("255.255.255.255:65535").port() == 65535);
}

TEST_CASE("address: IPv6 parse and format, with brackets", "[io][address]") {
  auto a = io::address::parse("[::1]:443");
  CHECK(a.is_ipv6());
  CHECK(a.port() == 443);
  CHECK(a.ip() == "::1");
  CHECK(a.to_string() == "[::1]:443");
  CHECK(a.size() == sizeof(::sockaddr_in6));
  CHECK(a == io::address::loopback_v6(443));
  CHECK(a == io::address::parse("::1", 443));
  // Formatting is canonical (RFC 5952): lower case, longest zero run elided.
  CHECK(io::address::parse("[2001:DB8:0:0:0:0:0:1]:80").to_string() == "[2001:db8::1]:80");
  CHECK(io::address::parse("[::]:0").to_string() == "[::]:0");
  // An IPv4-mapped address stays IPv6.
  auto m = io::address::parse("[::ffff:127.0.0.1]:80");
  CHECK(m.is_ipv6());
  CHECK(m.to_string() == "[::ffff:127.0.0.1]:80");
}

TEST_CASE("address: IPv6 scope, by interface name or index, survives formatting", "[io][address]") {
  const unsigned lo = ::if_nametoindex("lo");
  REQUIRE(lo != 0);
  auto by_name = io::address::parse("[fe80::1%lo]:80");
  auto by_index = io::address::ipv6("fe80::1%" + std::to_string(lo), 80);
  CHECK(reinterpret_cast<const ::sockaddr_in6*>(by_name.data())->sin6_scope_id == lo);
  CHECK(by_name == by_index);
  CHECK(by_name.ip() == "fe80::1%lo");
  CHECK(by_name.to_string() == "[fe80::1%lo]:80");
  CHECK(io::address::parse(by_name.to_string()) == by_name);
  // An index with no interface behind it is kept as a number.
  auto unknown = io::address::ipv6("fe80::1%4000000", 1);
  CHECK(unknown.to_string() == "[fe80::1%4000000]:1");
  CHECK(io::address::parse(unknown.to_string()) == unknown);
}

TEST_CASE("address: Unix paths and abstract names", "[io][address]") {
  auto p = io::address::unix_path("/run/app.sock");
  CHECK(p.is_unix());
  CHECK(p.port() == 0);
  CHECK(p.ip() == "/run/app.sock");
  CHECK(p.to_string() == "/run/app.sock");
  CHECK(p.size() == offsetof(::sockaddr_un, sun_path) + std::string("/run/app.sock").size() + 1);

  auto a = io::address::unix_path("@weft-abstract");
  CHECK(a.is_unix());
  CHECK(a.to_string() == "@weft-abstract");
  // Abstract names have no terminating NUL: the length counts.
  CHECK(a.size() == offsetof(::sockaddr_un, sun_path) + std::string("@weft-abstract").size());
  CHECK(reinterpret_cast<const ::sockaddr_un*>(a.data())->sun_path[0] == '\0');
  CHECK_FALSE(a == io::address::unix_path("@weft-abstrac"));

  std::string longest(sizeof(::sockaddr_un::sun_path) - 1, 'x');
  CHECK(io::address::unix_path(longest).to_string() == longest);
}

TEST_CASE("address: a copied sockaddr, and the empty address", "[io][address]") {
  auto a = io::address::parse("[::1]:9");
  io::address copy(a.data(), a.size());
  CHECK(copy == a);
  io::address empty;
  CHECK(empty.family() == AF_UNSPEC);
  CHECK(empty.size() == 0);
  CHECK(empty.port() == 0);
  CHECK(empty.to_string().empty());
  ::sockaddr_storage big{};
  CHECK_THROWS_AS(io::address(reinterpret_cast<const ::sockaddr*>(&big), sizeof big + 1), std::invalid_argument);
}

TEST_CASE("address: bad input is std::invalid_argument with a precise message", "[io][address]") {
  struct bad_case {
    std::string input, expected;
  };
  auto c = GENERATE(values<bad_case>({
      {"127.0.0.1", "missing port"},
      {"127.0.0.1:", "missing port"},
      {"[::1]", "missing port"},
      {"[::1]:", "missing port"},
      {"127.0.0.1:65536", "port out of range"},
      {"127.0.0.1:99999999999", "port out of range"},
      {"[::1]:70000", "port out of range"},
      {"127.0.0.1:-1", "not a port number"},
      {"127.0.0.1:8o", "not a port number"},
      {"127.0.0.1: 80", "not a port number"},
      {"127.0.0.1:+80", "not a port number"},
      {"::1:80", "IPv6 addresses need brackets"},
      {"[::1:80", "expected [IPv6]:port"},
      {"[::1]80", "expected [IPv6]:port"},
      {"localhost:80", "not an IPv4 address"},
      {"256.1.1.1:80", "not an IPv4 address"},
      {"1.2.3:80", "not an IPv4 address"},
      {":80", "not an IPv4 address"},
      {"[1.2.3.4]:80", "not an IPv6 address"},
      {"[fe80::1%]:80", "IPv6 scope"},
      {"[fe80::1%no-such-if0]:80", "IPv6 scope"},
      {"", "missing port"},
      {"garbage", "missing port"},
  }));
  INFO("input: '" << c.input << "'");
  std::string msg = invalid_argument_message([&] { (void)io::address::parse(c.input); });
  CHECK_THAT(msg, Catch::Contains(c.expected));
  CHECK_THAT(msg, Catch::Contains("'" + c.input + "'"));
}

TEST_CASE("address: embedded NUL bytes and bad Unix paths are rejected", "[io][address]") {
  CHECK_THAT(invalid_argument_message([] { (void)io::address::ipv4("127.0.0.1\0junk"s, 80); }),
             Catch::Contains("not an IPv4 address"));
  CHECK_THAT(invalid_argument_message([] { (void)io::address::ipv6("::1\0junk"s, 80); }),
             Catch::Contains("not an IPv6 address"));
  CHECK_THAT(invalid_argument_message([] { (void)io::address::parse("127.0.0.1\0:80"s); }),
             Catch::Contains("not an IPv4 address"));
  CHECK_THAT(invalid_argument_message([] { (void)io::address::unix_path(""); }), Catch::Contains("empty"));
  CHECK_THAT(invalid_argument_message([] { (void)io::address::unix_path(std::string(200, 'x')); }),
             Catch::Contains("too long"));
  CHECK_THAT(invalid_argument_message([] { (void)io::address::unix_path("/tmp/a\0b"s); }), Catch::Contains("NUL"));
  CHECK_THROWS_AS(io::address::ipv4("::1", 1), std::invalid_argument);
  CHECK_THROWS_AS(io::address::ipv6("127.0.0.1", 1), std::invalid_argument);
}
