// weft::redis::command: the RESP encoding of commands, binary-safe, with
// numbers in decimal.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "weft/redis/command.hpp"

namespace redis = weft::redis;

TEST_CASE("command: encodes a RESP array of bulk strings", "[command]") {
  const redis::command c("SET", "key", "value");
  CHECK(c.name() == "SET");
  CHECK(c.size() == 3);
  CHECK(c.encoded() == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
}

TEST_CASE("command: values are binary-safe", "[command]") {
  const std::string v("a\r\nb\0c", 6);
  const std::string_view k = "k";
  redis::command c("SET", k, v);
  CHECK(c.encoded() == std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\na\r\nb\0c\r\n", 32));
  redis::command empty("SET", "k", "");
  CHECK(empty.encoded() == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST_CASE("command: integers and floating point in decimal", "[command]") {
  redis::command c("X", 42, -7LL, std::numeric_limits<std::uint64_t>::max(), short{3}, 1.5, 0.1);
  CHECK(
      c.encoded() ==
      "*7\r\n$1\r\nX\r\n$2\r\n42\r\n$2\r\n-7\r\n$20\r\n18446744073709551615\r\n$1\r\n3\r\n$3\r\n1.5\r\n$3\r\n0.1\r\n");
  redis::command inf("ZADD", "z", std::numeric_limits<double>::infinity(), "m");
  CHECK(inf.encoded() == "*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\ninf\r\n$1\r\nm\r\n");
  CHECK_THROWS_AS(redis::command("ZADD", "z", std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
}

TEST_CASE("command: arguments added one by one", "[command]") {
  redis::command c("RPUSH", "list");
  for (int i = 0; i < 3; ++i) c.arg(i);
  c.arg(std::string("end"));
  CHECK(c.size() == 6);
  std::string out = "prefix";
  c.encode_to(out);
  CHECK(out == "prefix*6\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$3\r\nend\r\n");
}

TEST_CASE("command: an empty name is refused", "[command]") {
  CHECK_THROWS_WITH(redis::command(""), "weft::redis::command: the command name is empty");
}
