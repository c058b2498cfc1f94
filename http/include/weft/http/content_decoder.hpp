// weft::http::content_decoder: incremental gzip/deflate decoding of a
// Content-Encoding'd body (zlib), with a bound on the decoded size so that
// a small compressed body cannot expand without limit (a zip bomb).
//
//   auto coding = http::parse_content_coding(*resp.headers.get("Content-Encoding"));
//   http::content_decoder d{*coding, 64 << 20};
//   for (auto piece : body_pieces) d.feed(piece, out);  // appends to out
//   d.finish();                                          // truncated? throws
//
// "deflate" is accepted both zlib-wrapped (RFC 1950, what the RFC means)
// and raw (RFC 1951, what some servers send); gzip may hold several
// members back to back. Failures throw http::client_error with an empty
// URL: bad_encoding for corrupt or truncated data, response_too_large when
// the output would pass the bound. No I/O here: nothing blocks, so
// cancellation and deadlines do not apply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "weft/http/client_error.hpp"

namespace weft::http {

enum class content_coding { identity, gzip, deflate };

/// Reads a Content-Encoding value: "gzip"/"x-gzip", "deflate", "identity"
/// or empty (case-insensitive, identity entries in a list skipped).
/// std::nullopt for anything else, stacked codings included.
std::optional<content_coding> parse_content_coding(std::string_view value) noexcept;

class content_decoder {
 public:
  /// Decodes `coding` into at most max_output bytes.
  content_decoder(content_coding coding, std::uint64_t max_output);
  content_decoder(content_decoder&&) noexcept;
  content_decoder& operator=(content_decoder&&) noexcept;
  ~content_decoder();

  /// Decodes `in` and appends the result to `out`.
  void feed(std::span<const std::byte> in, std::string& out);
  /// The body ended: throws bad_encoding unless the stream ended cleanly
  /// (an empty body is accepted: HEAD, 204 and 304 carry none).
  void finish();
  /// Decoded bytes so far.
  std::uint64_t total_out() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace weft::http
