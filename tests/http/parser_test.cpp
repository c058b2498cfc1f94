// weft::http::request_parser and response_parser: conformance (valid and
// invalid messages), every split point of a set of messages parsing the
// same as the whole (and byte by byte), each limit giving its own error,
// pipelining, keep-alive rules, bodies without a length, and the
// accumulating convenience. No I/O and no runtime.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "weft/http/parser.hpp"

namespace http = weft::http;
using http::parse_error;

namespace {

/// What a run of a parser saw, written out so runs compare with ==.
struct outcome {
  std::vector<std::string> messages;  // one line per complete message
  parse_error error = parse_error::none;
  bool operator==(const outcome&) const = default;
};

std::string describe_fields(const http::headers& h) {
  std::string s;
  for (const auto& f : h) s += "[" + f.name + "=" + f.value + "]";
  return s;
}

std::string describe(const http::request& m, const std::string& body) {
  return m.method + " " + m.target + " " + std::string(to_string(m.version)) + " " + describe_fields(m.headers) +
         " trailers" + describe_fields(m.trailers) + " body=" + body + " keep_alive=" + (m.keep_alive ? "1" : "0");
}

std::string describe(const http::response& m, const std::string& body) {
  return std::string(to_string(m.version)) + " " + std::to_string(m.status) + " " + m.reason + " " +
         describe_fields(m.headers) + " trailers" + describe_fields(m.trailers) + " body=" + body +
         " keep_alive=" + (m.keep_alive ? "1" : "0");
}

/// Feeds the pieces in turn (and an end of stream if eof), delivering the
/// body in pieces, as a connection loop would.
template <class Parser>
outcome run(const std::vector<std::string_view>& pieces, bool eof, http::parser_limits limits = {},
            bool no_body = false) {
  Parser p(limits);
  if constexpr (std::is_same_v<Parser, http::response_parser>) p.expect_no_body(no_body);
  outcome out;
  std::string body;
  auto handle = [&](const http::parse_result& r) {
    body.append(reinterpret_cast<const char*>(r.body.data()), r.body.size());
    if (r.event == http::parse_event::message_complete) {
      out.messages.push_back(describe(p.message(), body));
      body.clear();
    }
    if (r.event == http::parse_event::error) out.error = p.error();
  };
  for (auto piece : pieces) {
    for (;;) {
      auto r = p.feed(piece);
      piece.remove_prefix(r.consumed);
      handle(r);
      if (r.event == http::parse_event::error) return out;
      if (r.event == http::parse_event::need_more) break;
    }
  }
  if (eof) handle(p.finish());
  return out;
}

/// The bytes whole, split at every point, and one byte at a time must all
/// give the same outcome; returns it.
template <class Parser>
outcome check_splits(std::string_view bytes, bool eof = false, http::parser_limits limits = {}, bool no_body = false) {
  auto whole = run<Parser>({bytes}, eof, limits, no_body);
  for (std::size_t k = 0; k <= bytes.size(); ++k) {
    auto split = run<Parser>({bytes.substr(0, k), bytes.substr(k)}, eof, limits, no_body);
    INFO("split at " << k << " of " << bytes.size());
    CHECK(split == whole);
  }
  std::vector<std::string_view> single;
  for (std::size_t k = 0; k < bytes.size(); ++k) single.push_back(bytes.substr(k, 1));
  CHECK(run<Parser>(single, eof, limits, no_body) == whole);
  return whole;
}

parse_error request_error(std::string_view bytes, http::parser_limits limits = {}) {
  return check_splits<http::request_parser>(bytes, true, limits).error;
}

parse_error response_error(std::string_view bytes, http::parser_limits limits = {}) {
  return check_splits<http::response_parser>(bytes, true, limits).error;
}

}  // namespace

TEST_CASE("http parser: a simple GET request", "[http]") {
  auto o = check_splits<http::request_parser>(
      "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
      "Accept:  text/html \t\r\n\r\n");
  REQUIRE(o.error == parse_error::none);
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0] ==
        "GET /index.html?q=1 HTTP/1.1 [Host=example.com][Accept=text/html] trailers body= keep_alive=1");
}

