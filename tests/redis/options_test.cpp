// weft::redis::parse_url and client_options: the redis:// and rediss://
// forms, their defaults, and the errors for bad URLs (password hidden).
#include <catch2/catch.hpp>

#include "weft/redis/options.hpp"

namespace redis = weft::redis;

TEST_CASE("options: parse_url reads host, port, password, user and db", "[options]") {
  redis::client_options o = redis::parse_url("redis://127.0.0.1:6380/3");
  CHECK(o.host == "127.0.0.1");
  CHECK(o.port == 6380);
  CHECK(o.db == 3);
  CHECK_FALSE(o.tls);
  CHECK(o.password.empty());
  CHECK(o.username.empty());

  o = redis::parse_url("redis://localhost");
  CHECK(o.host == "localhost");
  CHECK(o.port == 6379);
  CHECK(o.db == 0);

  o = redis::parse_url("redis://:p%40ss@cache.internal:7000/");
  CHECK(o.host == "cache.internal");
  CHECK(o.port == 7000);
  CHECK(o.username.empty());
  CHECK(o.password == "p@ss");
  CHECK(o.db == 0);

  o = redis::parse_url("redis://alice:secret@h/15");
  CHECK(o.username == "alice");
  CHECK(o.password == "secret");
  CHECK(o.db == 15);

  o = redis::parse_url("REDISS://[::1]:6390/1");
  CHECK(o.tls);
  CHECK(o.host == "::1");
  CHECK(o.port == 6390);
  CHECK(o.db == 1);
  CHECK(redis::server_name(o) == "[::1]:6390");
  CHECK(redis::server_name(redis::parse_url("redis://10.0.0.1")) == "10.0.0.1:6379");
}

TEST_CASE("options: bad URLs are refused, naming what is wrong", "[options]") {
  CHECK_THROWS_WITH(redis::parse_url("http://h"),
                    "weft::redis::parse_url: http://h: the scheme must be redis:// or rediss://");
  CHECK_THROWS_WITH(redis::parse_url("redis://h:0"),
                    "weft::redis::parse_url: redis://h:0: the port '0' is not a number from 1 to 65535");
  CHECK_THROWS_WITH(redis::parse_url("redis://h:99999"),
                    "weft::redis::parse_url: redis://h:99999: the port '99999' is not a number from 1 to 65535");
  CHECK_THROWS_WITH(redis::parse_url("redis://h:"), "weft::redis::parse_url: redis://h:: an empty port");
  CHECK_THROWS_WITH(redis::parse_url("redis:///0"), "weft::redis::parse_url: redis:///0: no host");
  CHECK_THROWS_WITH(redis::parse_url("redis://h/x"),
                    "weft::redis::parse_url: redis://h/x: the database 'x' is not a number from 0 up");
  CHECK_THROWS_WITH(redis::parse_url("redis://h/-1"),
                    "weft::redis::parse_url: redis://h/-1: the database '-1' is not a number from 0 up");
  CHECK_THROWS_WITH(redis::parse_url("redis://h?db=1"),
                    "weft::redis::parse_url: redis://h?db=1: query strings and fragments are not supported");
  CHECK_THROWS_WITH(redis::parse_url("redis://alice@h"),
                    "weft::redis::parse_url: redis://alice@h: a user without a password (write "
                    "redis://user:password@host or redis://:password@host)");
  CHECK_THROWS_WITH(redis::parse_url("redis://[::1:6379"),
                    "weft::redis::parse_url: redis://[::1:6379: an IPv6 address without its closing ]");
  // The password never appears in a message.
  CHECK_THROWS_WITH(redis::parse_url("redis://u:hunter2@h:x"),
                    "weft::redis::parse_url: redis://u:***@h:x: the port 'x' is not a number from 1 to 65535");
  CHECK_THROWS_WITH(redis::parse_url("redis://:bad%zz@h"),
                    "weft::redis::parse_url: redis://:***@h: a bad %-escape in the password");
  CHECK_THROWS_WITH(redis::parse_url("redis://:bad%2@h"),
                    "weft::redis::parse_url: redis://:***@h: a truncated %-escape in the password");
}

TEST_CASE("options: the defaults", "[options]") {
  const redis::client_options o;
  CHECK(o.host == "127.0.0.1");
  CHECK(o.port == 6379);
  CHECK(o.command_timeout == std::chrono::milliseconds(5000));
  CHECK(o.max_reply_bytes == std::size_t{512} << 20);
  CHECK(o.reconnect.max_attempts == 5);
}
