// weft::http::request and response, and what they are made of: header
// fields (case-insensitive names, injection refused), the HTTP version,
// and the helpers that build responses (make_response, reason_phrase,
// http_date). The parser (parser.hpp) fills these types, the client
// (client.hpp) and the server (server.hpp) send them.
//
//   http::response r = http::make_response(200, "hello\n");  // text/plain
//   r.headers.set("Cache-Control", "no-store");
//   r.headers.add("Set-Cookie", "a=1");                          // may repeat
//   if (auto ct = r.headers.get("content-type")) use(*ct);       // any case
//   r.headers.add("X-Bad", "a\r\nInjected: 1");  // throws std::invalid_argument
//
// Cancellation does not apply: these are values, nothing here waits.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::http {

class parser_base;

enum class version { http_1_0, http_1_1 };
std::string_view to_string(version v) noexcept;  // "HTTP/1.1"

/// Header fields in arrival order; names compare case-insensitively.
///
/// add() and set() throw std::invalid_argument, naming the field, for a
/// name that is not a token or a value holding CR, LF or NUL: written out
/// verbatim, those would end the field line early and let whoever supplied
/// the value add fields of their own (header injection, response
/// splitting). Parsed messages are filled without the check: the parser
/// has already applied stricter rules.
class headers {
 public:
  struct field {
    std::string name;
    std::string value;
  };

  void add(std::string name, std::string value);
  /// Replaces every field called name by one (nothing changes if it throws).
  void set(std::string_view name, std::string value);
  /// Removes every field called name; returns how many.
  std::size_t remove(std::string_view name);
  /// The first value of name, if any.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
  std::vector<std::string_view> get_all(std::string_view name) const;
  bool contains(std::string_view name) const noexcept { return get(name).has_value(); }
  /// Whether a comma-separated field (Connection...) lists token.
  bool has_token(std::string_view name, std::string_view token) const noexcept;

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  void clear() noexcept { fields_.clear(); }
  auto begin() const noexcept { return fields_.begin(); }
  auto end() const noexcept { return fields_.end(); }
  const field& operator[](std::size_t i) const noexcept { return fields_[i]; }

 private:
  friend class parser_base;
  void add_parsed(std::string name, std::string value) { fields_.push_back({std::move(name), std::move(value)}); }

  std::vector<field> fields_;
};

/// ASCII case-insensitive equality (header names, tokens).
bool iequals(std::string_view a, std::string_view b) noexcept;

namespace detail {
/// Whether s is a token (RFC 9110 5.6.2): what a field name must be.
bool is_token(std::string_view s) noexcept;
/// Whether s holds CR, LF or NUL, which RFC 9110 5.5 calls dangerous in a
/// field value (and which would end a reason phrase's line as well).
bool holds_cr_lf_nul(std::string_view s) noexcept;
/// s in single quotes for an error message: printable ASCII kept, the rest
/// escaped as \xNN, cut after 40 bytes (it may be large and hostile).
std::string quote_for_message(std::string_view s);
}  // namespace detail

/// What requests and responses share.
struct message_base {
  http::version version = version::http_1_1;
  http::headers headers;
  http::headers trailers;  // after a chunked body
  std::string body;        // filled with body_mode::accumulate
  /// Whether the connection may carry another message after this one:
  /// HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
  /// "Connection: keep-alive", and never after a body read until close.
  bool keep_alive = true;
  /// The framing: Transfer-Encoding chunked, else Content-Length.
  bool chunked = false;
  std::optional<std::uint64_t> content_length;
};

struct request : message_base {
  std::string method;
  std::string target;
};

struct response : message_base {
  int status = 0;
  std::string reason;
};

/// Convenience response maker: status, body and its Content-Type.
response make_response(int status, std::string body, std::string_view content_type = "text/plain; charset=utf-8");
/// The standard reason phrase ("OK", "Not Found"...), "" for an unknown status.
std::string_view reason_phrase(int status) noexcept;
/// t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), for Date and
/// Last-Modified. (The server caches its Date value per second.)
std::string http_date(std::chrono::system_clock::time_point t);

}  // namespace weft::http