TEST_CASE("http parser: message fields and header lookup", "[http]") {
  auto req = http::parse_request(
      "POST /submit HTTP/1.0\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nConnection: Keep-Alive\r\n"
      "Content-Length: 5\r\n\r\nhello");
  CHECK(req.method == "POST");
  CHECK(req.target == "/submit");
  CHECK(req.version == http::version::http_1_0);
  CHECK(req.body == "hello");
  CHECK(req.keep_alive);
  CHECK(req.content_length == 5u);
  CHECK_FALSE(req.chunked);
  CHECK(req.headers.get("HOST") == "h");
  CHECK(req.headers.get("x-a") == "1");
  CHECK(req.headers.get_all("X-A") == std::vector<std::string_view>{"1", "2"});
  CHECK_FALSE(req.headers.get("missing").has_value());
  CHECK(req.headers.size() == 5);
  CHECK(req.headers[0].name == "Host");
  req.headers.set("x-A", "3");
  CHECK(req.headers.get_all("x-a") == std::vector<std::string_view>{"3"});
  CHECK(req.headers.remove("X-a") == 1);
  CHECK_FALSE(req.headers.contains("x-a"));
}

TEST_CASE("http parser: content-length and chunked request bodies", "[http]") {
  auto o = check_splits<http::request_parser>("POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world");
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0] == "POST /a HTTP/1.1 [Content-Length=11] trailers body=hello world keep_alive=1");

  o = check_splits<http::request_parser>(
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1;other\r\nhello\r\n6 ; x=\"y\"\r\n world\r\n0\r\nX-Checksum: abc\r\nX-More: d\r\n\r\n");
  REQUIRE(o.error == parse_error::none);
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0] ==
        "POST /c HTTP/1.1 [Transfer-Encoding=chunked] trailers[X-Checksum=abc][X-More=d] "
        "body=hello world keep_alive=1");

  // Several codings ending in chunked, upper-case hex sizes.
  auto req =
      http::parse_request("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n");
  CHECK(req.chunked);
  CHECK(req.body == "0123456789");
  CHECK(http::parse_request("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc").body == "abc");
  CHECK(http::parse_request("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc").body == "abc");
}

TEST_CASE("http parser: responses and their bodies", "[http]") {
  auto o = check_splits<http::response_parser>("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0] == "HTTP/1.1 200 OK [Content-Length=2] trailers body=hi keep_alive=1");

  // Reason phrases may be empty, missing, or hold spaces and obs-text.
  CHECK(http::parse_response("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n").reason.empty());
  CHECK(http::parse_response("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n").status == 404);
  CHECK(http::parse_response("HTTP/1.1 500 Very  bad\xe9\r\nContent-Length: 0\r\n\r\n").reason == "Very  bad\xe9");

  // No length: the body runs to the end of the stream, and the connection
  // cannot be reused.
  o = check_splits<http::response_parser>("HTTP/1.1 200 OK\r\n\r\nuntil the end", true);
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0] == "HTTP/1.1 200 OK  trailers body=until the end keep_alive=0");
  o = check_splits<http::response_parser>("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", true);
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0] == "HTTP/1.1 200 OK [Transfer-Encoding=gzip] trailers body=zzz keep_alive=0");
}

TEST_CASE("http parser: responses without a body", "[http]") {
  // 1xx, 204 and 304 have none whatever their headers say; the next
  // response follows at once.
  auto o = check_splits<http::response_parser>(
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
  REQUIRE(o.error == parse_error::none);
  REQUIRE(o.messages.size() == 4);
  CHECK(o.messages[0] == "HTTP/1.1 100 Continue  trailers body= keep_alive=1");
  CHECK(o.messages[1] == "HTTP/1.1 204 No Content [Content-Length=10] trailers body= keep_alive=1");
  CHECK(o.messages[3] == "HTTP/1.1 200 OK [Content-Length=1] trailers body=x keep_alive=1");

  // A response to HEAD: Content-Length says what a GET would get.
  http::parser_limits small;  // the announced length is not a body
  small.max_body_bytes = 10;
  o = check_splits<http::response_parser>("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", false, small, true);
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0] == "HTTP/1.1 200 OK [Content-Length=1000] trailers body= keep_alive=1");
  // The flag holds for one final response only (not for an interim one).
  http::response_parser p;
  p.expect_no_body();
  auto r = p.feed("HTTP/1.1 100 Continue\r\n\r\n");
  r = p.feed(std::string_view("HTTP/1.1 100 Continue\r\n\r\n").substr(r.consumed));
  REQUIRE(r.event == http::parse_event::message_complete);
  std::string_view rest = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab";
  int complete = 0;
  std::string body;
  while (!rest.empty()) {
    r = p.feed(rest);
    rest.remove_prefix(r.consumed);
    body.append(reinterpret_cast<const char*>(r.body.data()), r.body.size());
    complete += r.event == http::parse_event::message_complete;
    REQUIRE(r.event != http::parse_event::error);
  }
  CHECK(complete == 2);
  CHECK(body == "ab");
}

