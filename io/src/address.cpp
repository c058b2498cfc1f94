#include "weft/io/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace weft::io {
namespace {

[[noreturn]] void bad(std::string_view what, std::string_view text) {
  throw std::invalid_argument(fmt::format("{}: '{}'", what, text));
}

std::uint16_t parse_port(std::string_view s, std::string_view whole) {
  if (s.empty()) bad("missing port", whole);
  unsigned long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size() || (ec != std::errc{} && ec != std::errc::result_out_of_range))
    bad("not a port number", whole);
  if (ec == std::errc::result_out_of_range || v > 65535) bad("port out of range (0-65535)", whole);
  return static_cast<std::uint16_t>(v);
}

// inet_pton reads a C string: a NUL inside the view would cut it short
// and let trailing garbage through.
bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

address make_ipv4(std::string_view ip, std::uint16_t port, std::string_view whole) {
  ::sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  std::string s(ip);
  if (has_nul(ip) || ::inet_pton(AF_INET, s.c_str(), &in.sin_addr) != 1) bad("not an IPv4 address", whole);
  return address(reinterpret_cast<const ::sockaddr*>(&in), sizeof in);
}

address make_ipv6(std::string_view ip, std::uint16_t port, std::string_view whole) {
  ::sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::string s(ip);
  if (has_nul(ip)) bad("not an IPv6 address", whole);
  if (auto pct = s.find('%'); pct != std::string::npos) {  // scope: fe80::1%eth0
    std::string scope = s.substr(pct + 1);
    s.resize(pct);
    unsigned idx = scope.empty() ? 0 : ::if_nametoindex(scope.c_str());
    if (idx == 0) {
      auto [end, ec] = std::from_chars(scope.data(), scope.data() + scope.size(), idx);
      if (scope.empty() || ec != std::errc{} || end != scope.data() + scope.size())
        bad("unknown IPv6 scope (interface name or index)", whole);
    }
    in6.sin6_scope_id = idx;
  }
  if (::inet_pton(AF_INET6, s.c_str(), &in6.sin6_addr) != 1) bad("not an IPv6 address", whole);
  return address(reinterpret_cast<const ::sockaddr*>(&in6), sizeof in6);
}

}  // namespace

address::address() noexcept : storage_{}, len_(0) { storage_.ss_family = AF_UNSPEC; }

address::address(const ::sockaddr* sa, ::socklen_t len) : address() {
  if (len > sizeof storage_) throw std::invalid_argument("socket address too large");
  std::memcpy(&storage_, sa, len);
  len_ = len;
}

address address::ipv4(std::string_view ip, std::uint16_t port) { return make_ipv4(ip, port, ip); }

address address::ipv6(std::string_view ip, std::uint16_t port) { return make_ipv6(ip, port, ip); }

address address::parse(std::string_view ip, std::uint16_t port) {
  if (ip.find(':') != std::string_view::npos) return ipv6(ip, port);
  return ipv4(ip, port);
}

address address::parse(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) bad("expected [IPv6]:port", text);
    if (close + 1 == text.size() || text.substr(close + 1) == ":") bad("missing port", text);
    if (text[close + 1] != ':') bad("expected [IPv6]:port", text);
    return make_ipv6(text.substr(1, close - 1), parse_port(text.substr(close + 2), text), text);
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) bad("missing port (expected host:port)", text);
  if (text.find(':') != colon) bad("IPv6 addresses need brackets: [addr]:port", text);
  return make_ipv4(text.substr(0, colon), parse_port(text.substr(colon + 1), text), text);
}

address address::unix_path(std::string_view path) {
  address a;
  auto* un = reinterpret_cast<::sockaddr_un*>(&a.storage_);
  un->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof un->sun_path) bad("Unix socket path empty or too long", path);
  if (path.front() != '@' && has_nul(path)) bad("Unix socket path contains a NUL byte", path);
  std::memcpy(un->sun_path, path.data(), path.size());
  if (path.front() == '@') {  // abstract namespace: no terminating NUL, length counts
    un->sun_path[0] = '\0';
    a.len_ = static_cast<::socklen_t>(offsetof(::sockaddr_un, sun_path) + path.size());
  } else {
    a.len_ = static_cast<::socklen_t>(offsetof(::sockaddr_un, sun_path) + path.size() + 1);
  }
  return a;
}

std::uint16_t address::port() const noexcept {
  if (is_ipv4()) return ntohs(reinterpret_cast<const ::sockaddr_in*>(&storage_)->sin_port);
  if (is_ipv6()) return ntohs(reinterpret_cast<const ::sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string address::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_ipv4()) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const ::sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    return buf;
  }
  if (is_ipv6()) {
    const auto* in6 = reinterpret_cast<const ::sockaddr_in6*>(&storage_);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    if (in6->sin6_scope_id == 0) return buf;
    // Keep the scope, so that to_string() parses back to the same address.
    char name[IF_NAMESIZE] = {};
    if (::if_indextoname(in6->sin6_scope_id, name)) return std::string(buf) + "%" + name;
    return std::string(buf) + "%" + std::to_string(in6->sin6_scope_id);
  }
  if (is_unix()) {
    const auto* un = reinterpret_cast<const ::sockaddr_un*>(&storage_);
    std::size_t n = len_ > offsetof(::sockaddr_un, sun_path) ? len_ - offsetof(::sockaddr_un, sun_path) : 0;
    if (n == 0) return {};          // unnamed (e.g. a socketpair end)
    if (un->sun_path[0] == '\0') {  // abstract; appended, not operator+ (GCC 12 -Wrestrict false positive)
      std::string name(1, '@');
      name.append(un->sun_path + 1, n - 1);
      return name;
    }
    return std::string(un->sun_path, ::strnlen(un->sun_path, n));
  }
  return {};
}

std::string address::to_string() const {
  if (is_ipv4()) return fmt::format("{}:{}", ip(), port());
  if (is_ipv6()) return fmt::format("[{}]:{}", ip(), port());
  return ip();  // the Unix path, or "" (unnamed, or AF_UNSPEC)
}

bool operator==(const address& a, const address& b) noexcept {
  return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

}  // namespace weft::io
