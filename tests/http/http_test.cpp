// The umbrella header weft/http.hpp on its own: it compiles without any
// other weft header, and a few names from the headers it gathers work
// without a runtime (parsing, responses, content codings, client errors).
// Each header's own tests are in <header>_test.cpp.
#include <catch2/catch.hpp>

#include "weft/http.hpp"

#include <string>

namespace http = weft::http;

TEST_CASE("weft/http.hpp: parse, respond, decode, name the errors", "[http][umbrella]") {
  auto req = http::parse_request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(req.method == "GET");
  CHECK(req.target == "/x");
  CHECK(req.headers.get("host") == "h");

  auto resp = http::make_response(404, "gone");
  CHECK(resp.status == 404);
  CHECK(http::reason_phrase(resp.status) == "Not Found");

  CHECK(http::parse_content_coding("gzip") == http::content_coding::gzip);
  http::content_decoder d{http::content_coding::identity, 16};
  std::string out;
  d.feed(weft::io::as_bytes("plain"), out);
  d.finish();
  CHECK(out == "plain");

  const http::client_error e{http::client_errc::connect, "http://h/", "refused"};
  CHECK(std::string(e.what()) == "http://h/: refused");
  CHECK(http::to_string(e.code()) == "connect");
}