TEST_CASE("http parser: keep-alive rules", "[http]") {
  auto ka = [](std::string_view msg) { return http::parse_request(msg).keep_alive; };
  CHECK(ka("GET / HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK_FALSE(ka("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
  CHECK_FALSE(ka("GET / HTTP/1.0\r\n\r\n"));
  CHECK(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK_FALSE(ka("GET / HTTP/1.0\r\nConnection: keep-alive-not\r\n\r\n"));
  CHECK_FALSE(http::parse_response("HTTP/1.1 200 OK\r\n\r\nbody").keep_alive);
  CHECK_FALSE(http::parse_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
}

TEST_CASE("http parser: pipelined requests in one buffer", "[http]") {
  auto o = check_splits<http::request_parser>(
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
      "\r\n"  // an extra CRLF after a body, which RFC 9112 2.2 lets us skip
      "PUT /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
      "GET /4 HTTP/1.0\r\n\r\n");
  REQUIRE(o.error == parse_error::none);
  REQUIRE(o.messages.size() == 4);
  CHECK(o.messages[0] == "GET /1 HTTP/1.1 [Host=a] trailers body= keep_alive=1");
  CHECK(o.messages[1] == "POST /2 HTTP/1.1 [Content-Length=3] trailers body=abc keep_alive=1");
  CHECK(o.messages[2] == "PUT /3 HTTP/1.1 [Transfer-Encoding=chunked] trailers body=z keep_alive=1");
  CHECK(o.messages[3] == "GET /4 HTTP/1.0  trailers body= keep_alive=0");
}

TEST_CASE("http parser: events and consumed counts", "[http]") {
  http::request_parser p;
  std::string_view in = "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET";
  auto r = p.feed(in);
  CHECK(r.event == http::parse_event::headers_done);
  CHECK(r.consumed == in.find("abcd"));
  CHECK(p.message().method == "POST");
  CHECK(p.in_message());
  in.remove_prefix(r.consumed);
  r = p.feed(in.substr(0, 2));
  CHECK(r.event == http::parse_event::body);
  CHECK(r.consumed == 2);
  CHECK(r.body.size() == 2);
  CHECK(r.body.data() == reinterpret_cast<const std::byte*>(in.data()));  // no copy
  in.remove_prefix(2);
  r = p.feed(in);
  CHECK(r.event == http::parse_event::message_complete);
  CHECK(r.consumed == 2);
  CHECK(r.body.size() == 2);
  CHECK_FALSE(p.in_message());
  in.remove_prefix(2);
  r = p.feed(in);
  CHECK(r.event == http::parse_event::need_more);
  CHECK(r.consumed == 3);
  CHECK(p.in_message());
  CHECK(p.message().method.empty());  // the next message started
  // A clean close between messages is not an error; one inside is.
  r = p.finish();
  CHECK(r.event == http::parse_event::error);
  CHECK(p.error() == parse_error::incomplete_message);
  r = p.feed("anything");
  CHECK(r.event == http::parse_event::error);
  CHECK(r.consumed == 0);
  p.reset();
  CHECK(p.error() == parse_error::none);
  r = p.feed("GET / HTTP/1.1\r\n\r\n");
  CHECK(r.event == http::parse_event::headers_done);
  r = p.feed("");
  CHECK(r.event == http::parse_event::message_complete);
  CHECK(p.finish().event == http::parse_event::need_more);
}

TEST_CASE("http parser: accumulated bodies", "[http]") {
  http::request_parser p({}, http::body_mode::accumulate);
  std::string_view in = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  std::vector<http::parse_event> events;
  while (!in.empty()) {
    auto r = p.feed(in);
    in.remove_prefix(r.consumed);
    CHECK(r.body.empty());
    events.push_back(r.event);
  }
  CHECK(events == std::vector{http::parse_event::headers_done, http::parse_event::message_complete});
  CHECK(p.message().body == "abcde");
  // The same limit bounds it.
  http::parser_limits small;
  small.max_body_bytes = 4;
  http::request_parser q(small, http::body_mode::accumulate);
  in = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  http::parse_result r;
  do {
    r = q.feed(in);
    in.remove_prefix(r.consumed);
  } while (r.event != http::parse_event::error && !in.empty());
  CHECK(q.error() == parse_error::body_too_large);
}

TEST_CASE("http parser: bad request lines", "[http]") {
  CHECK(request_error("G(T / HTTP/1.1\r\n\r\n") == parse_error::bad_method);
  CHECK(request_error("GET\x01 / HTTP/1.1\r\n\r\n") == parse_error::bad_method);
  CHECK(request_error(" GET / HTTP/1.1\r\n\r\n") == parse_error::bad_method);
  CHECK(request_error("GET  / HTTP/1.1\r\n\r\n") == parse_error::bad_target);
  CHECK(request_error("GET /a\x7f HTTP/1.1\r\n\r\n") == parse_error::bad_target);
  CHECK(request_error("GET /\xff HTTP/1.1\r\n\r\n") == parse_error::bad_target);
  CHECK(request_error("GET / HTTP/2.0\r\n\r\n") == parse_error::bad_version);
  CHECK(request_error("GET / HTTP/1.2\r\n\r\n") == parse_error::bad_version);
  CHECK(request_error("GET / http/1.1\r\n\r\n") == parse_error::bad_version);
  CHECK(request_error("GET / HTTP/1.1 \r\n\r\n") == parse_error::bad_version);
  CHECK(request_error("GET / HTTP/1.10\r\n\r\n") == parse_error::bad_version);
  CHECK(request_error("GET / HTTP/1\r\n\r\n") == parse_error::bad_version);
  CHECK(request_error("GET /\r\n\r\n") == parse_error::bad_request_line);
  CHECK(request_error("GET\r\n\r\n") == parse_error::bad_request_line);
  CHECK(request_error("\x16\x03\x01\x02") == parse_error::incomplete_message);  // TLS, not HTTP
}

TEST_CASE("http parser: bad status lines", "[http]") {
  CHECK(response_error("HTTP/1.1 20 OK\r\n\r\n") == parse_error::bad_status);
  CHECK(response_error("HTTP/1.1 2000 OK\r\n\r\n") == parse_error::bad_status);
  CHECK(response_error("HTTP/1.1 099 OK\r\n\r\n") == parse_error::bad_status);
  CHECK(response_error("HTTP/1.1 abc OK\r\n\r\n") == parse_error::bad_status);
  CHECK(response_error("HTTP/1.1 200 O\x01K\r\n\r\n") == parse_error::bad_reason);
  CHECK(response_error("HTTP/3.0 200 OK\r\n\r\n") == parse_error::bad_version);
  CHECK(response_error("ICY 200 OK\r\n\r\n") == parse_error::bad_version);
  CHECK(response_error("HTTP/1.1\r\n\r\n") == parse_error::bad_status_line);
  CHECK(response_error("\r\nHTTP/1.1 200 OK\r\n\r\n") == parse_error::bad_status_line);
}

TEST_CASE("http parser: line endings", "[http]") {
  // Bare LF and bare CR are rejected everywhere, consistently.
  CHECK(request_error("GET / HTTP/1.1\n\r\n") == parse_error::bad_line_ending);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: a\n\r\n") == parse_error::bad_line_ending);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: a\r\n\n") == parse_error::bad_line_ending);
  CHECK(request_error("GET / HTTP/1.1\rHost: a\r\n\r\n") == parse_error::bad_line_ending);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n") == parse_error::bad_line_ending);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n") ==
        parse_error::bad_line_ending);
  CHECK(response_error("HTTP/1.1 200 OK\n\n") == parse_error::bad_line_ending);
  // Missing CRLF at the end: the message never completes.
  CHECK(request_error("GET / HTTP/1.1\r\nHost: a\r\n") == parse_error::incomplete_message);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: a\r\n\r") == parse_error::incomplete_message);
}

