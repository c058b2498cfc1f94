// What the scraper learns from a page: title, outgoing links, word count
// and top words. analyze_page is the CPU part of a crawl; it is pure, so it
// runs in the process pool (its result travels back through cereal):
//
//   scraper::page_info info =
//       co_await weft::spawn_process(scraper::analyze_page, final_url, std::move(body));
//
// HTML is parsed by libxml2's forgiving HTML parser (never by regexes):
// broken markup, stray '<', bad entities and bytes that are not UTF-8 still
// yield what can be recovered, with html_ok false. Nothing here blocks or
// waits; cancellation and deadlines apply to the spawn_process call, not
// to the parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "extract.hpp"

namespace scraper {

struct page_info {
  std::string title;               // whitespace collapsed, trimmed
  std::vector<std::string> links;  // <a href> and <area href>, resolved against the final URL and
                                   // <base href>, normalized, deduplicated, in document order;
                                   // rel=nofollow still listed
  std::uint64_t word_count = 0;    // words of the visible text (script/style/noscript/template and
                                   // <head> excluded)
  std::vector<std::pair<std::string, std::uint64_t>> top_words;  // top 10 lowercase words of >= 3
      // letters, stop words excluded, count desc then word asc
  bool html_ok = true;              // false when the parser had to recover from errors
  field_values fields;              // page_rules::fields, each NAME and its values (extract.hpp), in the rules' order
  bool follow_restricted = false;   // page_rules::follow was given: only `follow` is followed
  std::vector<std::string> follow;  // the links (of `links`, in its order) the follow XPaths selected

  template <class A>
  void serialize(A& a) {
    a(title, links, word_count, top_words, html_ok, fields, follow_restricted, follow);
  }
};

/// Parses `html` (any bytes) fetched from `final_url` (absolute, after
/// redirects). A word is a run of letters and digits (ASCII, or any
/// non-ASCII UTF-8 character), apostrophes inside it included.
page_info analyze_page(std::string final_url, std::string html);

/// analyze_page, then the rules evaluated on the same parsed tree (the page
/// is parsed once): fields and, with follow XPaths, the links to follow.
/// The rules must have passed check_rules (an XPath failing at run time
/// leaves its field empty; nothing throws because of a rule). A name of
/// its own, not an overload, so that spawn_process(analyze_page, ...)
/// still names one function:
///
///   auto info = co_await weft::spawn_process(scraper::analyze_page_with, url, std::move(body), rules);
page_info analyze_page_with(std::string final_url, std::string html, page_rules rules);

/// Whether a Content-Type is HTML: text/html or application/xhtml+xml,
/// parameters (charset...) ignored, case-insensitive.
bool is_html(std::string_view content_type);

/// How many top words page_info::top_words keeps.
inline constexpr std::size_t top_words_kept = 10;

}  // namespace scraper
