// The umbrella header weft/redis.hpp on its own: it compiles without any
// other weft header, and a few names from the headers it gathers work
// without a runtime or a server. Each header's own tests are in
// <header>_test.cpp.
#include <catch2/catch.hpp>

#include "weft/redis.hpp"

namespace redis = weft::redis;

TEST_CASE("weft/redis.hpp: encode, parse a URL, name the errors", "[redis][umbrella]") {
  redis::pipeline p;
  p.add("SET", "k", 1);
  CHECK(p.encoded() == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n");
  CHECK(redis::parse_url("redis://h:1/2").db == 2);
  CHECK(redis::reply::integer(5).as_integer() == 5);
  CHECK(redis::error("GET", "ERR x").code() == "ERR");
  const redis::script s{"return 1"};
  CHECK(s.sha1().size() == 40);
  CHECK(std::is_move_constructible_v<redis::client>);
  CHECK_FALSE(std::is_copy_constructible_v<redis::client>);
}
