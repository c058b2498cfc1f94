// scraper::json: escaping and the writer.
#include <catch2/catch.hpp>

#include "json.hpp"

namespace json = scraper::json;

TEST_CASE("json: strings are escaped and always valid UTF-8", "[scraper][json]") {
  CHECK(json::quote("plain") == "\"plain\"");
  CHECK(json::quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json::quote("l1\nl2\t\r") == "\"l1\\nl2\\t\\r\"");
  CHECK(json::quote(std::string("\x01\x1f\x7f", 3)) == "\"\\u0001\\u001f\\u007f\"");
  CHECK(json::quote(std::string("nul\0x", 5)) == "\"nul\\u0000x\"");
  CHECK(json::quote("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  // Latin-1 bytes, a truncated sequence, an overlong form, a surrogate.
  CHECK(json::quote("caf\xE9") == "\"caf\xEF\xBF\xBD\"");
  CHECK(json::quote("\xE2\x82") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CHECK(json::quote("\xC0\xAF") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CHECK(json::quote("\xED\xA0\x80") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("json: the writer places commas and colons", "[scraper][json]") {
  json::writer w;
  w.begin_object();
  w.key("url").value("http://x/");
  w.key("status").value(200);
  w.key("big").value(std::uint64_t{18446744073709551615ull});
  w.key("neg").value(-3);
  w.key("rate").value(12.5);
  w.key("nan").value(std::nan(""));
  w.key("ok").value(true);
  w.key("none").null();
  w.key("links").begin_array().value("a").value("b").end_array();
  w.key("empty").begin_array().end_array();
  w.key("words").begin_array();
  w.begin_array().value("word").value(3).end_array();
  w.end_array();
  w.key("inner").begin_object().key("k").raw("[1,2]").end_object();
  w.end_object();
  REQUIRE(w.complete());
  CHECK(w.take() == R"({"url":"http://x/","status":200,"big":18446744073709551615,"neg":-3,"rate":12.5,)"
                    R"("nan":null,"ok":true,"none":null,"links":["a","b"],"empty":[],"words":[["word",3]],)"
                    R"("inner":{"k":[1,2]}})");
  // Reusable after take().
  w.begin_array().value(0.1).end_array();
  CHECK(w.take() == "[0.1]");
}

TEST_CASE("json: writer misuse throws", "[scraper][json]") {
  json::writer w;
  CHECK_THROWS_AS(w.key("k"), std::logic_error);
  w.begin_object();
  CHECK_THROWS_AS(w.value(1), std::logic_error);
  CHECK_THROWS_AS(w.end_array(), std::logic_error);
  CHECK_THROWS_AS(w.take(), std::logic_error);
  w.key("k");
  CHECK_THROWS_AS(w.key("again"), std::logic_error);
  CHECK_THROWS_AS(w.end_object(), std::logic_error);
  w.value(1).end_object();
  CHECK_THROWS_AS(w.value(2), std::logic_error);
}