TEST_CASE("http parser: bad header lines", "[http]") {
  CHECK(request_error("GET / HTTP/1.1\r\nHost a\r\n\r\n") == parse_error::header_without_colon);
  CHECK(request_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == parse_error::bad_header_name);
  CHECK(request_error("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n") == parse_error::bad_header_name);
  CHECK(request_error("GET / HTTP/1.1\r\n: a\r\n\r\n") == parse_error::bad_header_name);
  CHECK(request_error("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n") == parse_error::bad_header_name);
  CHECK(request_error("GET / HTTP/1.1\r\nHo\x01st: a\r\n\r\n") == parse_error::bad_header_name);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n") == parse_error::bad_header_value);
  CHECK(request_error("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n") == parse_error::bad_header_value);
  static constexpr char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
  CHECK(request_error(std::string_view(nul, sizeof nul - 1)) == parse_error::bad_header_value);
  CHECK(request_error("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n") == parse_error::obs_fold);
  CHECK(request_error("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n") == parse_error::obs_fold);
  CHECK(request_error("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == parse_error::obs_fold);
  // Obs-text in values is allowed, and so are empty values.
  CHECK(http::parse_request("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\nY:\r\n\r\n").headers.get("y") == "");
}

TEST_CASE("http parser: framing errors", "[http]") {
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n") == parse_error::bad_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == parse_error::bad_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n") == parse_error::bad_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n") == parse_error::bad_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 1,\r\n\r\n") == parse_error::bad_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n") ==
        parse_error::bad_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab") ==
        parse_error::conflicting_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\nab") == parse_error::conflicting_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "0\r\n\r\n") == parse_error::transfer_encoding_with_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") ==
        parse_error::transfer_encoding_with_content_length);
  CHECK(response_error("HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") ==
        parse_error::transfer_encoding_with_content_length);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") == parse_error::bad_transfer_encoding);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") ==
        parse_error::bad_transfer_encoding);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        parse_error::bad_transfer_encoding);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n") == parse_error::bad_transfer_encoding);
  CHECK(request_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") ==
        parse_error::bad_transfer_encoding);
}

