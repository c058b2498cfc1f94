// Sitemaps (the sitemaps.org protocol): the URLs a site lists for crawlers,
// in a <urlset>, or the child sitemaps listed by a <sitemapindex>.
// parse_sitemap is pure and CPU-bound (a sitemap may hold 50 MB of XML),
// so the crawler runs it in the process pool; its result travels back
// through cereal:
//
//   scraper::sitemap s = co_await weft::spawn_process(scraper::parse_sitemap, std::move(body));
//   if (s.error != scraper::sitemap_error::none) report(s.message);  // s.entries may still hold URLs
//   for (const auto& e : s.entries) queue(e.loc, e.lastmod);         // or fetch them, if s.index
//
// The body may be gzip-compressed (a .xml.gz file: recognized by its magic
// bytes, whatever the Content-Type says; a Content-Encoding was already
// undone by the HTTP client). It is inflated with zlib, stopping as soon
// as it grows past sitemap_max_bytes, so a small file inflating to
// gigabytes costs no more than the cap. The XML is read by libxml2's
// streaming xmlTextReader (no tree of the whole file), with network access
// off and no DTD loaded or entity substituted: an external entity (XXE) is
// never fetched or read, and an entity bomb is never expanded.
//
// Limits (the protocol's, per file): more than sitemap_max_urls entries
// fail the file with too_many_urls, the first sitemap_max_urls kept; more
// than sitemap_max_bytes of XML (after inflating) fail it with too_large,
// nothing kept (the cut file's end is unknown). XML that is not
// well-formed fails with bad_xml, nothing kept either; so does one text
// or comment node over libxml2's 10 MB (XML_PARSE_HUGE would lift that,
// and the parser's other safety limits with it; a real sitemap's nodes
// are small). A <loc> that is not an
// absolute http(s) URL (or is missing, or longer than the protocol's
// 2,048 characters) is skipped and counted in `invalid`.
//
// Nothing here blocks or waits; cancellation and deadlines apply to the
// spawn_process call, not to the parse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scraper {

/// Entries per sitemap file at most (sitemaps.org: 50,000 URLs, and as
/// many sitemaps in an index).
inline constexpr std::size_t sitemap_max_urls = 50'000;
/// Bytes per sitemap file at most, uncompressed (sitemaps.org: 50 MB, in
/// MiB: 52,428,800 bytes).
inline constexpr std::uint64_t sitemap_max_bytes = 52'428'800;
/// Levels of sitemap files a crawler reads at most: a file listed in
/// robots.txt (or /sitemap.xml), the children of an index there, and their
/// children. An index on the last level has its children left unread (the
/// protocol has no nested indexes; this bounds a site that nests anyway).
inline constexpr int sitemap_max_levels = 3;
/// Longest <loc> accepted (sitemaps.org: less than 2,048 characters).
inline constexpr std::size_t sitemap_max_loc = 2047;

/// Why a sitemap file yielded nothing, or only part of its entries.
enum class sitemap_error : std::uint8_t {
  none,
  bad_gzip,       // gzip magic bytes, but the data does not inflate
  bad_xml,        // not well-formed XML (message: libxml2's, with its line)
  not_a_sitemap,  // well-formed, but the root is neither <urlset> nor <sitemapindex>
  too_many_urls,  // more than sitemap_max_urls entries: the first ones kept
  too_large,      // more than sitemap_max_bytes uncompressed: nothing kept
};
std::string_view to_string(sitemap_error) noexcept;

/// One <url> of a urlset or one <sitemap> of an index.
struct sitemap_entry {
  std::string loc;      // normalized (scraper::normalize_url)
  std::string lastmod;  // as written (W3C Datetime), trimmed; empty when absent

  template <class A>
  void serialize(A& a) {
    a(loc, lastmod);
  }
};

struct sitemap {
  bool index = false;                  // a <sitemapindex>: entries are child sitemaps
  std::vector<sitemap_entry> entries;  // in document order
  std::uint64_t invalid = 0;           // <loc>s skipped: missing, too long, not absolute http(s)
  std::uint64_t bytes = 0;             // XML bytes (after inflating)
  bool gzipped = false;
  sitemap_error error = sitemap_error::none;
  std::string message;  // what was wrong and which limit or position; empty when none

  template <class A>
  void serialize(A& a) {
    a(index, entries, invalid, bytes, gzipped, error, message);
  }
};

/// Parses a sitemap file as fetched (plain XML or gzip). Never throws for
/// bad input: the error says what was wrong.
sitemap parse_sitemap(std::string body);

/// Whether `body` starts with the gzip magic bytes (1f 8b).
bool is_gzip(std::string_view body) noexcept;

}  // namespace scraper
