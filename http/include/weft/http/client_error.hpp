// weft::http::client_error: what the HTTP client (http/client.hpp) and its
// body decoder (http/content_decoder.hpp) throw, with a client_errc saying
// which kind of failure it was.
//
//   try {
//     auto r = co_await c.get("http://localhost:1/");
//   } catch (const http::client_error& e) {
//     if (e.code() == http::client_errc::connect) retry_later(e.url());
//   }
//
// Timeouts are weft::timeout_error and cancellation weft::operation_cancelled,
// never a client_error; HTTP error statuses (404, 500) are responses.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace weft::http {

enum class client_errc {
  bad_url,             // not an absolute http(s) URL with a host, bad port
  unsupported_scheme,  // a scheme other than http and https
  connect,             // name resolution or TCP connect failed
  tls,                 // TLS handshake or certificate verification failed
  connection_closed,   // the peer closed or reset before the response ended
  protocol,            // malformed or over-limit response, bad Location
  too_many_redirects,  // more than max_redirects redirects
  redirect_loop,       // a URL came back in one redirect chain
  response_too_large,  // body (after decoding) over max_response_bytes
  bad_encoding,        // corrupt or truncated gzip/deflate body
};

/// The code's name ("bad_url", "connect"...).
std::string_view to_string(client_errc e) noexcept;

class client_error : public std::runtime_error {
 public:
  /// what() is "<url>: <message>" (just the message when url is empty).
  client_error(client_errc code, std::string url, const std::string& message);
  client_errc code() const noexcept { return code_; }
  const std::string& url() const noexcept { return url_; }
  /// The cause without the URL.
  const std::string& detail() const noexcept { return detail_; }

 private:
  client_errc code_;
  std::string url_;
  std::string detail_;
};

}  // namespace weft::http
