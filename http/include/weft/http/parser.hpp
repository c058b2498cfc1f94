// weft::http::request_parser and response_parser: strict, incremental
// HTTP/1.1 message parsers (RFC 9112). No I/O here: feed them bytes as they
// arrive, split anywhere; any split of the same bytes parses the same.
//
//   http::request_parser p;                        // default parser_limits
//   for (;;) {                                     // bytes: what a read gave
//     auto r = p.feed(bytes);
//     bytes = bytes.subspan(r.consumed);
//     if (r.event == http::parse_event::need_more) break;  // read, feed more
//     if (r.event == http::parse_event::error)
//       throw http::parse_exception(p.error(), p.error_message());
//     if (r.event == http::parse_event::headers_done) route(p.message());
//     sink(r.body);                                // with body, message_complete
//     if (r.event == http::parse_event::message_complete) respond(p.message());
//   }
//   p.finish();                                    // at end of stream
//
// Body pieces point into the bytes fed (no copy), so a large body need not
// be buffered; with body_mode::accumulate the parser appends them to
// message().body instead (bounded by max_body_bytes) and reports no body
// events. After message_complete the next feed starts the next message
// (pipelining) and clears message(): take what you need first. Interim
// (1xx) responses complete as messages of their own; after a 101 the
// stream is no longer HTTP, so stop feeding the parser.
//
// Policy (strict): lines end with CRLF; a bare LF or a CR not followed by
// LF is rejected (bad_line_ending), as are obs-fold (a header line starting
// with SP/HTAB), whitespace between a field name and its colon, control
// characters, Transfer-Encoding together with Content-Length (request
// smuggling), differing Content-Length values, and a request whose
// Transfer-Encoding does not end in chunked. Empty lines before a request
// line are skipped (RFC 9112 2.2), counted against max_start_line. Chunk
// extensions are ignored; trailers are parsed into message().trailers and
// count against max_header_count and max_header_bytes together with the
// headers. Only HTTP/1.0 and HTTP/1.1 are accepted.
//
// Each exceeded limit is its own parse_error. A parser in the error state
// stays there (the connection must be closed); reset() starts over.
//
// Cancellation and deadlines do not apply: parsing never blocks. The
// caller's reads carry the deadlines; on a timeout or a cancelled read
// mid-message, drop the parser with the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/http/message.hpp"

namespace weft::http {

/// Why a message was rejected. Limits each have their own code.
enum class parse_error {
  none = 0,
  bad_line_ending,             // bare LF, or CR not followed by LF
  bad_method,                  // method is not a token
  bad_target,                  // empty target or a byte outside VCHAR
  bad_version,                 // not HTTP/1.0 or HTTP/1.1
  bad_request_line,            // not "method SP target SP version"
  bad_status_line,             // not "version SP 3DIGIT SP reason"
  bad_status,                  // status code not 3 digits 100..999
  bad_reason,                  // control character in the reason phrase
  bad_header_name,             // empty, not a token, or space before colon
  header_without_colon,        // a header line with no ':'
  bad_header_value,            // control character in a field value
  obs_fold,                    // header continuation line (obsolete folding)
  bad_content_length,          // not digits, or too large for 64 bits
  conflicting_content_length,  // several Content-Length values that differ
  transfer_encoding_with_content_length,
  bad_transfer_encoding,  // request not ending in chunked, or HTTP/1.0
  bad_chunk_size,         // chunk-size line malformed
  chunk_size_overflow,    // chunk size too large for 64 bits
  bad_chunk_end,          // chunk data not followed by CRLF
  chunk_line_too_long,    // chunk-size line (with extensions) > 4 KiB
  start_line_too_long,    // > parser_limits::max_start_line
  too_many_headers,       // > parser_limits::max_header_count
  headers_too_large,      // > parser_limits::max_header_bytes
  body_too_large,         // > parser_limits::max_body_bytes
  incomplete_message,     // end of stream in the middle of a message
  trailing_data,          // parse_request/parse_response: bytes after it
};

/// The code's name ("body_too_large").
std::string_view to_string(parse_error e) noexcept;

/// Thrown by parse_request/parse_response; code() says which rule failed.
class parse_exception : public std::runtime_error {
 public:
  parse_exception(parse_error code, const std::string& message) : std::runtime_error(message), code_(code) {}
  parse_error code() const noexcept { return code_; }

