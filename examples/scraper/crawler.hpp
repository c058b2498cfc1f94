// scraper::crawler: the crawl engine of the scraper example. It fetches
// pages with weft::http::client, parses HTML bodies in the process pool
// (analyze_page, in batches: page_batcher.hpp) so the I/O side never
// waits on the parser, and follows links breadth-first.
//
//   scraper::crawl_options o;
//   o.seeds = {"http://127.0.0.1:8080/"};
//   o.max_pages = 500;
//   scraper::crawler c(o, [](const scraper::page_record& r) { fmt::print("{}\n", scraper::to_json_line(r)); });
//   scraper::crawl_stats s = co_await c.run();
//
// Scheduling: `concurrency` worker tasks pull from a frontier kept per
// origin (scheme://host:port). An origin is served only after its
// robots.txt was fetched (once, by whichever worker gets there first), and
// consecutive requests to one origin start at least max(delay, robots
// Crawl-delay) apart: a worker reserves the origin's next slot and sleeps
// until it, so other workers go on with other origins meanwhile.
// Connections per host are capped by the client (per_host).
// With autothrottle (throttle.hpp) each origin's gap adapts to its
// latency: a worker then waits, just before each request, until the gap
// in force at that moment has passed since the origin's last request
// start, so that a gap that grew or shrank applies at once.
//
// robots.txt rules are immutable once parsed and shared (shared_ptr to
// const): a worker copies the pointer under the scheduler lock and matches
// outside it, so a huge or hostile robots.txt slows only its own origin's
// URLs, never the scheduling of the others.
//
// Redirects: the crawler follows them itself, one hop at a time (the
// client is asked not to follow them for pages), because every hop is a
// request to a URL that must pass the checks a link passes: the Location,
// resolved and normalized like a link, must be http(s), in scope (the
// seeds' origins when same_host), and allowed by the robots.txt of its
// origin, which is fetched first if not known yet, exactly as before an
// origin's first page; the hop then waits for that origin's politeness
// slot. A refused hop ends the fetch (redirect_out_of_scope,
// redirect_disallowed) and its target is never requested. A URL seen twice
// in a chain is redirect_loop, more than max_redirects hops
// too_many_redirects. Only the final URL counts as fetched (a page reached
// again through a redirect is recorded as a duplicate, not parsed twice).
// robots.txt itself is fetched with the client following redirects (RFC
// 9309 2.3.1.2).
//
// Parsing runs beside the fetching: a worker hands the body to the pool
// and fetches its next URL at once, so `concurrency` counts fetches only
// (at most 2 * concurrency pages wait for the pool).
//
// Extraction rules (options.rules, extract.hpp) travel with each page to
// the pool and are evaluated on the tree the parse builds; the links to
// queue are chosen there (rules.follow), then by allow/deny (RE2,
// link_filter.hpp), matched outside the scheduler lock. Seeds pass.
//
// Failures: timeouts, connection failures, 5xx and 429 are retried up to
// `retries` times after an exponential backoff with full jitter (or the
// server's Retry-After, capped), then recorded with their error kind.
//
// Sitemaps (crawl_options::sitemaps): once an origin in scope has its
// robots.txt, one job reads its sitemaps (the Sitemap: lines, else
// /sitemap.xml), one file after another in its politeness slots; a
// sitemap index's children are read too, each file once per crawl,
// nested up to sitemap_max_levels. The files are fetched without
// following redirects (a redirect's target is read as a sitemap of its
// own, checked like one) and parsed in the process pool (sitemap.hpp);
// their URLs in scope are queued at depth 0, as Scrapy's SitemapSpider
// does, then checked against robots.txt and fetched like links. Each file
// yields a record ("sitemap": true), with its error if it failed. Files
// are fetched by a client of their own (one connection per host) whose
// body cap is the protocol's 50 MB, not max_bytes.

// The frontier (frontier.hpp) is in memory; with crawl_options::state a
// store keeps it too, committed in batches, and a crawler made again with
// that store resumes: URLs done are not fetched again, those queued or in
// flight at a stop or a crash are.
//
// Cancellation: stop() (any thread, e.g. from a SIGINT watcher) stops
// scheduling and cancels the fetches in flight; run() then returns the
// statistics of what completed, and every completed page has already gone
// to the sink (and, with state, was committed). Cancelling the task awaiting run() does the same but
// run() ends with operation_cancelled.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "page.hpp"
#include "page_batcher.hpp"
#include "weft/runtime/task.hpp"

