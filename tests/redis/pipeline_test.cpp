// weft::redis::pipeline: commands batched into one encoding, in order.
// Sending one: client_test.cpp.
#include <catch2/catch.hpp>

#include "weft/redis/pipeline.hpp"

namespace redis = weft::redis;

TEST_CASE("pipeline: concatenates its commands' encodings and keeps their names", "[pipeline]") {
  redis::pipeline p;
  CHECK(p.empty());
  const redis::command get("GET", "k");
  p.add("SET", "k", 1).add(get).add("INCR", "n");
  CHECK(p.size() == 3);
  CHECK(p.names() == std::vector<std::string>{"SET", "GET", "INCR"});
  CHECK(p.encoded() == redis::command("SET", "k", 1).encoded() + get.encoded() + redis::command("INCR", "n").encoded());
  p.clear();
  CHECK(p.empty());
  CHECK(p.encoded().empty());
}