TEST_CASE("http parser: bad chunks", "[http]") {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(request_error(head + "x\r\n") == parse_error::bad_chunk_size);
  CHECK(request_error(head + "\r\n") == parse_error::bad_chunk_size);
  CHECK(request_error(head + "-1\r\n") == parse_error::bad_chunk_size);
  CHECK(request_error(head + "0x1\r\n") == parse_error::bad_chunk_size);
  CHECK(request_error(head + "1 2\r\n") == parse_error::bad_chunk_size);
  CHECK(request_error(head + "1;a\x01\r\n") == parse_error::bad_chunk_size);
  CHECK(request_error(head + "10000000000000000\r\n") == parse_error::chunk_size_overflow);
  CHECK(request_error(head + "ffffffffffffffffff\r\n") == parse_error::chunk_size_overflow);
  CHECK(request_error(head + "3\r\nabcd\r\n") == parse_error::bad_chunk_end);
  CHECK(request_error(head + "3\r\nabc\n0\r\n\r\n") == parse_error::bad_chunk_end);
  CHECK(request_error(head + "3\r\nab") == parse_error::incomplete_message);
  CHECK(request_error(head + "0\r\nX: 1\r\n") == parse_error::incomplete_message);
  CHECK(request_error(head + "0\r\nX 1\r\n\r\n") == parse_error::header_without_colon);
  CHECK(request_error(head + "1;" + std::string(5000, 'e') + "\r\nx\r\n0\r\n\r\n") == parse_error::chunk_line_too_long);
  // Leading zeros are not an overflow.
  CHECK(http::parse_request(head + "00000000000000000000001\r\nq\r\n0\r\n\r\n").body == "q");
}

