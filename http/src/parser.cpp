// The HTTP/1.1 parsers of weft/http/parser.hpp.
//
// Lines (start line, header and trailer lines, chunk-size lines) are
// gathered in line_ until their LF, so a line split across feeds is seen
// whole; limits are checked on the partial line too (a peer cannot make us
// buffer past them), with measures that only grow as the line completes,
// so every split of the same bytes gives the same error. Body bytes are
// never copied in body_mode::deliver: they are handed out as spans of the
// input.
#include "weft/http/parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "text.hpp"

namespace weft::http {

namespace {

using detail::is_ows;
using detail::quote;
using detail::trim_ows;

/// field-vchar, SP, HTAB and obs-text: what a field value or reason may hold.
bool is_text(unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7f); }

constexpr std::size_t max_chunk_line = 4096;

/// Decimal digits into *out; false if not all digits or over 64 bits.
enum class number { ok, bad, overflow };
number parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty()) return number::bad;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return number::bad;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return number::overflow;
    v = v * 10 + d;
  }
  out = v;
  return number::ok;
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// ----------------------------------------------------------------- names

std::string_view to_string(parse_error e) noexcept {
  switch (e) {
    case parse_error::none: return "none";
    case parse_error::bad_line_ending: return "bad_line_ending";
    case parse_error::bad_method: return "bad_method";
    case parse_error::bad_target: return "bad_target";
    case parse_error::bad_version: return "bad_version";
    case parse_error::bad_request_line: return "bad_request_line";
    case parse_error::bad_status_line: return "bad_status_line";
    case parse_error::bad_status: return "bad_status";
    case parse_error::bad_reason: return "bad_reason";
    case parse_error::bad_header_name: return "bad_header_name";
    case parse_error::header_without_colon: return "header_without_colon";
    case parse_error::bad_header_value: return "bad_header_value";
    case parse_error::obs_fold: return "obs_fold";
    case parse_error::bad_content_length: return "bad_content_length";
    case parse_error::conflicting_content_length: return "conflicting_content_length";
    case parse_error::transfer_encoding_with_content_length: return "transfer_encoding_with_content_length";
    case parse_error::bad_transfer_encoding: return "bad_transfer_encoding";
    case parse_error::bad_chunk_size: return "bad_chunk_size";
    case parse_error::chunk_size_overflow: return "chunk_size_overflow";
    case parse_error::bad_chunk_end: return "bad_chunk_end";
    case parse_error::chunk_line_too_long: return "chunk_line_too_long";
    case parse_error::start_line_too_long: return "start_line_too_long";
    case parse_error::too_many_headers: return "too_many_headers";
    case parse_error::headers_too_large: return "headers_too_large";
    case parse_error::body_too_large: return "body_too_large";
    case parse_error::incomplete_message: return "incomplete_message";
    case parse_error::trailing_data: return "trailing_data";
  }
  return "unknown";
}

// ----------------------------------------------------------------- parser

bool parser_base::fail(parse_error e, std::string message) {
  state_ = state::failed;
  error_ = e;
  error_message_ = "http: " + std::move(message);
  return false;
}

bool parser_base::in_message() const noexcept {
  return !(state_ == state::complete || (state_ == state::start_line && line_.empty()));
}

void parser_base::begin_message() {
  clear_message();
  state_ = state::start_line;
  line_.clear();
  header_bytes_ = 0;
  field_count_ = 0;
  skipped_empty_ = 0;
  remaining_ = 0;
  body_bytes_ = 0;
  framing_ = framing::none;
}

void parser_base::reset() {
  begin_message();
  error_ = parse_error::none;
  error_message_.clear();
}

bool parser_base::parse_version(std::string_view s) {
  if (s.size() != 8 || s.substr(0, 5) != "HTTP/" || s[5] < '0' || s[5] > '9' || s[6] != '.' || s[7] < '0' || s[7] > '9')
    return fail(parse_error::bad_version, "malformed HTTP version " + quote(s));
  if (s[5] != '1' || (s[7] != '0' && s[7] != '1'))
    return fail(parse_error::bad_version, "unsupported HTTP version " + quote(s) + " (HTTP/1.0 and HTTP/1.1 are)");
  msg_.version = s[7] == '0' ? version::http_1_0 : version::http_1_1;
  return true;
}

