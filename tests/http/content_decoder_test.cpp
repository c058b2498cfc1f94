// weft::http::content_decoder on its own: gzip and deflate (zlib-wrapped
// and raw) under any split of the input, gzip members back to back,
// identity, the output bound (exact), empty and truncated bodies, corrupt
// data, a decoder moved mid-body, and parse_content_coding.
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "http_test_server.hpp"
#include "weft/http/content_decoder.hpp"

using namespace weft_test;
namespace io = weft::io;
namespace http = weft::http;

namespace {

/// The client_error that `f` throws, or nullopt.
template <class F>
std::optional<http::client_error> error_of_call(F&& f) {
  try {
    f();
  } catch (const http::client_error& e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("http content_decoder: any split decodes the same, errors are precise", "[io][http][client]") {
  const std::string text = sample_text();
  for (int bits : {31, 15, -15}) {
    const std::string z = zip(text, bits);
    auto coding = bits == 31 ? http::content_coding::gzip : http::content_coding::deflate;
    for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{7}, z.size()}) {
      http::content_decoder d{coding, 1 << 20};
      std::string out;
      for (std::size_t i = 0; i < z.size(); i += step) d.feed(io::as_bytes(std::string_view(z).substr(i, step)), out);
      d.finish();
      INFO("bits " << bits << " step " << step);
      CHECK(out == text);
    }
  }
  // Two gzip members back to back are one body.
  {
    http::content_decoder d{http::content_coding::gzip, 1 << 20};
    std::string out;
    d.feed(io::as_bytes(zip("hello ", 31) + zip("world", 31)), out);
    d.finish();
    CHECK(out == "hello world");
  }
  // Data after a deflate stream, a truncated stream, the bound.
  {
    http::content_decoder d{http::content_coding::deflate, 1 << 20};
    std::string out;
    CHECK_THROWS_AS(d.feed(io::as_bytes(zip("abc", 15) + "junk"), out), http::client_error);
  }
  {
    http::content_decoder d{http::content_coding::gzip, 1 << 20};
    std::string out;
    std::string z = zip(text, 31);
    d.feed(io::as_bytes(std::string_view(z).substr(0, 10)), out);
    try {
      d.finish();
      FAIL("finish accepted a truncated stream");
    } catch (const http::client_error& e) {
      CHECK(e.code() == http::client_errc::bad_encoding);
      CHECK(std::string(e.what()).find("truncated") != std::string::npos);
    }
  }
  {
    http::content_decoder d{http::content_coding::gzip, 1000};
    std::string out;
    try {
      d.feed(io::as_bytes(zip(text, 31)), out);
      FAIL("the bound was not applied");
    } catch (const http::client_error& e) {
      CHECK(e.code() == http::client_errc::response_too_large);
    }
    CHECK(out.size() <= 1000);
  }
  CHECK(http::parse_content_coding("gzip") == http::content_coding::gzip);
  CHECK(http::parse_content_coding("X-GZIP") == http::content_coding::gzip);
  CHECK(http::parse_content_coding("identity, deflate") == http::content_coding::deflate);
  CHECK(http::parse_content_coding("") == http::content_coding::identity);
  CHECK_FALSE(http::parse_content_coding("gzip, br").has_value());
  CHECK_FALSE(http::parse_content_coding("br").has_value());
  CHECK(http::to_string(http::client_errc::redirect_loop) == "redirect_loop");
}

TEST_CASE("http content_decoder: identity passes bytes through, up to the bound", "[http][content_decoder]") {
  http::content_decoder d{http::content_coding::identity, 6};
  std::string out;
  d.feed(io::as_bytes("abc"), out);
  d.feed({}, out);
  CHECK(out == "abc");
  CHECK(d.total_out() == 3);
  d.feed(io::as_bytes("def"), out);
  CHECK(out == "abcdef");
  CHECK(d.total_out() == 6);
  auto e = error_of_call([&] { d.feed(io::as_bytes("g"), out); });
  REQUIRE(e);
  CHECK(e->code() == http::client_errc::response_too_large);
  CHECK(e->url().empty());
  CHECK(std::string(e->what()) == "body exceeds max_response_bytes (6)");
  CHECK(e->detail() == e->what());
  CHECK(out == "abcdef");
  CHECK(d.total_out() == 6);
  d.finish();
}

TEST_CASE("http content_decoder: the bound is exact, total_out counts decoded bytes", "[http][content_decoder]") {
  const std::string text = sample_text();
  const std::string gz = zip(text, 31);
  {
    http::content_decoder d{http::content_coding::gzip, text.size()};
    std::string out;
    d.feed(io::as_bytes(gz), out);
    d.finish();
    CHECK(out == text);
    CHECK(d.total_out() == text.size());
  }
  {
    http::content_decoder d{http::content_coding::gzip, text.size() - 1};
    std::string out;
    auto e = error_of_call([&] { d.feed(io::as_bytes(gz), out); });
    REQUIRE(e);
    CHECK(e->code() == http::client_errc::response_too_large);
    CHECK(std::string(e->what()) ==
          "decoded body exceeds max_response_bytes (" + std::to_string(text.size() - 1) + ")");
    CHECK(out.size() < text.size());
    CHECK(d.total_out() == out.size());
  }
}

TEST_CASE("http content_decoder: an empty body is accepted, a cut one is truncated", "[http][content_decoder]") {
  for (auto coding : {http::content_coding::gzip, http::content_coding::deflate}) {
    http::content_decoder d{coding, 1 << 20};
    std::string out;
    d.feed({}, out);
    d.finish();  // no body at all: HEAD, 204, 304
    CHECK(out.empty());
    CHECK(d.total_out() == 0);
  }
  // One byte of deflate: not even its two header bytes.
  http::content_decoder d{http::content_coding::deflate, 1 << 20};
  std::string out;
  d.feed(io::as_bytes(zip("abc", 15).substr(0, 1)), out);
  auto e = error_of_call([&] { d.finish(); });
  REQUIRE(e);
  CHECK(e->code() == http::client_errc::bad_encoding);
  CHECK(e->url().empty());
  CHECK(std::string(e->what()) == "deflate body: truncated (the stream did not end)");
}

TEST_CASE("http content_decoder: corrupt data is bad_encoding, naming the coding", "[http][content_decoder]") {
  http::content_decoder d{http::content_coding::gzip, 1 << 20};
  std::string out;
  auto e = error_of_call([&] { d.feed(io::as_bytes("this is not gzip data"), out); });
  REQUIRE(e);
  CHECK(e->code() == http::client_errc::bad_encoding);
  CHECK_THAT(std::string(e->what()), Catch::StartsWith("gzip body: "));
  CHECK(out.empty());
}

TEST_CASE("http content_decoder: a decoder moved mid-body goes on where it was", "[http][content_decoder]") {
  const std::string text = sample_text();
  const std::string raw = zip(text, -15);
  const std::string_view all = raw;
  const std::size_t third = all.size() / 3;
  std::string out;
  http::content_decoder first{http::content_coding::deflate, 1 << 20};
  first.feed(io::as_bytes(all.substr(0, third)), out);
  http::content_decoder second{std::move(first)};
  second.feed(io::as_bytes(all.substr(third, third)), out);
  http::content_decoder third_one{http::content_coding::gzip, 1};
  third_one = std::move(second);
  third_one.feed(io::as_bytes(all.substr(2 * third)), out);
  third_one.finish();
  CHECK(out == text);
  CHECK(third_one.total_out() == text.size());
}

TEST_CASE("http content_decoder: parse_content_coding trims, skips identity, refuses stacks",
          "[http][content_decoder]") {
  CHECK(http::parse_content_coding("identity") == http::content_coding::identity);
  CHECK(http::parse_content_coding(" gzip\t") == http::content_coding::gzip);
  CHECK(http::parse_content_coding("x-gzip") == http::content_coding::gzip);
  CHECK(http::parse_content_coding("DEFLATE") == http::content_coding::deflate);
  CHECK(http::parse_content_coding("gzip, identity") == http::content_coding::gzip);
  CHECK_FALSE(http::parse_content_coding("gzip, gzip").has_value());
  CHECK_FALSE(http::parse_content_coding("deflate, gzip").has_value());
  CHECK_FALSE(http::parse_content_coding("compress").has_value());
}
