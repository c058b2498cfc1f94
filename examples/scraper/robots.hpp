// robots.txt (RFC 9309): which paths a crawler may fetch from a host, and
// how long it should wait between requests.
//
//   auto rules = scraper::robots_rules::parse(body, "weft-scraper/0.1");
//   if (rules.allowed("/private/x.html")) ...            // path and query
//   if (auto d = rules.crawl_delay()) ...                  // at least *d between requests
//   for (const auto& url : rules.sitemaps()) ...           // its Sitemap: lines
//
// The groups for the crawler's product token ("weft-scraper", matched
// case-insensitively) are used, merged if several; if none names it, the
// "*" groups; if there are none either, everything is allowed. Among the
// rules that match a path the longest pattern wins, Allow on a tie; "*"
// matches any run of characters and a final "$" anchors the end. Patterns
// and paths are compared with their percent-encoding normalized, so
// "/caf%c3%a9" and "/café" are the same path. "/robots.txt" itself is
// always allowed. Only the first robots_max_bytes of a file are read.
// Matching a path takes time linear in the path and the rules (patterns
// are compiled once, when parsed), whatever a hostile file's "*" runs.
// Pure: nothing blocks, no cancellation applies.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scraper {

/// The most of a robots.txt that parse() reads: RFC 9309 section 2.5 lets
/// a crawler stop at 500 KiB (it must read at least that much). A crawler
/// can also stop downloading the file there.
inline constexpr std::size_t robots_max_bytes = 500 * 1024;

class robots_rules {
 public:
  /// Everything allowed, no delay (what a missing robots.txt, a 4xx, means).
  robots_rules() = default;

  /// The rules of `text` for `user_agent` (a product token, or a full
  /// User-Agent value whose token is the part before '/' or a space).
  /// Lines that do not parse are ignored, as RFC 9309 asks. A text over
  /// robots_max_bytes is read up to the last line end within the cap (a
  /// line cut by the cap could turn "/private" into "/pri").
  static robots_rules parse(std::string_view text, std::string_view user_agent);
  static robots_rules allow_all() { return {}; }
  /// Nothing allowed (what RFC 9309 asks after a 5xx or an unreachable
  /// robots.txt); "/robots.txt" itself stays allowed.
  static robots_rules disallow_all();

  /// Whether a path (with its query, "/a/b?c=1") may be fetched.
  bool allowed(std::string_view path_and_query) const;
  /// The group's Crawl-delay (seconds, fractions allowed), if it has one.
  std::optional<std::chrono::milliseconds> crawl_delay() const { return crawl_delay_; }
  /// The values of the file's Sitemap: lines (RFC 9309 section 2.4: in any
  /// group or none, field name case-insensitive), in order, duplicates
  /// dropped. Only absolute http(s) URLs are kept (the RFC requires them;
  /// a relative one could only be guessed at); not otherwise normalized.
  const std::vector<std::string>& sitemaps() const { return sitemaps_; }

 private:
  struct rule {
    std::string pattern;  // percent-encoding normalized, '$' kept at the end
    bool allow = false;
    bool anchored = false;  // pattern ends in '$': it must match the whole path
    // For each run of literal bytes between '*'s, its KMP failure table
    // (indexed like pattern; unused at the '*'s and the final '$').
    std::vector<std::uint32_t> border;
  };
  static rule compile(std::string pattern, bool allow);
  static bool matches(const rule& r, std::string_view path);
  std::vector<rule> rules_;  // longest pattern first, Allow first on a tie
  std::optional<std::chrono::milliseconds> crawl_delay_;
  std::vector<std::string> sitemaps_;
};

}  // namespace scraper
