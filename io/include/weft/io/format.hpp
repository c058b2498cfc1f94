// fmt::formatter specializations for the io module's public types, so that
// they print with fmt::format / fmt::print like any other value:
//
//   io::address       its to_string(): "127.0.0.1:8080", "[::1]:80",
//                     "[fe80::1%eth0]:80", "/run/app.sock", "@abstract",
//                     "" (empty or unnamed)
//   tls_error, resolve_error, line_too_long, unexpected_eof, and any type
//                     derived from them: their what()
//
//   auto a = weft::io::address::parse("127.0.0.1:8080");
//   fmt::print("listening on {}\n", a);            // listening on 127.0.0.1:8080
//   fmt::print("{:<22}|{}\n", peer, bytes);       // padded to a column
//   fmt::print("{}\n", fmt::join(addrs, ", "));   // a resolve() result (fmt/ranges.h)
//   catch (const weft::io::resolve_error& e) { fmt::print(stderr, "{}\n", e); }
//
// Each takes the specs of a string ("{:>22}", "{:*^30}"), applied to the
// whole text. Includes weft/runtime/format.hpp (metrics, runtime errors).
//
// Cancellation does not apply: formatting does not wait.
#pragma once

#include <concepts>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "weft/io/address.hpp"
#include "weft/io/buffered.hpp"
#include "weft/io/resolve.hpp"
#include "weft/io/stream.hpp"
#include "weft/io/tls.hpp"
#include "weft/runtime/format.hpp"

namespace weft::io::detail {

/// The io module's exceptions and the types derived from them (see
/// weft::detail::runtime_exception).
template <class E>
concept io_exception = weft::detail::own_exception_formatters &&
    (std::derived_from<E, tls_error> || std::derived_from<E, resolve_error> || std::derived_from<E, line_too_long> ||
     std::derived_from<E, unexpected_eof>);

}  // namespace weft::io::detail

/// a.to_string(): "127.0.0.1:8080", "[::1]:80", a Unix path.
template <>
struct fmt::formatter<weft::io::address> : fmt::formatter<std::string_view> {
  auto format(const weft::io::address& a, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(a.to_string(), ctx);
  }
};

/// what(): "line longer than the limit of 8192 bytes", "unexpected end of
/// stream", a TLS or name-resolution failure's message.
template <class E>
requires weft::io::detail::io_exception<E>
struct fmt::formatter<E, char> : weft::detail::what_formatter {
};