// The limit measures of a partial line: never more than those of the line
// once complete (a trailing CR may yet be its CRLF), so the check here
// fails only when the complete line would fail it too.
bool parser_base::partial_line_ok() {
  std::size_t content = line_.size() - (!line_.empty() && line_.back() == '\r' ? 1 : 0);
  switch (state_) {
    case state::start_line:
      if (skipped_empty_ + content > limits_.max_start_line)
        return fail(parse_error::start_line_too_long,
                    "start line longer than " + std::to_string(limits_.max_start_line) + " bytes");
      return true;
    case state::headers:
    case state::trailers:
      if (header_bytes_ + line_.size() > limits_.max_header_bytes)
        return fail(parse_error::headers_too_large,
                    "header section larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
      return true;
    case state::chunk_size:
      if (content > max_chunk_line)
        return fail(parse_error::chunk_line_too_long,
                    "chunk-size line longer than " + std::to_string(max_chunk_line) + " bytes");
      return true;
    default: return true;
  }
}

bool parser_base::line_done(std::string_view raw) {
  // Limits first, with the measures of partial_line_ok: the same error
  // whether the line arrived whole or in pieces.
  if (state_ == state::headers || state_ == state::trailers) {
    if (header_bytes_ + raw.size() + 1 > limits_.max_header_bytes)
      return fail(parse_error::headers_too_large,
                  "header section larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
  } else if (!partial_line_ok()) {
    return false;
  }
  if (raw.empty() || raw.back() != '\r')
    return fail(parse_error::bad_line_ending, "line ended by a bare LF (CRLF is required): " + quote(raw));
  std::string_view line = raw.substr(0, raw.size() - 1);
  if (line.find('\r') != std::string_view::npos)
    return fail(parse_error::bad_line_ending, "CR not followed by LF in " + quote(line));

  switch (state_) {
    case state::start_line:
      if (line.empty()) {
        if (!is_request_) return fail(parse_error::bad_status_line, "empty line where a status line was expected");
        skipped_empty_ += 2;  // RFC 9112 2.2: ignore empty lines before a request
        if (skipped_empty_ > limits_.max_start_line)
          return fail(parse_error::start_line_too_long,
                      "start line longer than " + std::to_string(limits_.max_start_line) + " bytes");
        return true;
      }
      if (!parse_start_line(line)) return false;
      state_ = state::headers;
      return true;
    case state::headers:
      header_bytes_ += line.size() + 2;
      if (line.empty()) return end_of_headers();
      return header_line(line, msg_.headers);
    case state::trailers:
      header_bytes_ += line.size() + 2;
      if (line.empty()) {
        state_ = state::complete;
        return true;
      }
      return header_line(line, msg_.trailers);
    case state::chunk_size: return chunk_size_line(line);
    default: return true;
  }
}

bool parser_base::header_line(std::string_view line, headers& into) {
  if (field_count_ + 1 > limits_.max_header_count)
    return fail(parse_error::too_many_headers,
                "more than " + std::to_string(limits_.max_header_count) + " header fields");
  if (is_ows(line.front()))
    return fail(parse_error::obs_fold,
                "obsolete line folding (a header line starting with whitespace): " + quote(line));
  auto colon = line.find(':');
  if (colon == std::string_view::npos)
    return fail(parse_error::header_without_colon, "header line without a colon: " + quote(line));
  auto name = line.substr(0, colon);
  if (!name.empty() && is_ows(name.back()))
    return fail(parse_error::bad_header_name, "whitespace between header name and colon: " + quote(name));
  if (!detail::is_token(name)) return fail(parse_error::bad_header_name, "bad header name " + quote(name));
  auto value = trim_ows(line.substr(colon + 1));
  for (char c : value)
    if (!is_text(static_cast<unsigned char>(c)))
      return fail(parse_error::bad_header_value,
                  "control character in the value of header " + quote(name) + ": " + quote(value));
  ++field_count_;
  into.add_parsed(std::string(name), std::string(value));
  return true;
}

bool parser_base::chunk_size_line(std::string_view line) {
  std::uint64_t size = 0;
  std::size_t i = 0;
  for (; i < line.size(); ++i) {
    int d = hex_digit(line[i]);
    if (d < 0) break;
    if (size > (std::numeric_limits<std::uint64_t>::max() >> 4))
      return fail(parse_error::chunk_size_overflow, "chunk size " + quote(line) + " exceeds 64 bits");
    size = (size << 4) | static_cast<std::uint64_t>(d);
  }
  if (i == 0) return fail(parse_error::bad_chunk_size, "chunk size is not hexadecimal: " + quote(line));
  auto rest = line.substr(i);
  while (!rest.empty() && is_ows(rest.front())) rest.remove_prefix(1);
  if (!rest.empty()) {
    // Extensions are ignored, but must be text: ';' then no controls.
    if (rest.front() != ';' ||
        !std::all_of(rest.begin(), rest.end(), [](char c) { return is_text(static_cast<unsigned char>(c)); }))
      return fail(parse_error::bad_chunk_size, "malformed chunk-size line " + quote(line));
  }
  if (size == 0) {
    state_ = state::trailers;
    return true;
  }
  if (size > limits_.max_body_bytes - body_bytes_)
    return fail(parse_error::body_too_large, "body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
  remaining_ = size;
  state_ = state::chunk_data;
  return true;
}

bool parser_base::frame_from_headers() {
  // Content-Length: every value (a field may list several) must be the
  // same number; differing ones are a smuggling vector (RFC 9112 6.3).
  std::optional<std::uint64_t> length;
  bool has_te = false;
  for (const auto& f : msg_.headers) {
    if (iequals(f.name, "transfer-encoding")) {
      has_te = true;
      continue;
    }
    if (!iequals(f.name, "content-length")) continue;
    std::string_view rest = f.value;
    for (;;) {
      auto comma = rest.find(',');
      auto item = trim_ows(rest.substr(0, comma));
      std::uint64_t v = 0;
      switch (parse_decimal(item, v)) {
        case number::bad: return fail(parse_error::bad_content_length, "bad Content-Length " + quote(f.value));
        case number::overflow:
          return fail(parse_error::bad_content_length, "Content-Length " + quote(f.value) + " exceeds 64 bits");
        case number::ok: break;
      }
      if (length && *length != v)
        return fail(parse_error::conflicting_content_length,
                    "differing Content-Length values " + std::to_string(*length) + " and " + std::to_string(v));
      length = v;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (has_te) {
    if (length)
      return fail(parse_error::transfer_encoding_with_content_length,
                  "both Transfer-Encoding and Content-Length (request smuggling)");
    if (msg_.version == version::http_1_0)
      return fail(parse_error::bad_transfer_encoding, "Transfer-Encoding in an HTTP/1.0 message");
    // The codings in order; chunked must be the last, and only there.
    std::vector<std::string_view> codings;
    for (auto v : msg_.headers.get_all("transfer-encoding")) {
      for (;;) {
        auto comma = v.find(',');
        auto item = trim_ows(v.substr(0, comma));
        auto semi = item.find(';');
        item = trim_ows(item.substr(0, semi));
        if (!detail::is_token(item))
          return fail(parse_error::bad_transfer_encoding, "bad Transfer-Encoding " + quote(v));
        codings.push_back(item);
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
    }
    for (std::size_t i = 0; i + 1 < codings.size(); ++i)
      if (iequals(codings[i], "chunked"))
        return fail(parse_error::bad_transfer_encoding, "chunked is not the last transfer coding");
    if (iequals(codings.back(), "chunked")) {
      framing_ = framing::chunked;
      msg_.chunked = true;
    } else if (is_request_) {
      return fail(parse_error::bad_transfer_encoding,
                  "request Transfer-Encoding does not end in chunked (its length is unknown)");
    } else {
      framing_ = framing::until_close;
    }
    return true;
  }
  if (length) {
    msg_.content_length = length;
    framing_ = framing::length;
    remaining_ = *length;
    return true;
  }
  framing_ = is_request_ ? framing::none : framing::until_close;
  return true;
}

void parser_base::set_keep_alive() {
  if (msg_.version == version::http_1_1) msg_.keep_alive = !msg_.headers.has_token("connection", "close");
  else msg_.keep_alive = msg_.headers.has_token("connection", "keep-alive");
  if (framing_ == framing::until_close) msg_.keep_alive = false;
}

bool parser_base::end_of_headers() {
  if (!decide_body()) return false;
  // Checked after decide_body: a response to HEAD may announce any length.
  if (framing_ == framing::length && remaining_ > limits_.max_body_bytes)
    return fail(parse_error::body_too_large, "Content-Length " + std::to_string(remaining_) + " exceeds the limit of " +
                                                 std::to_string(limits_.max_body_bytes) + " bytes");
  set_keep_alive();
  switch (framing_) {
    case framing::none:
      remaining_ = 0;
      state_ = state::body_length;
      break;
    case framing::length: state_ = state::body_length; break;
    case framing::chunked: state_ = state::chunk_size; break;
    case framing::until_close: state_ = state::body_until_close; break;
  }
  return true;
}

parse_result parser_base::feed(std::span<const std::byte> in) {
  if (state_ == state::failed) return {parse_event::error, 0, {}};
  if (state_ == state::complete) begin_message();
  const auto* data = reinterpret_cast<const char*>(in.data());
  std::size_t i = 0;
  for (;;) {
    switch (state_) {
      case state::start_line:
      case state::headers:
      case state::trailers:
      case state::chunk_size: {
        if (i == in.size()) return {parse_event::need_more, i, {}};
        const void* nl = std::memchr(data + i, '\n', in.size() - i);
        if (nl == nullptr) {
          line_.append(data + i, in.size() - i);
          i = in.size();
          if (!partial_line_ok()) return {parse_event::error, i, {}};
          return {parse_event::need_more, i, {}};
        }
        auto end = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
        line_.append(data + i, end - i);
        i = end + 1;
        const state before = state_;
        bool ok = line_done(line_);
        line_.clear();
        if (!ok) return {parse_event::error, i, {}};
        if (before == state::headers && state_ != state::headers) return {parse_event::headers_done, i, {}};
        if (state_ == state::complete) return {parse_event::message_complete, i, {}};
        continue;
      }
      case state::body_length:
      case state::chunk_data:
      case state::body_until_close: {
        if (state_ == state::body_length && remaining_ == 0) {
          state_ = state::complete;
          return {parse_event::message_complete, i, {}};
        }
        std::size_t avail = in.size() - i;
        if (avail == 0) return {parse_event::need_more, i, {}};
        std::size_t n = avail;
        if (state_ == state::body_until_close) {
          if (n > limits_.max_body_bytes - body_bytes_) {
            fail(parse_error::body_too_large, "body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
            return {parse_event::error, i, {}};
          }
        } else {
          n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, avail));
          remaining_ -= n;
        }
        body_bytes_ += n;
        auto piece = in.subspan(i, n);
        i += n;
        parse_event ev = parse_event::body;
        if (state_ == state::body_length && remaining_ == 0) {
          state_ = state::complete;
          ev = parse_event::message_complete;
        } else if (state_ == state::chunk_data && remaining_ == 0) {
          state_ = state::chunk_cr;
        }
        if (mode_ == body_mode::accumulate) {
          msg_.body.append(reinterpret_cast<const char*>(piece.data()), piece.size());
          if (ev == parse_event::message_complete) return {ev, i, {}};
          continue;
        }
        return {ev, i, piece};
      }
      case state::chunk_cr:
      case state::chunk_lf: {
        if (i == in.size()) return {parse_event::need_more, i, {}};
        char want = state_ == state::chunk_cr ? '\r' : '\n';
        if (data[i] != want) {
          fail(parse_error::bad_chunk_end, "chunk data not followed by CRLF");
          return {parse_event::error, i, {}};
        }
        ++i;
        state_ = state_ == state::chunk_cr ? state::chunk_lf : state::chunk_size;
        continue;
      }
      case state::complete: return {parse_event::message_complete, i, {}};
      case state::failed: return {parse_event::error, i, {}};
    }
  }
}

parse_result parser_base::finish() {
  switch (state_) {
    case state::failed: return {parse_event::error, 0, {}};
    case state::body_until_close: state_ = state::complete; return {parse_event::message_complete, 0, {}};
    case state::complete: return {parse_event::need_more, 0, {}};
    case state::start_line:
      if (line_.empty()) return {parse_event::need_more, 0, {}};
      [[fallthrough]];
    default:
      fail(parse_error::incomplete_message, "connection closed in the middle of a message");
      return {parse_event::error, 0, {}};
  }
}

// ----------------------------------------------------------------- request

bool request_parser::parse_start_line(std::string_view line) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos)
    return fail(parse_error::bad_request_line, "request line is not \"method target version\": " + quote(line));
  auto method = line.substr(0, sp1);
  if (!detail::is_token(method)) return fail(parse_error::bad_method, "bad request method " + quote(method));
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos)
    return fail(parse_error::bad_request_line, "request line is not \"method target version\": " + quote(line));
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f;
      }))
    return fail(parse_error::bad_target, "bad request target " + quote(target));
  if (!parse_version(line.substr(sp2 + 1))) return false;
  req_.method = method;
  req_.target = target;
  return true;
}

