// Text helpers the HTTP sources share (not installed): character classes
// of RFC 9110, quoting for error messages, and the IMF-fixdate writer.
// Defined in message.cpp where not inline.
#pragma once

#include <array>
#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>

namespace weft::http::detail {

inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

/// The tchars of RFC 9110 5.6.2, one lookup a byte: every parsed header
/// name and every name a response is given goes through it.
inline constexpr std::array<bool, 256> tchars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

/// field-vchar, SP, HTAB and obs-text: what a field value or reason may hold.
inline bool is_text(unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7f); }

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
