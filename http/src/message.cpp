// The message types and helpers of weft/http/message.hpp, and the text
// helpers of text.hpp that the parser and server share.
#include "weft/http/message.hpp"

#include <array>
#include <cstring>
#include <stdexcept>

#include "text.hpp"

namespace weft::http {

namespace {

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

/// The tchars of RFC 9110 5.6.2, one lookup a byte: every parsed header
/// name and every name a response is given goes through it.
constexpr std::array<bool, 256> tchars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

}  // namespace

// ----------------------------------------------------------------- text

namespace detail {

/// s quoted (with mark) for an error message: printable ASCII kept, the
/// rest escaped, cut after 40 bytes (the input may be large and hostile).
std::string quote(std::string_view s, char mark) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(1, mark);
  for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != static_cast<unsigned char>(mark) && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > 40) out += "...";
  out += mark;
  return out;
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!tchars[static_cast<unsigned char>(c)]) return false;
  return true;
}

bool holds_cr_lf_nul(std::string_view s) noexcept {
  // Ordinary text costs one compare a byte: all three are at most '\r'.
  for (char c : s)
    if (static_cast<unsigned char>(c) <= '\r' && (c == '\r' || c == '\n' || c == '\0')) return true;
  return false;
}

std::string quote_for_message(std::string_view s) { return quote(s, '\''); }

void format_imf_date(std::time_t secs, char* out) {
  static constexpr char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&secs, &tm);
  auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(out, days[tm.tm_wday], 3);
  out[3] = ',';
  out[4] = ' ';
  two(out + 5, tm.tm_mday);
  out[7] = ' ';
  std::memcpy(out + 8, months[tm.tm_mon], 3);
  out[11] = ' ';
  int year = tm.tm_year + 1900;
  if (year < 0) year = 0;
  if (year > 9999) year = 9999;
  two(out + 12, year / 100);
  two(out + 14, year % 100);
  out[16] = ' ';
  two(out + 17, tm.tm_hour);
  out[19] = ':';
  two(out + 20, tm.tm_min);
  out[22] = ':';
  two(out + 23, tm.tm_sec);
  std::memcpy(out + 25, " GMT", 4);
}

}  // namespace detail

using detail::format_imf_date;
using detail::imf_date_size;
using detail::trim_ows;

// ----------------------------------------------------------------- names

std::string_view to_string(version v) noexcept { return v == version::http_1_0 ? "HTTP/1.0" : "HTTP/1.1"; }

// ----------------------------------------------------------------- headers

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

namespace {

void check_field(std::string_view name, std::string_view value) {
  if (!detail::is_token(name))
    throw std::invalid_argument("weft::http::headers: header name " + detail::quote_for_message(name) +
                                " is not a token");
  if (detail::holds_cr_lf_nul(value))
    throw std::invalid_argument("weft::http::headers: header " + detail::quote_for_message(name) +
                                " value holds CR, LF or NUL");
}

}  // namespace

void headers::add(std::string name, std::string value) {
  check_field(name, value);
  fields_.push_back({std::move(name), std::move(value)});
}

void headers::set(std::string_view name, std::string value) {
  check_field(name, value);
  remove(name);
  fields_.push_back({std::string(name), std::move(value)});
}

std::size_t headers::remove(std::string_view name) {
  auto n = fields_.size();
  std::erase_if(fields_, [&](const field& f) { return iequals(f.name, name); });
  return n - fields_.size();
}

std::optional<std::string_view> headers::get(std::string_view name) const noexcept {
  for (const auto& f : fields_)
    if (iequals(f.name, name)) return std::string_view(f.value);
  return std::nullopt;
}

std::vector<std::string_view> headers::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_)
    if (iequals(f.name, name)) out.emplace_back(f.value);
  return out;
}

bool headers::has_token(std::string_view name, std::string_view token) const noexcept {
  for (const auto& f : fields_) {
    if (!iequals(f.name, name)) continue;
    std::string_view rest = f.value;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto item = trim_ows(rest.substr(0, comma));
      if (iequals(item, token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

// ----------------------------------------------------------------- responses

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

response make_response(int status, std::string body, std::string_view content_type) {
  response r;
  r.status = status;
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.add("Content-Type", std::string(content_type));
  return r;
}

std::string http_date(std::chrono::system_clock::time_point t) {
  char text[imf_date_size];
  format_imf_date(std::chrono::system_clock::to_time_t(t), text);
  return {text, imf_date_size};
}

}  // namespace weft::http
