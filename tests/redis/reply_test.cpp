// weft::redis::reply: the kinds, the checked accessors and their errors,
// the rendering used in messages.
#include <catch2/catch.hpp>

#include "weft/redis/reply.hpp"

namespace redis = weft::redis;

TEST_CASE("reply: each kind answers its own accessor", "[reply]") {
  CHECK(redis::reply().is_nil());
  CHECK(redis::reply::nil().kind() == redis::reply_kind::nil);
  CHECK(redis::reply::integer(-7).as_integer() == -7);
  CHECK(redis::reply::simple_string("OK").as_string() == "OK");
  CHECK(redis::reply::simple_string("OK").kind() == redis::reply_kind::simple_string);
  const std::string binary("a\r\n\0b", 5);
  CHECK(redis::reply::bulk_string(binary).as_string() == binary);
  CHECK(redis::reply::bulk_string(binary).is_string());
  CHECK(redis::reply::error("ERR no").as_error() == "ERR no");
  CHECK(redis::reply::error("ERR no").is_error());

  std::vector<redis::reply> inner{redis::reply::integer(1), redis::reply::nil()};
  std::vector<redis::reply> outer{redis::reply::bulk_string("x"), redis::reply::array(inner)};
  const redis::reply a = redis::reply::array(outer);
  REQUIRE(a.is_array());
  CHECK(a.size() == 2);
  CHECK(a[0].as_string() == "x");
  CHECK(a[1][0].as_integer() == 1);
  CHECK(a[1][1].is_nil());
  CHECK(a == redis::reply::array(outer));
  CHECK_FALSE(a == redis::reply::array(inner));
}

TEST_CASE("reply: a wrong-kind accessor throws reply_type_error naming both kinds", "[reply]") {
  const redis::reply s = redis::reply::bulk_string("12");
  try {
    (void)s.as_integer();
    FAIL("no exception");
  } catch (const redis::reply_type_error& e) {
    CHECK(std::string(e.what()) == "weft::redis::reply: wanted an integer, the reply is \"12\"");
  }
  CHECK_THROWS_AS(redis::reply::integer(1).as_string(), redis::reply_type_error);
  CHECK_THROWS_AS(redis::reply::nil().as_array(), redis::reply_type_error);
  CHECK_THROWS_AS(redis::reply::simple_string("OK").as_error(), redis::reply_type_error);
  CHECK_THROWS_AS(redis::reply::error("ERR x").as_string(), redis::reply_type_error);
  CHECK_THROWS_AS(redis::reply::integer(1)[0], redis::reply_type_error);
  CHECK_THROWS_AS(redis::reply::array({})[0], std::out_of_range);
}

TEST_CASE("reply: as_optional_string is nullopt for nil only", "[reply]") {
  CHECK_FALSE(redis::reply::nil().as_optional_string().has_value());
  CHECK(redis::reply::bulk_string("v").as_optional_string() == "v");
  CHECK_THROWS_AS(redis::reply::integer(3).as_optional_string(), redis::reply_type_error);
}

TEST_CASE("reply: to_string renders every kind, escaped and cut", "[reply]") {
  std::vector<redis::reply> e{redis::reply::integer(42), redis::reply::bulk_string(std::string("a\r\n\0", 4)),
                              redis::reply::nil(), redis::reply::error("ERR bad")};
  CHECK(redis::reply::array(e).to_string() == "[42, \"a\\r\\n\\x00\", (nil), (error) ERR bad]");
  const std::string big(100, 'x');
  CHECK(redis::reply::bulk_string(big).to_string() == "\"" + std::string(64, 'x') + "\"... (100 bytes)");
  CHECK(redis::to_string(redis::reply_kind::bulk_string) == "bulk string");
}
