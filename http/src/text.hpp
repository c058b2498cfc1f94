// Text helpers the HTTP sources share (not installed): optional whitespace
// (RFC 9110), quoting for error messages, and the IMF-fixdate writer.
// Defined in message.cpp where not inline.
#pragma once

#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>

namespace weft::http::detail {

inline bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

/// s quoted (with mark) for an error message: printable ASCII kept, the
/// rest escaped, cut after 40 bytes (the input may be large and hostile).
std::string quote(std::string_view s, char mark = '"');

/// "Sun, 06 Nov 1994 08:49:37 GMT": imf_date_size characters written to
/// out, no terminating NUL (the server formats its Date into a cache).
inline constexpr std::size_t imf_date_size = 29;
void format_imf_date(std::time_t secs, char* out);

}  // namespace weft::http::detail
