// scraper::normalize_url, resolve_link, link_resolver, origin_of,
// path_and_query.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "url.hpp"

using scraper::normalize_url;
using scraper::resolve_link;

TEST_CASE("url: normalize lowercases scheme and host, drops default port and fragment", "[scraper][url]") {
  CHECK(normalize_url("HTTP://Example.COM:80/a/./b/../c#top") == "http://example.com/a/c");
  CHECK(normalize_url("https://example.com:443") == "https://example.com/");
  CHECK(normalize_url("https://example.com:80/") == "https://example.com:80/");
  CHECK(normalize_url("http://example.com:8080") == "http://example.com:8080/");
  CHECK(normalize_url("http://example.com:/x") == "http://example.com/x");
  CHECK(normalize_url("http://example.com") == "http://example.com/");
  CHECK(normalize_url("http://example.com/A/B?Q=1#f") == "http://example.com/A/B?Q=1");
  CHECK(normalize_url("http://127.0.0.1:8000/page/1.html") == "http://127.0.0.1:8000/page/1.html");
}

TEST_CASE("url: normalize fixes percent-encoding", "[scraper][url]") {
  CHECK(normalize_url("http://example.com/%7euser/a%2fb") == "http://example.com/~user/a%2Fb");
  CHECK(normalize_url("http://example.com/a%20b?x=%41") == "http://example.com/a%20b?x=A");
}

TEST_CASE("url: normalize refuses what the scraper cannot fetch", "[scraper][url]") {
  CHECK_FALSE(normalize_url("ftp://example.com/"));
  CHECK_FALSE(normalize_url("mailto:someone@example.com"));
  CHECK_FALSE(normalize_url("/relative/path"));
  CHECK_FALSE(normalize_url("http:///nohost"));
  CHECK_FALSE(normalize_url("http://exa mple.com/"));
  CHECK_FALSE(normalize_url(""));
}

TEST_CASE("url: resolve_link follows RFC 3986 references", "[scraper][url]") {
  const std::string base = "http://a/b/c/d;p?q";
  CHECK(resolve_link(base, "g") == "http://a/b/c/g");
  CHECK(resolve_link(base, "./g") == "http://a/b/c/g");
  CHECK(resolve_link(base, "g/") == "http://a/b/c/g/");
  CHECK(resolve_link(base, "/g") == "http://a/g");
  CHECK(resolve_link(base, "//g") == "http://g/");
  CHECK(resolve_link(base, "?y") == "http://a/b/c/d;p?y");
  CHECK(resolve_link(base, "g?y") == "http://a/b/c/g?y");
  CHECK(resolve_link(base, "#s") == "http://a/b/c/d;p?q");
  CHECK(resolve_link(base, "g#s") == "http://a/b/c/g");
  CHECK(resolve_link(base, "..") == "http://a/b/");
  CHECK(resolve_link(base, "../g") == "http://a/b/g");
  CHECK(resolve_link(base, "../../../g") == "http://a/g");
  CHECK(resolve_link(base, "") == "http://a/b/c/d;p?q");
  CHECK(resolve_link(base, "https://Other.example:443/x") == "https://other.example/x");
}

TEST_CASE("url: resolve_link keeps escaped reserved characters", "[scraper][url]") {
  // "%2F" is not a '/' and "%28" not a '(' (RFC 3986 6.2.2.2): decoding
  // them names another resource, and the page linked both ways would be
  // fetched twice. Only escaped unreserved characters are decoded.
  const std::string base = "http://a/special/links.html";
  CHECK(resolve_link(base, "odd%2Fname.html") == "http://a/special/odd%2Fname.html");
  CHECK(resolve_link(base, "paren%281%29.html") == "http://a/special/paren%281%29.html");
  CHECK(resolve_link(base, "/wiki/Salt_%28cryptography%29") == "http://a/wiki/Salt_%28cryptography%29");
  CHECK(resolve_link(base, "https://en.wikipedia.org/wiki/Salt_%28cryptography%29") ==
        "https://en.wikipedia.org/wiki/Salt_%28cryptography%29");
  CHECK(resolve_link(base, "//b/x%2fy?q=%2F") == "http://b/x%2Fy?q=%2F");
  CHECK(resolve_link(base, "%7Euser/%41.html") == "http://a/special/~user/A.html");
  CHECK(resolve_link("http://a/x%2Fy/page.html", "../up.html") == "http://a/up.html");
  // The same page reached as a seed and as a link is one URL.
  CHECK(resolve_link(base, "a%281%29.html") == scraper::normalize_url("http://a/special/a%281%29.html"));
}

