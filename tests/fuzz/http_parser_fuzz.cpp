// libFuzzer target for weft::http::request_parser and response_parser.
//
// Input: one flags byte, then the bytes of the stream. The flags pick the
// parser (request or response), expect_no_body, the body mode, small
// limits, and seed the split points. Each input is parsed whole, split at
// pseudo-random points, and (when short) one byte at a time; the runs must
// agree, and the parser's promises (consumed within the input, body pieces
// inside it, the body limit) must hold. Any difference aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "weft/http/parser.hpp"

namespace http = weft::http;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "http_parser_fuzz: %s\n", what);
  std::abort();
}

struct outcome {
  std::vector<std::string> messages;
  http::parse_error error = http::parse_error::none;
  bool operator==(const outcome&) const = default;
};

std::string describe(const http::message_base& m, const std::string& body) {
  std::string s(to_string(m.version));
  for (const auto& f : m.headers) s += "|" + f.name + ":" + f.value;
  s += "|T";
  for (const auto& f : m.trailers) s += "|" + f.name + ":" + f.value;
  s += "|" + body + (m.keep_alive ? "|ka" : "|close");
  return s;
}
std::string describe(const http::request& m, const std::string& body) {
  return m.method + " " + m.target + " " + describe(static_cast<const http::message_base&>(m), body);
}
std::string describe(const http::response& m, const std::string& body) {
  return std::to_string(m.status) + " " + m.reason + " " + describe(static_cast<const http::message_base&>(m), body);
}

struct config {
  bool no_body;
  http::body_mode mode;
  http::parser_limits limits;
};

template <class Parser>
outcome run(std::string_view data, const std::vector<std::size_t>& cuts, const config& c) {
  Parser p(c.limits, c.mode);
  if constexpr (std::is_same_v<Parser, http::response_parser>) p.expect_no_body(c.no_body);
  outcome out;
  std::string body;
  auto handle = [&](const http::parse_result& r) {
    body.append(reinterpret_cast<const char*>(r.body.data()), r.body.size());
    if (r.event == http::parse_event::message_complete) {
      if (c.mode == http::body_mode::accumulate) body = p.message().body;
      if (body.size() > c.limits.max_body_bytes) fail("body over max_body_bytes");
      out.messages.push_back(describe(p.message(), body));
      body.clear();
    }
    if (r.event == http::parse_event::error) {
      out.error = p.error();
      if (p.error() == http::parse_error::none || p.error_message().empty()) fail("error without a code");
    }
  };
  std::size_t from = 0;
  for (std::size_t k = 0; k <= cuts.size(); ++k) {
    std::size_t to = k < cuts.size() ? cuts[k] : data.size();
    std::string_view piece = data.substr(from, to - from);
    from = to;
    for (;;) {
      auto r = p.feed(piece);
      if (r.consumed > piece.size()) fail("consumed more than fed");
      auto* lo = reinterpret_cast<const std::byte*>(piece.data());
      if (!r.body.empty() && (r.body.data() < lo || r.body.data() + r.body.size() > lo + r.consumed))
        fail("body piece outside the bytes consumed");
      if (r.event == http::parse_event::need_more && r.consumed != piece.size()) fail("need_more with bytes left");
      piece.remove_prefix(r.consumed);
      handle(r);
      if (r.event == http::parse_event::error) return out;
      if (r.event == http::parse_event::need_more) break;
    }
  }
  handle(p.finish());
  return out;
}

template <class Parser>
void check(std::string_view data, std::uint8_t seed, const config& c) {
  auto whole = run<Parser>(data, {}, c);
  std::vector<std::size_t> cuts;
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t at = 0; at < data.size();) {
    x = x * 1103515245u + 12345u;
    at += 1 + (x >> 16) % 16;
    if (at < data.size()) cuts.push_back(at);
  }
  if (!(run<Parser>(data, cuts, c) == whole)) fail("random splits parse differently");
  if (data.size() <= 512) {
    cuts.clear();
    for (std::size_t i = 1; i < data.size(); ++i) cuts.push_back(i);
    if (!(run<Parser>(data, cuts, c) == whole)) fail("byte-at-a-time parses differently");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t flags = bytes[0];
  std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);
  config c{(flags & 2) != 0, (flags & 4) ? http::body_mode::accumulate : http::body_mode::deliver, {}};
  if (flags & 8) c.limits = {64, 4, 128, 32};  // small: the limits get hit
  const std::uint8_t seed = flags >> 4;
  if (flags & 1) {
    check<http::response_parser>(data, seed, c);
    try {
      (void)http::parse_response(data, c.limits, c.no_body);
    } catch (const http::parse_exception&) {
    }
  } else {
    check<http::request_parser>(data, seed, c);
    try {
      (void)http::parse_request(data, c.limits);
    } catch (const http::parse_exception&) {
    }
  }
  return 0;
}