bool request_parser::decide_body() { return frame_from_headers(); }

// ----------------------------------------------------------------- response

bool response_parser::parse_start_line(std::string_view line) {
  auto sp = line.find(' ');
  if (sp == std::string_view::npos)
    return fail(parse_error::bad_status_line, "status line is not \"version status reason\": " + quote(line));
  if (!parse_version(line.substr(0, sp))) return false;
  auto rest = line.substr(sp + 1);
  if (rest.size() < 3 || !std::all_of(rest.begin(), rest.begin() + 3, [](char c) { return c >= '0' && c <= '9'; }) ||
      (rest.size() > 3 && rest[3] != ' ') || rest[0] == '0')
    return fail(parse_error::bad_status, "bad status code in " + quote(line));
  resp_.status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
  auto reason = rest.size() > 3 ? rest.substr(4) : std::string_view{};
  for (char c : reason)
    if (!is_text(static_cast<unsigned char>(c)))
      return fail(parse_error::bad_reason, "control character in the reason phrase " + quote(reason));
  resp_.reason = reason;
  return true;
}

bool response_parser::decide_body() {
  // Framing errors (smuggling) are errors even where no body follows.
  if (!frame_from_headers()) return false;
  const int s = resp_.status;
  const bool interim = s >= 100 && s < 200;
  if (no_body_ || interim || s == 204 || s == 304) {
    framing_ = framing::none;
    remaining_ = 0;
  }
  if (!interim) no_body_ = false;  // the flag is for the final response
  return true;
}

