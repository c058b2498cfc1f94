// The positive control of the redis compile-fail tests: the forms that must
// go on compiling beside the refused ones (options, commands and pipelines
// as named variables; command() with any arguments, temporaries included).
#include <chrono>
#include <string>

#include "weft/redis/client.hpp"
#include "weft/redis/pool.hpp"
#include "weft/redis/script.hpp"

using namespace std::chrono_literals;
namespace redis = weft::redis;

weft::task<long long> redis_forms() {
  redis::client_options o{.host = "127.0.0.1", .port = 6380};
  redis::client c = co_await redis::client::connect(o);
  redis::client d = co_await redis::client::connect("redis://127.0.0.1:6379/1");
  co_await c.command("SET", std::string("key"), std::to_string(42));
  co_await c.command(weft::io::deadline(100ms), "GET", "key");
  const redis::command get("GET", "key");
  co_await c.execute(get);
  co_await c.execute(get, 2s);
  redis::pipeline p;
  p.add("INCR", "n").add(get);
  auto replies = co_await d.execute(p);
  const redis::script s{"return 1"};
  co_await s.run(c, 1, "key", 5);
  redis::pool pool = co_await redis::pool::connect(o, 2);
  co_await pool.command("PING");
  co_return static_cast<long long>(replies.size());
}