TEST_CASE("url: resolve_link skips non-http schemes and cleans hrefs", "[scraper][url]") {
  const std::string base = "http://example.com/dir/page.html";
  CHECK_FALSE(resolve_link(base, "mailto:me@example.com"));
  CHECK_FALSE(resolve_link(base, "javascript:void(0)"));
  CHECK_FALSE(resolve_link(base, "JavaScript:alert(1)"));
  CHECK_FALSE(resolve_link(base, "data:text/html,hello"));
  CHECK_FALSE(resolve_link(base, "tel:+123"));
  CHECK_FALSE(resolve_link(base, "ftp://example.com/file"));
  CHECK_FALSE(resolve_link("not a url", "/x"));
  CHECK(resolve_link(base, "  other.html \n") == "http://example.com/dir/other.html");
  CHECK(resolve_link(base, "a b.html") == "http://example.com/dir/a%20b.html");
  CHECK(resolve_link(base, "caf\xC3\xA9.html") == "http://example.com/dir/caf%C3%A9.html");
  CHECK(resolve_link(base, "100%.html") == "http://example.com/dir/100%25.html");
  CHECK(resolve_link(base, "/x\t/y") == "http://example.com/x/y");
}

TEST_CASE("url: origin_of and path_and_query", "[scraper][url]") {
  CHECK(scraper::origin_of("http://example.com/x/y?z") == "http://example.com");
  CHECK(scraper::origin_of("http://127.0.0.1:8080/") == "http://127.0.0.1:8080");
  CHECK(scraper::origin_of("https://user:pw@example.com:8443/") == "https://example.com:8443");
  CHECK(scraper::path_and_query("http://example.com/x/y?z=1") == "/x/y?z=1");
  CHECK(scraper::path_and_query("http://example.com/") == "/");
  CHECK(scraper::path_and_query("http://example.com/?") == "/?");
}

TEST_CASE("url: link_resolver gives what resolve_link gives, for every base and href", "[scraper][url]") {
  const std::vector<std::string> bases = {
      "http://a/b/c/d;p?q",
      "http://a/b/c/d;p",
      "HTTP://Ex.COM:80/dir/page.html",
      "https://ex.com:443/x%2Fy/page.html?a=%41&b",
      "http://user:pw@ex.com:8080/a/./b/../c",
      "http://ex.com",
      "http://ex.com?q=1",
      "http://ex.com//double//slash",
      "http://ex.com:0/bad-port",
      "http://ex.com:99999/bad-port",
      "http:///no-host",
      "http:relative",
      "ftp://ex.com/file",
      "mailto:me@ex.com",
      "not a url",
      "",
  };
  const std::vector<std::string> hrefs = {
      "g",
      "./g",
      "g/",
      "/g",
      "//g",
      "?y",
      "g?y",
      "#s",
      "g#s",
      "..",
      "../g",
      "../../../g",
      "",
      ".",
      "./",
      "/./g",
      "/../g",
      "g;x=1/../y",
      "HTTPS://Other.example:443/x",
      "//B:81/x%2fy?q=%2F",
      "//b",
      "//",
      "///x",
      "odd%2Fname.html",
      "%7Euser/%41.html",
      "a b.html",
      "caf\xC3\xA9.html",
      "100%.html",
      "  other.html \n",
      "/x\t/y",
      "mailto:me@ex.com",
      "javascript:void(0)",
      "data:text/html,x",
      "ftp://ex.com/f",
      "?",
      "?#",
      "g?q=%2f&r=%7e",
      "http:g",
      "http://",
      "http://h:0/",
      "%",
      "[",
      "/p?a=b?c",
      "../../..",
      "..%2F..",
  };
  for (const auto& base : bases) {
    const scraper::link_resolver r(base);
    for (const auto& href : hrefs) {
      INFO("base '" << base << "' href '" << href << "'");
      CHECK(r.resolve(href) == resolve_link(base, href));
    }
  }
  CHECK(scraper::link_resolver("http://example.com/a/b.html").resolve("../c.html?x=1#s") ==
        "http://example.com/c.html?x=1");
}
