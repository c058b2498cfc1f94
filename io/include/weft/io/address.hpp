// weft::io::address: a socket address (IPv4, IPv6 or a Unix path), held by
// value.
//
//   auto a = weft::io::address::parse("127.0.0.1:8080");
//   auto b = weft::io::address::ipv6("::1", 8080);
//   auto c = weft::io::address::unix_path("/run/app.sock");
//   fmt::print("{}\n", a.to_string());   // 127.0.0.1:8080, [::1]:8080
//
// Host names are not addresses: resolve them with weft::io::resolve.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace weft::io {

class address {
 public:
  /// An empty address (family AF_UNSPEC).
  address() noexcept;
  /// Copies a sockaddr of `len` bytes (std::invalid_argument if too large).
  address(const ::sockaddr* sa, ::socklen_t len);

  /// A numeric IPv4 address ("0.0.0.0", "127.0.0.1"); std::invalid_argument otherwise.
  static address ipv4(std::string_view ip, std::uint16_t port);
  /// A numeric IPv6 address ("::", "::1", "fe80::1%eth0"); std::invalid_argument otherwise.
  static address ipv6(std::string_view ip, std::uint16_t port);
  /// "1.2.3.4:80", "[::1]:80": IPv4 or IPv6 by form; std::invalid_argument otherwise.
  static address parse(std::string_view host_and_port);
  /// "1.2.3.4" or "::1" with a separate port.
  static address parse(std::string_view ip, std::uint16_t port);
  /// A Unix-domain path; a leading '@' names an abstract socket.
  static address unix_path(std::string_view path);
  static address loopback_v4(std::uint16_t port) { return ipv4("127.0.0.1", port); }
  static address loopback_v6(std::uint16_t port) { return ipv6("::1", port); }

  int family() const noexcept { return storage_.ss_family; }
  bool is_ipv4() const noexcept { return family() == AF_INET; }
  bool is_ipv6() const noexcept { return family() == AF_INET6; }
  bool is_unix() const noexcept { return family() == AF_UNIX; }
  /// The port (0 for Unix addresses).
  std::uint16_t port() const noexcept;
  /// The IP without port ("::1", "fe80::1%eth0" with its scope), or the Unix path.
  std::string ip() const;
  /// "127.0.0.1:80", "[::1]:80", or the Unix path.
  std::string to_string() const;

  const ::sockaddr* data() const noexcept { return reinterpret_cast<const ::sockaddr*>(&storage_); }
  ::sockaddr* data() noexcept { return reinterpret_cast<::sockaddr*>(&storage_); }
  ::socklen_t size() const noexcept { return len_; }
  /// For calls that fill the address in (accept, recvfrom, getsockname).
  ::socklen_t* size_ptr() noexcept { return &len_; }
  static constexpr ::socklen_t capacity = sizeof(::sockaddr_storage);

  friend bool operator==(const address& a, const address& b) noexcept;

 private:
  ::sockaddr_storage storage_;
  ::socklen_t len_;
};

}  // namespace weft::io
