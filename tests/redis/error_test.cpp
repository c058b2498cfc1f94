// weft::redis::error and connection_error: what they carry and say.
// How the client throws them: client_test.cpp.
#include <catch2/catch.hpp>

#include "weft/redis/error.hpp"

namespace redis = weft::redis;

TEST_CASE("error: names the command and keeps the server's message and code", "[error]") {
  const redis::error e("GET", "WRONGTYPE Operation against a key holding the wrong kind of value");
  CHECK(std::string(e.what()) == "redis GET: WRONGTYPE Operation against a key holding the wrong kind of value");
  CHECK(e.command() == "GET");
  CHECK(e.code() == "WRONGTYPE");
  CHECK(e.message() == "WRONGTYPE Operation against a key holding the wrong kind of value");
  CHECK(redis::error("X", "NOSCRIPT").code() == "NOSCRIPT");
  const redis::connection_error c("redis 127.0.0.1:6379: the server closed the connection");
  CHECK(std::string(c.what()) == "redis 127.0.0.1:6379: the server closed the connection");
}
