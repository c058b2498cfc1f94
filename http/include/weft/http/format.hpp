// fmt::formatter specializations for the http module's public types, so
// that they print with fmt::format / fmt::print like any other value:
//
//   http::version     "HTTP/1.1", "HTTP/1.0"
//   http::response    its status line without CRLF: "HTTP/1.1 200 OK" (the
//                     reason given, else the standard one for the status;
//                     "HTTP/1.1 299" when there is none)
//   http::request     its request line without CRLF: "GET /index.html HTTP/1.1"
//   http::headers     one "Name: value" line per field, in order, joined by
//                     '\n' with none after the last ("" when empty); no specs
//   http::parse_error, http::client_errc
//                     the code's name: "body_too_large", "connect"
//   http::parse_exception, http::client_error, and types derived from them
//                     their what(): "http://x/: connection refused"
//
//   auto r = co_await c.get("http://localhost:8080/");
//   fmt::print("{}\n{}\n", r, r.headers);   // HTTP/1.1 200 OK
//                                           // Content-Type: text/plain ...
//   fmt::print("{:<40} {}\n", req, peer);   // request lines in a column
//   catch (const http::client_error& e) { fmt::print("{} ({})\n", e, e.code()); }
//
// All but headers take the specs of a string ("{:>20}", "{:.30}"), applied
// to the whole text. Values are printed as they are (a parsed message's
// have passed the parser's checks; others may hold anything). Includes
// weft/io/format.hpp and weft/runtime/format.hpp.
//
// Cancellation does not apply: formatting does not wait.
#pragma once

#include <concepts>
#include <string_view>

#include <fmt/format.h>

#include "weft/http/client_error.hpp"
#include "weft/http/message.hpp"
#include "weft/http/parser.hpp"
#include "weft/io/format.hpp"

namespace weft::http::detail {

/// The http module's exceptions and the types derived from them (see
/// weft::detail::runtime_exception).
template <class E>
concept http_exception = weft::detail::own_exception_formatters &&
    (std::derived_from<E, parse_exception> || std::derived_from<E, client_error>);

}  // namespace weft::http::detail

/// to_string(v): "HTTP/1.1".
template <>
struct fmt::formatter<weft::http::version> : fmt::formatter<std::string_view> {
  auto format(weft::http::version v, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(weft::http::to_string(v), ctx);
  }
};

/// to_string(e): "bad_status_line", "body_too_large".
template <>
struct fmt::formatter<weft::http::parse_error> : fmt::formatter<std::string_view> {
  auto format(weft::http::parse_error e, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(weft::http::to_string(e), ctx);
  }
};

/// to_string(e): "bad_url", "connect", "too_many_redirects".
template <>
struct fmt::formatter<weft::http::client_errc> : fmt::formatter<std::string_view> {
  auto format(weft::http::client_errc e, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(weft::http::to_string(e), ctx);
  }
};

/// "HTTP/1.1 404 Not Found": version, status and reason (r.reason, else
/// reason_phrase(r.status); just "HTTP/1.1 299" if both are empty).
template <>
struct fmt::formatter<weft::http::response> : weft::detail::text_formatter {
  auto format(const weft::http::response& r, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    const std::string_view reason = r.reason.empty() ? weft::http::reason_phrase(r.status) : r.reason;
    return format_text(ctx, "{} {}{}{}", weft::http::to_string(r.version), r.status, reason.empty() ? "" : " ", reason);
  }
};

/// "GET /index.html HTTP/1.1": method, target and version.
template <>
struct fmt::formatter<weft::http::request> : weft::detail::text_formatter {
  auto format(const weft::http::request& r, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return format_text(ctx, "{} {} {}", r.method, r.target, weft::http::to_string(r.version));
  }
};

/// "Content-Type: text/plain\nSet-Cookie: a=1": a line per field, joined by
/// '\n' (none after the last). Takes no format specs.
template <>
struct fmt::formatter<weft::http::headers> {
  constexpr auto parse(fmt::format_parse_context& ctx) -> decltype(ctx.begin()) {
    auto it = ctx.begin();
    if (it != ctx.end() && *it != '}') throw fmt::format_error("http::headers takes no format specs");
    return it;
  }
  auto format(const weft::http::headers& h, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    auto out = ctx.out();
    bool first = true;
    for (const auto& f : h) {
      if (!first) *out++ = '\n';
      first = false;
      out = fmt::format_to(out, "{}: {}", f.name, f.value);
    }
    return out;
  }
};

/// what(): "<url>: <message>" for a client_error, the parser's message
/// for a parse_exception.
template <class E>
requires weft::http::detail::http_exception<E>
struct fmt::formatter<E, char> : weft::detail::what_formatter {
};