// ----------------------------------------------------------------- whole

namespace {

template <class Parser>
auto parse_whole(Parser& p, std::string_view bytes) {
  for (;;) {
    auto r = p.feed(bytes);
    bytes.remove_prefix(r.consumed);
    switch (r.event) {
      case parse_event::headers_done:
      case parse_event::body: continue;
      case parse_event::error: throw parse_exception(p.error(), p.error_message());
      case parse_event::need_more:
        r = p.finish();
        if (r.event == parse_event::message_complete) return std::move(p.message());
        if (r.event == parse_event::error) throw parse_exception(p.error(), p.error_message());
        throw parse_exception(parse_error::incomplete_message, "http: no message in the input");
      case parse_event::message_complete:
        if (!bytes.empty())
          throw parse_exception(parse_error::trailing_data,
                                "http: " + std::to_string(bytes.size()) + " bytes after the message");
        return std::move(p.message());
    }
  }
}

}  // namespace

request parse_request(std::string_view bytes, parser_limits limits) {
  request_parser p(limits, body_mode::accumulate);
  return parse_whole(p, bytes);
}

response parse_response(std::string_view bytes, parser_limits limits, bool no_body) {
  response_parser p(limits, body_mode::accumulate);
  p.expect_no_body(no_body);
  return parse_whole(p, bytes);
}

}  // namespace weft::http
