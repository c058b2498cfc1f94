// The scraper's built-in demo site: a generated web site of linked pages
// with realistic trouble, served by weft::http::server on 127.0.0.1, so that
// `scraper` with no URL has something to crawl, and tests know exactly what
// a crawl must meet.
//
//   auto site = scraper::demo_site::start({.pages = 2000});   // inside a runtime
//   crawl(site.root_url());                                   // "http://127.0.0.1:PORT/"
//   const auto& m = site.manifest();                          // what the crawl must have met
//   co_await site.stop();
//
// Everything is deterministic from the seed (a splitmix64 generator, not
// <random>'s distributions, which differ between standard libraries):
//   /                 index, links to the first pages
//   /page/N.html      N < pages: a title, paragraphs from a fixed vocabulary
//                     (so top words are known), 5-10 links to pages: page N
//                     links to 5N+5..5N+9, so every page is within a few
//                     links of /, to N+1 and to random pages; some also link
//                     to the trouble below (each trouble URL at least once)
//   /missing/K        404
//   /flaky/K          500 the first time (K odd) or the first two times
//                     (K even, K > 0); /flaky/0 answers 503 with
//                     Retry-After: 1 once; then a 200 page
//   /moved/K          301 (K even) or 302 to a page
//   /loop/a, /loop/b  302 to each other
//   /slow             a page, after slow_delay (a crawler times out first)
//   /broken.html      unclosed tags, stray '<', bad entities; still a title
//                     and links
//   /files/data.bin   application/octet-stream
//   /images/logo.png  image/png
//   /private/K.html   disallowed by /robots.txt; served (200) if asked anyway
//   /robots.txt       "User-agent: *" / "Disallow: /private/"
// Any other path is a 404; methods other than GET and HEAD get 405. Every
// response comes after `delay`. Flaky pages count requests per site
// instance (HEAD included), safely across the server's workers.
//
// demo_content is the site's content model alone, a pure function from a
// path and how many times it was asked before to the response planned; the
// manifest is computed from it by a crawl of the model itself.
//
// Cancellation: stop() shuts the server down gracefully (requests in
// flight, /slow included, get one second to finish); destroying a
// demo_site that was not stopped cancels its server instead.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"

namespace scraper {

struct demo_site_options {
  std::size_t pages = 2000;                     // /page/0.html .. /page/{pages-1}.html (>= 1)
  std::chrono::milliseconds delay{2};           // before every response
  std::chrono::milliseconds slow_delay{20000};  // before /slow's response
  std::uint64_t seed = 42;
  std::string host = "127.0.0.1";  // a numeric IPv4 or IPv6 address
  std::uint16_t port = 0;          // 0: a free port
};

/// What a full crawl from "/" with the scraper's default settings meets,
/// exactly (counts of distinct URLs).
struct demo_site_manifest {
  std::size_t html_pages = 0;      // HTML pages answering 200 (after retries) reached from "/"
                                   // and allowed by robots: "/", every /page/N.html, the flaky
                                   // pages and the broken one
  std::size_t not_found = 0;       // linked URLs answering 404
  std::size_t flaky = 0;           // URLs answering 500 (or 503 with Retry-After: 1) the first
                                   // K <= 2 times, then 200
  std::size_t redirects = 0;       // URLs answering 301/302 to a page
  std::size_t redirect_loops = 0;  // URLs in a redirect loop (/loop/a and /loop/b, both linked)
  std::size_t slow = 0;            // URLs that answer only after slow_delay (time out)
  std::size_t broken_html = 0;     // HTML pages with broken markup
  std::size_t binary = 0;          // non-HTML resources (application/octet-stream, image/png)
  std::size_t disallowed = 0;      // linked URLs under robots' Disallow (/private/)
  std::size_t max_depth = 0;       // links from "/" to the farthest URL (a redirect's target
                                   // counts one more)
  std::string robots_txt;          // the served robots.txt
};

/// What a URL of the site is, for the model's users (tests, manifest).
enum class demo_kind {
  index,
  page,
  not_found,
  flaky,
  redirect,
  redirect_loop,
  slow,
  broken,
  binary,
  disallowed,
  robots,
  bad_method
};

/// A response of the model.
struct demo_response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Location, Retry-After, Allow
  std::chrono::milliseconds delay{0};                        // before answering
  demo_kind kind = demo_kind::not_found;
  std::vector<std::string> links;  // HTML: the paths the body links to (resolved, in order)
};

/// The content model: pure, deterministic from the options.
class demo_content {
 public:
  explicit demo_content(demo_site_options o);

  /// The response for `method` on `target` (a path, with or without a
  /// query, which is ignored) when it was requested `attempt` times before.
  demo_response respond(std::string_view method, std::string_view target, std::uint64_t attempt) const;
  /// The GET response for a path once every transient failure is over.
  demo_response settled(std::string_view path) const;

  /// The crawl of the model from "/" (computed once, by the constructor).
  const demo_site_manifest& manifest() const noexcept { return manifest_; }
  const demo_site_options& options() const noexcept { return opts_; }
  /// Every trouble path the pages link to, in the order they are placed.
  const std::vector<std::string>& trouble_paths() const noexcept { return trouble_; }

  /// How many first requests of /flaky/K fail.
  static unsigned flaky_failures(std::size_t k) noexcept { return k % 2 == 1 || k == 0 ? 1 : 2; }

 private:
  demo_response page(std::size_t n) const;
  demo_response index() const;
  demo_response flaky_page(std::size_t k) const;
  demo_response broken() const;
  demo_response simple_html(demo_kind kind, std::string title, std::string text) const;
  void compute_manifest();

  demo_site_options opts_;
  std::size_t missing_ = 0, flaky_ = 0, moved_ = 0, private_ = 0;
  std::vector<std::string> trouble_;              // trouble paths, placement order
  std::vector<std::vector<std::size_t>> placed_;  // per page: indexes into trouble_
  demo_site_manifest manifest_;
};

/// The demo site served by weft::http::server.
class demo_site {
 public:
  /// Binds now (throws std::system_error if it cannot), serves from a task
  /// spawned on the current runtime (call it inside one).
  static demo_site start(demo_site_options o = {});

  demo_site(demo_site&&) noexcept;
  demo_site& operator=(demo_site&&) noexcept;
  ~demo_site();

  /// "http://127.0.0.1:PORT/" ("http://[::1]:PORT/" for IPv6).
  std::string root_url() const;
  std::uint16_t port() const;
  const demo_site_manifest& manifest() const;
  const demo_content& content() const;
  /// Requests answered or in progress, all paths.
  std::uint64_t requests_served() const;
  /// Requests for one path (query ignored), e.g. nothing under /private/.
  std::uint64_t requests_for(std::string_view path) const;
  /// Requests for paths starting with `prefix`.
  std::uint64_t requests_under(std::string_view prefix) const;

  /// Graceful shutdown of the server; returns when it has stopped. Idempotent.
  weft::task<void> stop();

  struct state;

 private:
  explicit demo_site(std::shared_ptr<state> s);
  std::shared_ptr<state> st_;
  weft::join_handle<void> runner_;  // the serving task
  bool stopped_ = false;            // stop() called, or moved from
};

}  // namespace scraper