 private:
  parse_error code_;
};

/// Bounds on what a peer can make the parser hold or accept.
struct parser_limits {
  std::size_t max_start_line = 8 * 1024;           // request/status line, without CRLF
  std::size_t max_header_count = 100;              // header fields (+ trailer fields)
  std::size_t max_header_bytes = 64 * 1024;        // header lines with CRLFs (+ trailers)
  std::uint64_t max_body_bytes = 8 * 1024 * 1024;  // decoded body
};

enum class parse_event {
  need_more,         // every byte fed was consumed; feed more
  headers_done,      // message() has the start line and headers
  body,              // parse_result::body is the next piece of the body
  message_complete,  // the message is done (body may hold its last piece)
  error,             // see error() and error_message()
};

struct parse_result {
  parse_event event = parse_event::need_more;
  std::size_t consumed = 0;         // bytes of the input used
  std::span<const std::byte> body;  // a body piece, inside the input
};

enum class body_mode {
  deliver,     // body pieces returned by feed (body events)
  accumulate,  // appended to message().body; no body events
};

/// The machinery both parsers share (see the top of this file).
class parser_base {
 public:
  parser_base(const parser_base&) = delete;
  parser_base& operator=(const parser_base&) = delete;

  /// Consumes bytes up to the next event, or all of them (need_more).
  parse_result feed(std::span<const std::byte> in);
  parse_result feed(std::string_view in) { return feed(std::as_bytes(std::span<const char>(in.data(), in.size()))); }
  /// The peer closed the stream: message_complete for a body delimited by
  /// the close, need_more at a message boundary (a clean close), error
  /// incomplete_message otherwise.
  parse_result finish();

  parse_error error() const noexcept { return error_; }
  const std::string& error_message() const noexcept { return error_message_; }
  /// Whether a message was started and not completed.
  bool in_message() const noexcept;
  /// Forgets everything, the current message and an error included.
  void reset();

  const parser_limits& limits() const noexcept { return limits_; }

 protected:
  parser_base(message_base& msg, parser_limits limits, body_mode mode, bool is_request)
      : limits_(limits), mode_(mode), is_request_(is_request), msg_(msg) {}
  ~parser_base() = default;

  virtual bool parse_start_line(std::string_view line) = 0;
  virtual void clear_message() = 0;
  /// Decides the framing once the headers are in; false on error.
  virtual bool decide_body() = 0;

  bool fail(parse_error e, std::string message);
  bool parse_version(std::string_view s);
  /// Sets framing_ and the message's framing fields from the headers.
  bool frame_from_headers();
  void set_keep_alive();

  enum class framing : std::uint8_t { none, length, chunked, until_close };

  enum class state : std::uint8_t {
    start_line,
    headers,
    body_length,
    body_until_close,
    chunk_size,
    chunk_data,
    chunk_cr,
    chunk_lf,
    trailers,
    complete,
    failed,
  };

  parser_limits limits_;
  body_mode mode_;
  bool is_request_;
  message_base& msg_;
  state state_ = state::start_line;
  std::string line_;  // the line being gathered
  std::size_t header_bytes_ = 0;
  std::size_t field_count_ = 0;
  std::size_t skipped_empty_ = 0;  // empty lines before a request line
  std::uint64_t remaining_ = 0;    // body or chunk bytes still to come
  std::uint64_t body_bytes_ = 0;
  framing framing_ = framing::none;
  parse_error error_ = parse_error::none;
  std::string error_message_;

 private:
  bool line_done(std::string_view line);
  bool header_line(std::string_view line, headers& into);
  bool chunk_size_line(std::string_view line);
  bool end_of_headers();
  bool partial_line_ok();
  void begin_message();
};

class request_parser final : public parser_base {
 public:
  explicit request_parser(parser_limits limits = {}, body_mode mode = body_mode::deliver)
      : parser_base(req_, limits, mode, true) {}
  request& message() noexcept { return req_; }
  const request& message() const noexcept { return req_; }

 private:
  bool parse_start_line(std::string_view line) override;
  void clear_message() override { req_ = request{}; }
  bool decide_body() override;
  request req_;
};

class response_parser final : public parser_base {
 public:
  explicit response_parser(parser_limits limits = {}, body_mode mode = body_mode::deliver)
      : parser_base(resp_, limits, mode, false) {}
  response& message() noexcept { return resp_; }
  const response& message() const noexcept { return resp_; }
  /// The next response has no body whatever its headers say: it answers a
  /// HEAD request (or a CONNECT that succeeded). Holds for one response.
  void expect_no_body(bool on = true) noexcept { no_body_ = on; }

 private:
  bool parse_start_line(std::string_view line) override;
  void clear_message() override { resp_ = response{}; }
  bool decide_body() override;
  response resp_;
  bool no_body_ = false;
};

/// Parses one complete message (body accumulated); throws parse_exception
/// on bad input, and incomplete_message if bytes are missing or left over.
request parse_request(std::string_view bytes, parser_limits limits = {});
response parse_response(std::string_view bytes, parser_limits limits = {}, bool no_body = false);

}  // namespace weft::http
