// What a full crawl of the demo site must have met: each kind of trouble
// in the site's manifest against what the crawl counted. Used by the
// scraper's summary, its --quick self-check and the end-to-end test.
//
//   scraper::demo_tally tally;   // fed every record: tally.add(r)
//   ... crawl ...
//   for (auto& line : scraper::check_demo(site.manifest(), stats, tally))
//     fmt::print("{:<40} {}/{} {}\n", line.what, line.got, line.expected, line.ok() ? "ok" : "MISMATCH");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crawler.hpp"
#include "demo_site.hpp"

namespace scraper {

/// Counts that the statistics do not keep.
struct demo_tally {
  std::uint64_t recovered = 0;  // 2xx after a retried 5xx (the flaky URLs)

  void add(const page_record& r) {
    if (r.error != fetch_error::none || r.status < 200 || r.status >= 300) return;
    for (auto e : r.retried)
      if (e == fetch_error::http_5xx) {
        ++recovered;
        return;
      }
  }
};

struct demo_check_line {
  const char* what;
  std::uint64_t got;
  std::uint64_t expected;
  bool ok() const noexcept { return got == expected; }
};

inline std::uint64_t error_count(const crawl_stats& s, const char* kind) {
  auto it = s.errors.find(kind);
  return it == s.errors.end() ? 0 : it->second;
}

inline std::vector<demo_check_line> check_demo(const demo_site_manifest& m, const crawl_stats& s, const demo_tally& t) {
  std::uint64_t expected_errors = 0;
  for (const char* k : {"http_4xx", "redirect_loop", "timeout"}) expected_errors += error_count(s, k);
  std::uint64_t all_errors = 0;
  for (const auto& [k, v] : s.errors) all_errors += v;
  return {
      {"HTML pages parsed", s.parsed, m.html_pages},
      {"404 Not Found", error_count(s, "http_4xx"), m.not_found},
      {"flaky 500/503 recovered by retrying", t.recovered, m.flaky},
      {"redirects followed", s.redirected, m.redirects},
      {"redirect loops detected", error_count(s, "redirect_loop"), m.redirect_loops},
      {"slow pages timed out", error_count(s, "timeout"), m.slow},
      {"broken HTML parsed anyway", s.broken_html, m.broken_html},
      {"binary files fetched, not parsed", s.not_html, m.binary},
      {"disallowed by robots.txt, not fetched", s.robots_disallowed, m.disallowed},
      {"other errors", all_errors - expected_errors, 0},
  };
}

}  // namespace scraper
