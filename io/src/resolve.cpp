#include "weft/io/resolve.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "weft/runtime/blocking.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"

namespace weft::io {

namespace {

std::string error_message(std::string_view host, std::string_view reason) {
  std::string m = "resolve '";
  m += host;
  m += "': ";
  m += reason;
  return m;
}

int to_af(ip_family f) noexcept {
  switch (f) {
    case ip_family::v4: return AF_INET;
    case ip_family::v6: return AF_INET6;
    case ip_family::any: break;
  }
  return AF_UNSPEC;
}

bool allows(ip_family f, const address& a) noexcept {
  return f == ip_family::any || (f == ip_family::v4) == a.is_ipv4();
}

/// The answer for a host that needs no lookup (a numeric address, or the
/// passive wildcard), std::nullopt for a name. Throws resolve_error for a
/// numeric host that does not fit the family or is malformed.
std::optional<std::vector<address>> numeric_answer(std::string_view host, std::uint16_t port,
                                                   const resolve_options& opts) {
  if (host.empty()) {
    if (!opts.passive) throw resolve_error(EAI_NONAME, host, "empty host name");
    // getaddrinfo(NULL, AI_PASSIVE) order: IPv4 first.
    std::vector<address> any;
    if (opts.family != ip_family::v6) any.push_back(address::ipv4("0.0.0.0", port));
    if (opts.family != ip_family::v4) any.push_back(address::ipv6("::", port));
    return any;
  }
  std::optional<address> a;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      throw resolve_error(EAI_NONAME, host, "expected an IPv6 address in brackets, like [::1]");
    try {
      a = address::ipv6(host.substr(1, host.size() - 2), port);
    } catch (const std::invalid_argument&) {
      throw resolve_error(EAI_NONAME, host, "not a valid IPv6 address");
    }
  } else if (host.find(':') != std::string_view::npos) {
    // No host name contains ':', so this can only be an IPv6 address.
    try {
      a = address::ipv6(host, port);
    } catch (const std::invalid_argument&) {
      throw resolve_error(EAI_NONAME, host, "not a valid IPv6 address");
    }
  } else {
    ::in_addr v4;
    std::string s(host);
    if (::inet_pton(AF_INET, s.c_str(), &v4) != 1) return std::nullopt;  // a name
    a = address::ipv4(host, port);
  }
  if (!allows(opts.family, *a))
    throw resolve_error(
        EAI_ADDRFAMILY, host,
        a->is_ipv4() ? "an IPv4 address, but only IPv6 was asked for" : "an IPv6 address, but only IPv4 was asked for");
  return std::vector<address>{*a};
}

/// Rejects what cannot be a host name before it costs a thread and a DNS
/// query, with a message that says what is wrong. Lenient on purpose about
/// characters: /etc/hosts and other NSS sources accept names DNS would not.
void check_host_name(std::string_view host) {
  std::string_view name = host;
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);  // "example.com." is absolute
  if (name.size() > 253) throw resolve_error(EAI_NONAME, host, "host name longer than 253 characters");
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f)
      throw resolve_error(EAI_NONAME, host, "host name contains a space or control character");
  }
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = name.find('.', start);
    std::size_t len = (dot == std::string_view::npos ? name.size() : dot) - start;
    if (len == 0) throw resolve_error(EAI_NONAME, host, "host name has an empty label");
    if (len > 63) throw resolve_error(EAI_NONAME, host, "host name has a label longer than 63 characters");
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
}

task<detail::lookup_result> await_job(join_handle<detail::lookup_result>& job) { co_return co_await job; }

}  // namespace

resolve_error::resolve_error(int code, std::string_view host, std::string_view reason)
    : std::runtime_error(error_message(host, reason)), code_(code), host_(host) {}

namespace detail {

lookup_result getaddrinfo_lookup(std::string host, std::uint16_t port, ip_family family, bool passive) {
  ::addrinfo hints{};
  hints.ai_family = to_af(family);
  hints.ai_socktype = SOCK_STREAM;
  // No AI_ADDRCONFIG: it ignores loopback, so on a host whose only
  // interface is lo (containers, CI) even "localhost" would not resolve.
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  const std::string service = std::to_string(port);
  ::addrinfo* list = nullptr;
  lookup_result r;
  r.code = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (r.code == EAI_SYSTEM) r.sys_errno = errno;
  if (r.code != 0) return r;
  for (const ::addrinfo* ai = list; ai; ai = ai->ai_next) {
    if (ai->ai_socktype != SOCK_STREAM || (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)) continue;
    address a(ai->ai_addr, ai->ai_addrlen);
    // /etc/hosts may list an address twice; keep the first, in order.
    if (std::find(r.addresses.begin(), r.addresses.end(), a) == r.addresses.end()) r.addresses.push_back(a);
  }
  ::freeaddrinfo(list);
  if (r.addresses.empty()) r.code = EAI_NONAME;
  return r;
}

task<std::vector<address>> resolve_with(lookup_fn lookup, std::string host, std::uint16_t port, resolve_options opts) {
  if (auto numeric = numeric_answer(host, port, opts)) co_return std::move(*numeric);
  check_host_name(host);
  const deadline limit = opts.timeout ? opts.timeout : deadline(default_resolve_timeout);
  // The job gets its own copy of host (spawn_blocking decay-copies): it may
  // outlive this frame when we stop waiting for it.
  auto job = weft::spawn_blocking(lookup, host, port, opts.family, opts.passive);
  lookup_result r;
  try {
    r = co_await within(limit, await_job(job));
  } catch (const operation_cancelled&) {
    job.cancel();  // a job still queued is dropped; a running one finishes unheard
    throw;
  } catch (const timeout_error&) {
    job.cancel();
    throw;
  }
  if (r.code == EAI_SYSTEM)
    throw resolve_error(r.code, host, ::gai_strerror(r.code) + (": " + std::system_category().message(r.sys_errno)));
  if (r.code != 0) throw resolve_error(r.code, host, ::gai_strerror(r.code));
  co_return std::move(r.addresses);
}

}  // namespace detail

task<std::vector<address>> resolve(std::string_view host, std::uint16_t port, resolve_options opts) {
  return detail::resolve_with(&detail::getaddrinfo_lookup, std::string(host), port, opts);
}

}  // namespace weft::io
