// robots.txt (RFC 9309): which paths a crawler may fetch from a host, and
// how long it should wait between requests.
//
//   auto rules = scraper::robots_rules::parse(body, "weft-scraper/0.1");
//   if (rules.allowed("/private/x.html")) ...            // path and query
//   if (auto d = rules.crawl_delay()) ...                  // at least *d between requests
//
// The groups for the crawler's product token ("weft-scraper", matched
// case-insensitively) are used, merged if several; if none names it, the
// "*" groups; if there are none either, everything is allowed. Among the
// rules that match a path the longest pattern wins, Allow on a tie; "*"
// matches any run of characters and a final "$" anchors the end. Patterns
// and paths are compared with their percent-encoding normalized, so
// "/caf%c3%a9" and "/café" are the same path. "/robots.txt" itself is
// always allowed. Pure: nothing blocks, no cancellation applies.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scraper {

class robots_rules {
 public:
  /// Everything allowed, no delay (what a missing robots.txt, a 4xx, means).
  robots_rules() = default;

  /// The rules of `text` for `user_agent` (a product token, or a full
  /// User-Agent value whose token is the part before '/' or a space).
  /// Lines that do not parse are ignored, as RFC 9309 asks.
  static robots_rules parse(std::string_view text, std::string_view user_agent);
  static robots_rules allow_all() { return {}; }
  /// Nothing allowed (what RFC 9309 asks after a 5xx or an unreachable
  /// robots.txt); "/robots.txt" itself stays allowed.
  static robots_rules disallow_all();

  /// Whether a path (with its query, "/a/b?c=1") may be fetched.
  bool allowed(std::string_view path_and_query) const;
  /// The group's Crawl-delay (seconds, fractions allowed), if it has one.
  std::optional<std::chrono::milliseconds> crawl_delay() const { return crawl_delay_; }

 private:
  struct rule {
    std::string pattern;  // percent-encoding normalized, '$' kept at the end
    bool allow;
  };
  std::vector<rule> rules_;
  std::optional<std::chrono::milliseconds> crawl_delay_;
};

}  // namespace scraper
