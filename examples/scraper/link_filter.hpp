// scraper::link_filter: which links a crawl follows, by regular expressions
// on their absolute URLs, with the semantics of Scrapy's LinkExtractor
// allow/deny: a link is followed when it matches any `allow` pattern (or
// none is given) and no `deny` pattern. A pattern matches anywhere in the
// URL (a search, as Python's re.search); anchor it with ^ and $ to match
// the whole URL. RE2 syntax (Perl-like, no backreferences), linear time.
//
//   scraper::link_filter f({.allow = {"/page/\\d+"}, .deny = {"\\.png$", "/private/"}});
//   f.follows("http://h/page/7.html");   // true
//   f.follows("http://h/page/7.png");    // false
//
// Patterns are compiled once, in the constructor (a bad one throws
// std::invalid_argument naming it and RE2's message); follows() is const,
// takes no lock and may be called from any number of threads at once.
// Nothing blocks or suspends: no cancellation.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace scraper {

struct link_filter_options {
  std::vector<std::string> allow;  // empty: every link is allowed
  std::vector<std::string> deny;
};

class link_filter {
 public:
  link_filter();  // follows everything
  explicit link_filter(const link_filter_options& o);
  ~link_filter();
  link_filter(link_filter&&) noexcept;
  link_filter& operator=(link_filter&&) noexcept;

  /// Whether the absolute URL passes: allowed and not denied.
  bool follows(std::string_view url) const;
  /// Whether there is any pattern at all (follows() is then always true).
  bool empty() const noexcept;

  /// Throws std::invalid_argument unless `pattern` compiles; the message
  /// names `option` ("--allow"), the pattern and RE2's error.
  static void check(std::string_view option, const std::string& pattern);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace scraper
