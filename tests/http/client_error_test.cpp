// weft::http::client_error: what() with and without a URL, code(), url()
// and detail(), the name of every client_errc, and that it is caught as a
// std::runtime_error. (Which failure raises which code: client_test.cpp and
// content_decoder_test.cpp.)
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "weft/http/client_error.hpp"

namespace http = weft::http;

static_assert(std::is_base_of_v<std::runtime_error, http::client_error>);

TEST_CASE("http client_error: what() is \"<url>: <message>\", or the message alone", "[http][client_error]") {
  const http::client_error e{http::client_errc::connect, "http://localhost:1/", "connection refused"};
  CHECK(std::string(e.what()) == "http://localhost:1/: connection refused");
  CHECK(e.code() == http::client_errc::connect);
  CHECK(e.url() == "http://localhost:1/");
  CHECK(e.detail() == "connection refused");

  const http::client_error bare{http::client_errc::bad_encoding, "", "gzip body: truncated"};
  CHECK(std::string(bare.what()) == "gzip body: truncated");
  CHECK(bare.url().empty());
  CHECK(bare.detail() == "gzip body: truncated");

  try {
    throw http::client_error(http::client_errc::tls, "https://h/", "certificate verify failed");
  } catch (const std::runtime_error& caught) {
    CHECK(std::string(caught.what()) == "https://h/: certificate verify failed");
  }
}

TEST_CASE("http client_error: every client_errc has its name", "[http][client_error]") {
  using c = http::client_errc;
  CHECK(http::to_string(c::bad_url) == "bad_url");
  CHECK(http::to_string(c::unsupported_scheme) == "unsupported_scheme");
  CHECK(http::to_string(c::connect) == "connect");
  CHECK(http::to_string(c::tls) == "tls");
  CHECK(http::to_string(c::connection_closed) == "connection_closed");
  CHECK(http::to_string(c::protocol) == "protocol");
  CHECK(http::to_string(c::too_many_redirects) == "too_many_redirects");
  CHECK(http::to_string(c::redirect_loop) == "redirect_loop");
  CHECK(http::to_string(c::response_too_large) == "response_too_large");
  CHECK(http::to_string(c::bad_encoding) == "bad_encoding");
}
