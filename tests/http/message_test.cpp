// weft/http/message.hpp: header fields (case-insensitive lookup, repeated
// fields, injection refused with a message naming the field), the version
// names, and the response helpers (make_response, reason_phrase, http_date).
#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "weft/http/message.hpp"

namespace http = weft::http;

TEST_CASE("http message: headers keep arrival order, lookup ignores case, remove and has_token", "[http]") {
  http::headers h;
  h.add("Set-Cookie", "a=1");
  h.add("Content-Type", "text/html");
  h.add("set-cookie", "b=2");
  h.add("Connection", "keep-alive, Upgrade");
  REQUIRE(h.size() == 4);
  CHECK(h[0].name == "Set-Cookie");
  CHECK(h[2].value == "b=2");
  CHECK(h.get("SET-COOKIE") == "a=1");
  CHECK(h.get_all("Set-Cookie") == std::vector<std::string_view>{"a=1", "b=2"});
  CHECK(h.contains("content-type"));
  CHECK_FALSE(h.get("Location").has_value());
  CHECK(h.has_token("connection", "upgrade"));
  CHECK_FALSE(h.has_token("connection", "close"));
  h.set("SET-COOKIE", "c=3");  // replaces both, appended at the end
  CHECK(h.get_all("set-cookie") == std::vector<std::string_view>{"c=3"});
  CHECK(h[h.size() - 1].name == "SET-COOKIE");
  CHECK(h.remove("content-type") == 1);
  CHECK(h.remove("content-type") == 0);
  CHECK(h.size() == 2);
  h.clear();
  CHECK(h.empty());
  CHECK(http::iequals("Content-Length", "content-length"));
  CHECK_FALSE(http::iequals("Content-Length", "Content-Lengt"));
  CHECK(to_string(http::version::http_1_0) == "HTTP/1.0");
  CHECK(to_string(http::version::http_1_1) == "HTTP/1.1");
}

TEST_CASE("http headers: add and set refuse a name that is not a token, CR, LF or NUL in a value", "[http]") {
  auto message_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  http::headers h;
  h.add("X-Kept", "1");
  const std::vector<std::string> bad_names = {
      "Bad Name", "Set-Cookie: a=1", "X\r\nSet-Cookie", "X\n", std::string("X\0Y", 3), "", "X(", "\xC3\xA9"};
  for (const auto& bad : bad_names) {
    INFO("name " << bad);
    CHECK_THROWS_AS(h.add(bad, "v"), std::invalid_argument);
    CHECK_THROWS_AS(h.set(bad, "v"), std::invalid_argument);
  }
  const std::vector<std::string> bad_values = {"/x\r\nSet-Cookie: injected=1", "a\rb", "a\nb",
                                               std::string("a\0b", 3),         "\r\n", "x\n"};
  for (const auto& bad : bad_values) {
    INFO("value " << bad);
    CHECK_THROWS_AS(h.add("Location", bad), std::invalid_argument);
    CHECK_THROWS_AS(h.set("X-Kept", bad), std::invalid_argument);
  }
  // set checks before it removes: a refused value leaves the old field.
  CHECK(h.size() == 1);
  CHECK(h.get("x-kept") == "1");

  // The messages name the field, its bytes escaped.
  CHECK(message_of([&] { h.add("Location", "/x\r\nSet-Cookie: injected=1"); }) ==
        "weft::http::headers: header 'Location' value holds CR, LF or NUL");
  CHECK(message_of([&] { h.set("X\r\nSet-Cookie", "v"); }) ==
        "weft::http::headers: header name 'X\\x0d\\x0aSet-Cookie' is not a token");
  CHECK(message_of([&] { h.add("it's", "v"); }) == "no exception");  // ' is a tchar
  CHECK(message_of([&] { h.add("a b", "v"); }) == "weft::http::headers: header name 'a b' is not a token");

  // What a value may hold besides: HTAB, controls other than CR/LF/NUL
  // (RFC 9110 5.5 lets recipients keep them), obs-text, empty.
  h.add("X-Tab", "a\tb");
  h.add("X-Ctl",
        "a\x01"
        "b");
  h.add("X-Obs", "caf\xC3\xA9");
  h.add("X-Empty", "");
  h.set("X-Kept", "2");
  CHECK(h.get("x-tab") == "a\tb");
  CHECK(h.get("x-obs") == "caf\xC3\xA9");
  CHECK(h.get_all("x-kept") == std::vector<std::string_view>{"2"});
}

TEST_CASE("http headers: the token check accepts exactly the tchars of RFC 9110", "[http]") {
  const std::string_view tchar_punct = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    const bool expected = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          tchar_punct.find(static_cast<char>(c)) != std::string_view::npos;
    const std::string name(1, static_cast<char>(c));
    INFO("byte " << c);
    CHECK(http::detail::is_token(name) == expected);
    CHECK(http::detail::is_token("X-" + name + "-Y") == expected);
  }
  CHECK_FALSE(http::detail::is_token(""));
}

TEST_CASE("http message: reason_phrase, http_date, make_response", "[http]") {
  CHECK(http::reason_phrase(200) == "OK");
  CHECK(http::reason_phrase(404) == "Not Found");
  CHECK(http::reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(http::reason_phrase(799).empty());
  CHECK(http::http_date(std::chrono::system_clock::from_time_t(784111777)) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(http::http_date(std::chrono::system_clock::from_time_t(0)) == "Thu, 01 Jan 1970 00:00:00 GMT");
  auto r = http::make_response(201, "{}", "application/json");
  CHECK(r.status == 201);
  CHECK(r.body == "{}");
  CHECK(r.headers.get("content-type") == "application/json");
  CHECK(http::make_response(404, "gone").headers.get("Content-Type") == "text/plain; charset=utf-8");
  CHECK(http::make_response(200, "raw", "").headers.empty());
}
