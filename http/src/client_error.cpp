#include "weft/http/client_error.hpp"

#include <utility>

namespace weft::http {

std::string_view to_string(client_errc e) noexcept {
  switch (e) {
    case client_errc::bad_url: return "bad_url";
    case client_errc::unsupported_scheme: return "unsupported_scheme";
    case client_errc::connect: return "connect";
    case client_errc::tls: return "tls";
    case client_errc::connection_closed: return "connection_closed";
    case client_errc::protocol: return "protocol";
    case client_errc::too_many_redirects: return "too_many_redirects";
    case client_errc::redirect_loop: return "redirect_loop";
    case client_errc::response_too_large: return "response_too_large";
    case client_errc::bad_encoding: return "bad_encoding";
  }
  return "unknown";
}

client_error::client_error(client_errc code, std::string url, const std::string& message)
    : std::runtime_error(url.empty() ? message : url + ": " + message),
      code_(code),
      url_(std::move(url)),
      detail_(message) {}

}  // namespace weft::http
