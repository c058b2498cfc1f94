// URLs as the scraper keys them: absolute http(s) URLs in one normal form,
// so that two spellings of a page are crawled once. Built on Boost.URL
// (RFC 3986 parsing and reference resolution).
//
//   auto u = scraper::normalize_url("HTTP://Example.COM:80/a/./b/../c#top");
//   // "http://example.com/a/c"
//   auto l = scraper::resolve_link("http://example.com/a/b.html", "../c.html?x=1#s");
//   // "http://example.com/c.html?x=1"
//   scraper::origin_of("http://example.com:8080/x");      // "http://example.com:8080"
//   scraper::path_and_query("http://example.com/x?y=1");  // "/x?y=1"
//
// Pure functions: nothing blocks, no cancellation or deadline applies.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace scraper {

/// The normal form of an absolute http or https URL: scheme and host
/// lowercased, the default port (80, 443) dropped, an empty path made "/",
/// dot segments removed, percent-encoding normalized (hex digits uppercase,
/// unreserved characters decoded), the fragment dropped. nullopt when it is
/// not http(s), has no host, or does not parse.
std::optional<std::string> normalize_url(std::string_view absolute);

/// `href` (as written in a page, surrounding whitespace allowed) resolved
/// against `base` (an absolute URL), then normalized. Characters a browser
/// would percent-encode (spaces, non-ASCII bytes...) are encoded first.
/// nullopt for mailto:, javascript:, data: and every other non-http(s)
/// result, and for what does not parse.
std::optional<std::string> resolve_link(std::string_view base, std::string_view href);

/// resolve_link for many links of one page: the base is parsed once, and
/// a relative link's normal form is built from its parts instead of being
/// written out and parsed again. resolve(href) == resolve_link(base, href)
/// for every href.
///
///   scraper::link_resolver r("http://example.com/a/b.html");
///   auto l = r.resolve("../c.html?x=1#s");  // "http://example.com/c.html?x=1"
class link_resolver {
 public:
  explicit link_resolver(std::string_view base);
  std::optional<std::string> resolve(std::string_view href) const;

 private:
  std::string base_;
  bool parsed_ = false;                // base_ is a URI
  bool general_ = false;               // base_ has no authority: resolve_link does it
  std::string scheme_;                 // as written
  std::string path_;                   // encoded
  std::optional<std::string> query_;   // encoded
  std::optional<std::string> origin_;  // the normal form's "scheme://authority"; nullopt: no relative link resolves
};

/// "scheme://host[:port]" of a normalized URL (the port only when it is not
/// the default): the key for per-host limits and robots.txt.
std::string origin_of(std::string_view normalized_url);

/// The path and query of a normalized URL ("/a/b?x=1"), what robots rules
/// match and what a request line carries.
std::string path_and_query(std::string_view normalized_url);

}  // namespace scraper