namespace scraper {

class frontier_store;

/// Why a fetched (or skipped) URL yielded no parsed page.
enum class fetch_error {
  none,
  timeout,                // connect, request or read timeout (after retries)
  connect,                // connection refused/unreachable, name resolution (after retries)
  connection_closed,      // the server closed or reset the connection mid-response (after retries)
  tls,                    // handshake or certificate failure
  protocol,               // malformed response, bad content encoding
  too_many_redirects,     // longer chain than max_redirects
  redirect_loop,          // a URL seen twice in one redirect chain
  redirect_out_of_scope,  // a redirect to another origin in a same_host crawl: not followed
  redirect_disallowed,    // a redirect to a URL robots.txt disallows: not followed
  too_large,              // body over max_bytes
  bad_url,                // unparsable or unsupported URL
  http_4xx,               // final status 400..499
  http_5xx,               // final status 500..599 (after retries)
  parse_failed,           // the analyzer failed (worker crash, exception)
  other,                  // anything else (message says what)
};
std::string_view to_string(fetch_error) noexcept;

/// One line of output: a URL whose fetch was attempted.
struct page_record {
  std::string url;        // normalized, as queued
  std::string final_url;  // after redirects; empty without a response
  int status = 0;         // final HTTP status; 0 without a response
  std::size_t depth = 0;  // link distance from a seed
  std::string content_type;
  std::uint64_t bytes = 0;             // body bytes (after content decoding)
  double ms = 0;                       // fetch time: first request to last body byte, retries and backoff included
  int attempts = 0;                    // requests made: one per redirect hop, plus retries
  std::vector<fetch_error> retried;    // why each retried attempt failed, in order
  std::vector<std::string> redirects;  // URLs redirected from, in order (also when a redirect error ended the fetch)
  std::optional<page_info> page;       // set when the body was HTML and parsed
  bool duplicate = false;              // redirected to a URL already fetched: not parsed again
  fetch_error error = fetch_error::none;
  std::string message;  // error detail (empty when none)
  std::string lastmod;  // the <lastmod> of the sitemap that listed the URL (sitemaps), as written
  // A sitemap file's record (sitemaps), not a page's: url is the sitemap,
  // entries what it listed (URLs, or child sitemaps for an index).
  bool sitemap = false;
  std::uint64_t entries = 0;
};

/// The record as one JSON object (no newline): url, final_url, status,
/// depth, title, links, word_count, top_words, bytes, ms, content_type,
/// error (null or the kind), plus attempts, and when they apply retried
/// (the failures that were retried), redirects, html_ok, duplicate,
/// message and lastmod; a sitemap's record has "sitemap":true and
/// "entries"; "fields" (page_info::fields as an object of lists) on parsed
/// pages when there are extraction rules.
std::string to_json_line(const page_record& r);

struct crawl_options {
  std::vector<std::string> seeds;            // absolute http(s) URLs, depth 0
  std::size_t max_pages = 0;                 // fetches started at most (0: no limit)
  int max_depth = -1;                        // links followed up to this depth (-1: no limit)
  std::size_t concurrency = 64;              // fetches in flight in total
  std::size_t per_host = 8;                  // connections per host (client_options::max_connections_per_host)
  std::chrono::milliseconds delay{0};        // minimum gap between request starts to one origin
  bool autothrottle = false;                 // adapt each origin's gap to its latency (throttle.hpp; delay: the floor)
  double target_concurrency = 1.0;           // autothrottle: requests in flight wanted per origin (> 0)
  std::chrono::milliseconds max_delay{};     // autothrottle: the gap's ceiling (0: 60 s, Scrapy's default)
  bool same_host = true;                     // follow links only to the seeds' origins
  std::chrono::milliseconds timeout{10000};  // per attempt (connect, and request per redirect hop)
  int retries = 2;
  std::chrono::milliseconds backoff_base{100};   // first retry waits up to this (full jitter), doubling
  std::chrono::milliseconds backoff_cap{10000};  // caps a backoff and a Retry-After
  bool robots = true;                            // fetch and obey robots.txt
  // Read the sitemaps of each origin in scope (the seeds' origins when
  // same_host): those robots.txt lists, else /sitemap.xml. Their URLs are
  // queued at depth 0, like seeds; each sitemap file gets a record.
  bool sitemaps = false;
  std::string user_agent = "weft-scraper/0.1";  // also the robots.txt product token (up to '/')
  int max_redirects = 10;                 // hops followed per page at most (0: a 3xx is the page's final response)
  std::uint64_t max_bytes = 16ull << 20;  // per body
  // A resumable crawl (frontier.hpp): run() resumes from what the store
  // holds (URLs done are not fetched again, those found and not done are
  // queued) and commits to it every commit_interval and at the end, in
  // batches: links found, URLs done, robots.txt responses, the record count.
  // Null: the frontier lives in memory only.
  std::shared_ptr<frontier_store> state;
  // With state: called (on the blocking pool, while no record goes to the
  // sink) before each commit; makes every record given to the sink so far
  // durable and returns the output's size, which the commit stores.
  std::function<std::uint64_t()> checkpoint;
  std::chrono::milliseconds commit_interval{200};
  bool analyze = true;             // parse HTML in the process pool (false: fetch only)
  page_rules rules;                // fields to extract and links to follow, evaluated in the worker (extract.hpp)
  std::vector<std::string> allow;  // follow a link only if it matches one of these RE2 patterns (none: any)
  std::vector<std::string> deny;   // never follow a link matching one of these (link_filter.hpp); seeds pass
  page_batcher_options batching;   // how pages are gathered into pool calls (page_batcher.hpp)
};

/// An origin's autothrottle state at the end of a crawl (crawl_stats::hosts).
struct host_pace {
  double delay_ms = 0;                        // the gap between request starts, now
  double min_delay_ms = 0, max_delay_ms = 0;  // the extremes it took
  double latency_ms = 0;                      // mean response time (request start to last body byte)
  double last_latency_ms = 0;                 // the last response's
  std::uint64_t requests = 0;                 // attempts measured (responses and timeouts)
  std::uint64_t backoffs = 0;                 // 429, 503 and timeouts
};

struct crawl_stats {
  std::uint64_t pages = 0;     // records produced (fetches attempted and finished)
  std::uint64_t pages_ok = 0;  // records without error
  std::uint64_t parsed = 0;    // HTML pages analyzed
  std::uint64_t bytes = 0;
  double seconds = 0;
  std::map<std::string, std::uint64_t> errors;  // kind -> records
  std::uint64_t retries = 0;                    // extra attempts (robots.txt fetches included)
  std::uint64_t robots_disallowed =
      0;                               // URLs (links or redirect targets) not fetched because robots.txt disallows them
  std::uint64_t robots_fetched = 0;    // robots.txt requests that got a response
  std::uint64_t sitemaps_fetched = 0;  // sitemap files that came back with a 2xx
  std::uint64_t sitemap_urls = 0;      // URLs from sitemaps queued (new ones: not seen before)
  std::uint64_t sitemap_skipped = 0;   // sitemap <loc>s skipped: invalid, or out of scope
  std::uint64_t sitemap_errors = 0;    // sitemap files that failed (fetch, HTTP status, parse, limits)
  std::uint64_t not_html = 0;          // fetched fine but not HTML: not parsed
  std::uint64_t broken_html = 0;       // parsed with recoverable errors
  std::uint64_t redirected = 0;        // records whose final URL differs
  std::uint64_t redirects_refused = 0;  // redirects not followed: out of scope or disallowed by robots.txt
  std::uint64_t duplicates = 0;         // redirected onto an already fetched URL
  std::uint64_t links = 0;              // links found on parsed pages
  std::uint64_t links_filtered = 0;     // links (as counted in links) not followed: refused by allow/deny
  std::uint64_t queued = 0;             // distinct URLs queued (seeds included)
  std::uint64_t cancelled = 0;          // fetches cut short by stop()
  std::uint64_t resumed = 0;            // records written by earlier runs (crawl_options::state)
  // With autothrottle: scheme://host:port -> its state at the end.
  std::map<std::string, host_pace> hosts;
  bool stopped = false;  // stop() ended the crawl
  double pages_per_s() const noexcept { return seconds > 0 ? static_cast<double>(pages) / seconds : 0; }
};

/// {"pages":..,"pages_ok":..,"bytes":..,"seconds":..,"pages_per_s":..,"errors":{..},"retries":..,...}
/// and, with autothrottle, "hosts":{"http://h:80":{"delay_ms":..,"latency_ms":..,"requests":..,...}}.
std::string to_json(const crawl_stats& s);
/// A few human-readable lines (pages, bytes, errors by kind, throughput;
/// with autothrottle, the slowest host's delay).
std::string summary_text(const crawl_stats& s);

/// A consistent-enough snapshot for a progress line (relaxed counters).
struct crawl_progress {
  std::uint64_t done = 0;    // records produced
  std::uint64_t failed = 0;  // of which with an error
  std::uint64_t queued = 0;  // waiting in the frontier
  std::uint64_t in_flight = 0;
  double seconds = 0;  // since run() started
};

class crawler {
 public:
  /// Receives every record, one call at a time (serialized by the crawler),
  /// on whichever worker thread finished the page.
  using sink = std::function<void(const page_record&)>;

  /// Throws std::invalid_argument for an empty or unusable seed list or
  /// out-of-range options (the message names the option).
  crawler(crawl_options options, sink on_page);
  ~crawler();
  crawler(const crawler&) = delete;
  crawler& operator=(const crawler&) = delete;

  /// Crawls until the frontier is empty, max_pages fetches were started, or
  /// stop(). Call once, on a weft runtime.
  weft::task<crawl_stats> run();
  /// Stops scheduling and cancels fetches in flight; run() returns soon
  /// after. Idempotent, callable from any thread.
  void stop() noexcept;
  crawl_progress progress() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace scraper
