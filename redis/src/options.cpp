#include "weft/redis/options.hpp"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

namespace weft::redis {

namespace {

/// The URL for messages, with the password replaced by ***.
std::string shown(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::size_t auth_start = scheme_end + 3;
  const std::size_t auth_end = std::min(url.find('/', auth_start), url.size());
  const std::size_t at = url.substr(0, auth_end).rfind('@');
  if (at == std::string_view::npos || at < auth_start) return std::string(url);
  const std::size_t colon = url.substr(0, at).find(':', auth_start);
  if (colon == std::string_view::npos) return std::string(url);
  return fmt::format("{}:***{}", url.substr(0, colon), url.substr(at));
}

[[noreturn]] void bad(std::string_view url, std::string_view why) {
  throw std::invalid_argument(fmt::format("weft::redis::parse_url: {}: {}", shown(url), why));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view url, std::string_view s, std::string_view what) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) bad(url, fmt::format("a truncated %-escape in the {}", what));
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) bad(url, fmt::format("a bad %-escape in the {}", what));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if ((s[i] | 0x20) != prefix[i]) return false;
  return true;
}

}  // namespace

client_options parse_url(std::string_view url) {
  client_options o;
  std::string_view rest;
  if (starts_with_nocase(url, "redis://")) {
    rest = url.substr(8);
  } else if (starts_with_nocase(url, "rediss://")) {
    rest = url.substr(9);
    o.tls = true;
  } else {
    bad(url, "the scheme must be redis:// or rediss://");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) bad(url, "query strings and fragments are not supported");

  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos)
      bad(url, "a user without a password (write redis://user:password@host or redis://:password@host)");
    o.username = decode(url, userinfo.substr(0, colon), "user name");
    o.password = decode(url, userinfo.substr(colon + 1), "password");
    if (o.password.empty()) bad(url, "the password is empty");
  }

  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) bad(url, "an IPv6 address without its closing ]");
    o.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') bad(url, "something other than :port after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) bad(url, "an empty port");
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
      if (port.empty()) bad(url, "an empty port");
    }
    o.host = std::string(authority);
  }
  if (o.host.empty()) bad(url, "no host");

  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      bad(url, fmt::format("the port '{}' is not a number from 1 to 65535", port));
    o.port = static_cast<std::uint16_t>(value);
  }

  if (!path.empty()) {
    int db = 0;
    auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (ec != std::errc{} || end != path.data() + path.size() || db < 0)
      bad(url, fmt::format("the database '{}' is not a number from 0 up", path));
    o.db = db;
  }
  return o;
}

std::string server_name(const client_options& o) {
  if (o.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", o.host, o.port);
  return fmt::format("{}:{}", o.host, o.port);
}

}  // namespace weft::redis
