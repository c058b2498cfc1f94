// weft::io::resolve: host name -> addresses, without blocking a worker.
//
//   auto addrs = co_await weft::io::resolve("example.com", 443);            // 10 s limit
//   auto v4 = co_await weft::io::resolve("localhost", 80, {.family = weft::io::ip_family::v4});
//   auto any = co_await weft::io::resolve("", 8080, {.passive = true});     // wildcard, for bind
//
// Numeric hosts ("127.0.0.1", "::1", "[::1]", "fe80::1%eth0") and the
// passive wildcard are answered at once, on the calling worker. A name goes
// to getaddrinfo(3) on the runtime's blocking pool (weft::spawn_blocking):
// getaddrinfo cannot be made asynchronous or interrupted, so the job owns
// copies of everything it reads. Results keep getaddrinfo's order (which
// follows RFC 6724 / gai.conf), without duplicates, one per address.
//
// Errors: a name that does not resolve (or is not a valid host name)
// throws io::resolve_error, which keeps the EAI_* code. Deadline: the
// lookup is bounded by resolve_options::timeout (10 s when unset); when it
// passes, weft::timeout_error. Cancellation: weft::operation_cancelled.
// On either, a lookup that has not started yet never runs; one that is
// already running inside getaddrinfo goes on to the end on its pool thread
// and its result is dropped.
//
// To connect by name, see io/connect.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "weft/io/address.hpp"
#include "weft/io/deadline.hpp"
#include "weft/runtime/task.hpp"

namespace weft::io {

enum class ip_family { any, v4, v6 };

struct resolve_options {
  ip_family family = ip_family::any;
  /// Addresses to bind to rather than connect to: an empty host then means
  /// the wildcard address ("0.0.0.0", "::") instead of an error.
  bool passive = false;
  /// Limit for the whole lookup; unset: default_resolve_timeout from the
  /// call. (A relative duration counts from when the options are made.)
  deadline timeout{};
};
// Not guarded like http::client's request_options: GCC 12 copies a braced
// temporary written inside co_await bitwise and destroys it twice (see
// weft/http/client.hpp), which is harmless only while the struct is
// trivially copyable, so `co_await resolve(host, port, {.passive = true})` stays allowed.
static_assert(std::is_trivially_copyable_v<resolve_options>,
              "resolve_options must stay trivially copyable, or its coroutines need the rvalue guard of "
              "weft/http/client.hpp (GCC 12 frees a braced temporary inside co_await twice)");

/// What resolve() allows a lookup when resolve_options::timeout is unset.
inline constexpr std::chrono::seconds default_resolve_timeout{10};

/// A host name that did not resolve. code() is the EAI_* value of
/// getaddrinfo(3) (EAI_NONAME, EAI_AGAIN, EAI_FAIL, ...).
class resolve_error : public std::runtime_error {
 public:
  resolve_error(int code, std::string_view host, std::string_view reason);
  int code() const noexcept { return code_; }
  const std::string& host() const noexcept { return host_; }

 private:
  int code_;
  std::string host_;
};

/// The addresses of `host` (a name or a numeric IPv4/IPv6 address) with
/// `port`, in preference order; never empty (resolve_error instead).
task<std::vector<address>> resolve(std::string_view host, std::uint16_t port, resolve_options opts = {});

namespace detail {

/// What a lookup job returns: it never throws, so a job whose caller has
/// gone (timed out, cancelled) has no exception to report.
struct lookup_result {
  int code = 0;       // 0, or an EAI_* value
  int sys_errno = 0;  // for EAI_SYSTEM
  std::vector<address> addresses;
};

/// Runs on a blocking-pool thread with its own copies of the inputs.
using lookup_fn = lookup_result (*)(std::string host, std::uint16_t port, ip_family family, bool passive);

/// getaddrinfo(3), SOCK_STREAM entries, deduplicated, in its order.
lookup_result getaddrinfo_lookup(std::string host, std::uint16_t port, ip_family family, bool passive);

/// resolve() with the lookup function given; resolve() passes
/// getaddrinfo_lookup. (Tests pass a slow one to exercise timeouts and
/// cancellation of a lookup that is already running.) Takes the host by
/// value: the task is lazy and must not refer to the caller's string.
task<std::vector<address>> resolve_with(lookup_fn lookup, std::string host, std::uint16_t port, resolve_options opts);

}  // namespace detail

}  // namespace weft::io
