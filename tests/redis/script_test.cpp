// weft::redis::script: EVALSHA first, EVAL when the server answers
// NOSCRIPT, SCRIPT LOAD; keys and arguments; errors from Lua. Against a
// real redis-server (redis_test_server.hpp), on both drivers.
#include <string>
#include <vector>

#include "io_test_support.hpp"
#include "redis_test_server.hpp"
#include "weft/redis/script.hpp"

using namespace weft_test;
namespace redis = weft::redis;

TEST_CASE("script: the SHA1 is the one the server computes", "[script]") {
  const redis::script s{"return 1"};
  CHECK(s.sha1() == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  CHECK(s.source() == "return 1");
}

TEST_CASE("script: EVALSHA falls back to EVAL on NOSCRIPT, then EVALSHA works", "[script]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    const redis::script take{
        "local v = redis.call('LPOP', KEYS[1]) "
        "if v then redis.call('INCRBY', KEYS[2], ARGV[1]) end "
        "return {v, redis.call('GET', KEYS[2])}"};
    co_await c.command("RPUSH", "queue", "a", "b");
    const std::string queue = "queue";
    // Never loaded: NOSCRIPT, then EVAL.
    redis::reply first = co_await take.run(c, 2, queue, "taken", 10);
    CHECK(first[0].as_string() == "a");
    CHECK(first[1].as_string() == "10");
    const std::uint64_t after_first = c.stats().commands;
    // Cached now: one EVALSHA.
    redis::reply second = co_await take.run(c, 2, queue, "taken", "10");
    CHECK(second[0].as_string() == "b");
    CHECK(second[1].as_string() == "20");
    CHECK(c.stats().commands == after_first + 1);

    // Flushed (as by a restart): NOSCRIPT again, EVAL again.
    co_await c.command("SCRIPT", "FLUSH");
    std::vector<std::string> keys{"queue", "taken"}, args{"1"};
    redis::reply third = co_await take.run(c, keys, args);
    CHECK(third[0].is_nil());
    CHECK(third[1].as_string() == "20");

    // load(): SCRIPT LOAD, answered with the same SHA1.
    co_await c.command("SCRIPT", "FLUSH");
    co_await take.load(c);
    redis::reply exists = co_await c.command("SCRIPT", "EXISTS", take.sha1());
    CHECK(exists[0].as_integer() == 1);

    // Fewer values than the keys announced: refused before anything is sent.
    CHECK_THROWS_WITH(take.run(c, 2, "only-one"), "weft::redis::script::run: 2 keys announced, 1 values given");
  }());
}

TEST_CASE("script: an error raised by the script throws redis::error", "[script]") {
  auto backend = WEFT_BOTH_BACKENDS();
  redis_server server;
  weft::runtime rt{io_options(backend)};
  rt.block_on([&]() -> weft::task<void> {
    redis::client c = co_await redis::client::connect(server.url());
    const redis::script bad{"return redis.error_reply('MYERR custom failure')"};
    std::exception_ptr e = co_await error_of(bad.run(c, 0));
    REQUIRE(e);
    try {
      std::rethrow_exception(e);
    } catch (const redis::error& err) {
      CHECK(err.code() == "MYERR");
      CHECK(err.command() == "EVAL");  // the first run falls back to EVAL
    }
    std::exception_ptr again = co_await error_of(bad.run(c, 0));
    try {
      std::rethrow_exception(again);
    } catch (const redis::error& err) {
      CHECK(err.command() == "EVALSHA");
      CHECK(err.message() == "MYERR custom failure");
    }
  }());
}
