// The HTTP/1.1 parsers: incremental, strict, no I/O of their own.
#include <weft/weft.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"

namespace http = weft::http;

// [start feed]
// Two pipelined requests, as they might arrive on one connection.
constexpr std::string_view wire =
    "POST /submit HTTP/1.1\r\nHost: example.org\r\nContent-Length: 5\r\n\r\nhello"
    "GET /next HTTP/1.1\r\nHost: example.org\r\n\r\n";

std::vector<std::string> parse_in_pieces(std::size_t piece) {
  http::request_parser p;
  std::vector<std::string> seen;
  std::string body;
  for (std::size_t at = 0; at < wire.size(); at += piece) {
    std::string_view bytes = wire.substr(at, piece);  // what one read returned
    for (;;) {
      http::parse_result r = p.feed(bytes);
      bytes.remove_prefix(r.consumed);
      if (r.event == http::parse_event::need_more) break;  // read more, feed it
      if (r.event == http::parse_event::error) throw http::parse_exception(p.error(), p.error_message());
      if (r.event == http::parse_event::headers_done) seen.push_back(p.message().method + " " + p.message().target);
      body.append(reinterpret_cast<const char*>(r.body.data()), r.body.size());  // points into `bytes`
      if (r.event == http::parse_event::message_complete) seen.push_back("body '" + std::exchange(body, "") + "'");
    }
  }
  return seen;
}
// [end feed]

int main() {
  const std::vector<std::string> want{"POST /submit", "body 'hello'", "GET /next", "body ''"};
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, wire.size()})
    CHECK(parse_in_pieces(piece) == want);  // any split parses the same

  // [start whole]
  http::request req = http::parse_request("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(req.target == "/a?b=1" && !req.keep_alive);
  CHECK(req.headers.get("HOST") == "x");  // names compare case-insensitively

  http::response res =
      http::parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  CHECK(res.status == 200 && res.chunked && res.body == "hello");
  // [end whole]

  // [start strict]
  http::request_parser p;
  http::parse_result r = p.feed("GET / HTTP/1.1\nHost: x\n\n");  // bare LF
  CHECK(r.event == http::parse_event::error && p.error() == http::parse_error::bad_line_ending);

  http::request_parser smuggled;
  smuggled.feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(smuggled.error() == http::parse_error::transfer_encoding_with_content_length);

  http::request_parser small{http::parser_limits{.max_header_count = 2}};
  small.feed("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
  CHECK(small.error() == http::parse_error::too_many_headers);  // a server answers 431

  try {
    http::parse_request("GET / HTTP/1.1\r\nHost: x\r\n");  // the blank line never came
    CHECK(false);
  } catch (const http::parse_exception& e) {
    CHECK(e.code() == http::parse_error::incomplete_message);
  }

  http::headers h;
  try {
    h.add("X-Note", "a\r\nSet-Cookie: evil=1");  // header injection is refused
    CHECK(false);
  } catch (const std::invalid_argument&) {
  }
  // [end strict]
}