TEST_CASE("http parser: each limit has its own error", "[http]") {
  http::parser_limits limits;
  limits.max_start_line = 30;
  limits.max_header_count = 3;
  limits.max_header_bytes = 60;
  limits.max_body_bytes = 10;

  // Right at each limit passes.
  CHECK(request_error("GET /" + std::string(16, 'a') + " HTTP/1.1\r\n\r\n", limits) == parse_error::none);
  CHECK(request_error("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits) == parse_error::none);
  CHECK(request_error("GET / HTTP/1.1\r\nA: " + std::string(53, 'x') + "\r\n\r\n", limits) == parse_error::none);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits) == parse_error::none);

  // One over fails, with the limit's own error.
  CHECK(request_error("GET /" + std::string(17, 'a') + " HTTP/1.1\r\n\r\n", limits) ==
        parse_error::start_line_too_long);
  CHECK(request_error("GET /" + std::string(100, 'a'), limits) == parse_error::start_line_too_long);
  CHECK(request_error(std::string(16, '\r') + std::string(16, '\n'), limits) == parse_error::bad_line_ending);
  std::string crlfs;
  for (int i = 0; i < 16; ++i) crlfs += "\r\n";
  CHECK(request_error(crlfs + "GET / HTTP/1.1\r\n\r\n", limits) == parse_error::start_line_too_long);
  CHECK(request_error("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits) ==
        parse_error::too_many_headers);
  CHECK(request_error("GET / HTTP/1.1\r\nA: " + std::string(54, 'x') + "\r\n\r\n", limits) ==
        parse_error::headers_too_large);
  CHECK(request_error("GET / HTTP/1.1\r\nA: " + std::string(1000, 'x'), limits) == parse_error::headers_too_large);
  CHECK(request_error("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n01234567890", limits) ==
        parse_error::body_too_large);
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n", limits) ==
        parse_error::body_too_large);
  CHECK(response_error("HTTP/1.1 200 OK\r\n\r\n01234567890", limits) == parse_error::body_too_large);
  CHECK(response_error("HTTP/1.1 200 OK\r\n\r\n0123456789", limits) == parse_error::none);
  // Trailers count with the headers.
  CHECK(request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nA: 1\r\n\r\n0\r\nB: 2\r\nC: 3\r\n\r\n",
                      limits) == parse_error::too_many_headers);
  CHECK(
      request_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nB: " + std::string(30, 'b') + "\r\n\r\n",
                    limits) == parse_error::headers_too_large);
}

TEST_CASE("http parser: errors carry precise messages", "[http]") {
  try {
    http::parse_request("GET / HTTP/1.1\r\nHost : a\r\n\r\n");
    FAIL("no exception");
  } catch (const http::parse_exception& e) {
    CHECK(e.code() == parse_error::bad_header_name);
    CHECK(std::string(e.what()) == "http: whitespace between header name and colon: \"Host \"");
  }
  try {
    http::parse_request("GET / HTTP/1.1\r\n\r\nextra");
    FAIL("no exception");
  } catch (const http::parse_exception& e) {
    CHECK(e.code() == parse_error::trailing_data);
  }
  try {
    http::parse_request("G\x01T / HTTP/1.1\r\n\r\n");
    FAIL("no exception");
  } catch (const http::parse_exception& e) {
    CHECK(std::string(e.what()) == "http: bad request method \"G\\x01T\"");
  }
  CHECK(to_string(parse_error::headers_too_large) == "headers_too_large");
}

TEST_CASE("http headers: what the parser accepts, add accepts, bad received bytes stay parse errors", "[http]") {
  // A value the parser accepts (obs-text, inner whitespace) is one add()
  // accepts too: copying a parsed header into a response cannot throw.
  auto req = http::parse_request("GET / HTTP/1.1\r\nX-Obs: caf\xC3\xA9 au\tlait\r\nA!#$%&'*+-.^_`|~z: 1\r\n\r\n");
  REQUIRE(req.headers.size() == 2);
  CHECK(req.headers[0].value == "caf\xC3\xA9 au\tlait");
  CHECK(req.headers[1].name == "A!#$%&'*+-.^_`|~z");
  http::headers copy;
  for (const auto& f : req.headers) copy.add(f.name, f.value);
  CHECK(copy.size() == 2);
  // Bad bytes in a received header are still the parser's errors, not
  // exceptions from add.
  using namespace std::string_view_literals;
  CHECK(request_error("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"sv) == parse_error::bad_header_value);
  CHECK(request_error("GET / HTTP/1.1\r\nX Y: a\r\n\r\n") == parse_error::bad_header_name);
}
