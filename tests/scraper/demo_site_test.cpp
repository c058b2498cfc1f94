// The demo site's content model: determinism, the routes and their
// trouble, and a manifest consistent with what the pages really say
// (checked by analyzing every page with analyze_page, as a crawl would).
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <set>

#include "demo_site.hpp"
#include "page.hpp"
#include "robots.hpp"
#include "url.hpp"

using namespace std::chrono_literals;
using scraper::demo_content;
using scraper::demo_kind;
using scraper::demo_site_options;

namespace {

demo_site_options small(std::size_t pages, std::uint64_t seed = 42) {
  demo_site_options o;
  o.pages = pages;
  o.seed = seed;
  return o;
}

/// A crawl of the model through the scraper's own parsing: pages analyzed
/// with analyze_page, links resolved against "http://demo", robots obeyed,
/// flaky pages retried, redirects followed. Counts what it meets, like the
/// manifest does, but from the bodies rather than from the model's lists.
scraper::demo_site_manifest crawl_model(const demo_content& c) {
  const std::string root = "http://demo";
  const auto robots = scraper::robots_rules::parse(c.settled("/robots.txt").body, "weft-scraper/0.1");
  scraper::demo_site_manifest m;
  std::map<std::string, std::size_t> depth{{"/", 0}};
  std::deque<std::string> queue{"/"};
  std::map<std::string, std::uint64_t> attempts;
  while (!queue.empty()) {
    std::string path = queue.front();
    queue.pop_front();
    const std::size_t d = depth[path];
    m.max_depth = std::max(m.max_depth, d);
    if (!robots.allowed(path)) {
      ++m.disallowed;
      continue;
    }
    auto r = c.respond("GET", path, attempts[path]++);
    bool was_flaky = false;
    while (r.status >= 500) {
      was_flaky = true;
      REQUIRE(attempts[path] <= 3);
      r = c.respond("GET", path, attempts[path]++);
    }
    if (was_flaky) ++m.flaky;
    if (r.status == 404) {
      ++m.not_found;
      continue;
    }
    if (r.delay >= c.options().slow_delay) {
      ++m.slow;
      continue;
    }
    std::vector<std::string> next;
    if (r.status == 301 || r.status == 302) {
      std::string loc;
      for (auto& [k, v] : r.headers)
        if (k == "Location") loc = v;
      // Follow the chain: a loop or a page.
      std::set<std::string> chain{path};
      while (r.status == 301 || r.status == 302) {
        for (auto& [k, v] : r.headers)
          if (k == "Location") loc = v;
        if (!chain.insert(loc).second) break;
        r = c.respond("GET", loc, 5);
      }
      if (r.status == 302 || r.status == 301) {
        ++m.redirect_loops;
        continue;
      }
      ++m.redirects;
      next.push_back(loc);
    } else {
      REQUIRE(r.status == 200);
      if (!scraper::is_html(r.content_type)) {
        ++m.binary;
        continue;
      }
      ++m.html_pages;
      auto info = scraper::analyze_page(root + path, r.body);
      if (!info.html_ok) ++m.broken_html;
      CHECK(!info.title.empty());
      for (const auto& l : info.links) {
        REQUIRE(scraper::origin_of(l) == root);
        next.push_back(scraper::path_and_query(l));
      }
    }
    for (auto& n : next)
      if (depth.emplace(n, d + 1).second) queue.push_back(n);
  }
  return m;
}

}  // namespace

TEST_CASE("demo site: the model is deterministic from its seed", "[scraper][demo]") {
  demo_content a(small(300)), b(small(300)), other(small(300, 7));
  for (const char* p : {"/", "/page/0.html", "/page/299.html", "/broken.html", "/files/data.bin"}) {
    INFO(p);
    CHECK(a.respond("GET", p, 0).body == b.respond("GET", p, 0).body);
  }
  CHECK(a.respond("GET", "/page/17.html", 0).body != other.respond("GET", "/page/17.html", 0).body);
  CHECK(scraper::analyze_page("http://x/page/17.html", a.respond("GET", "/page/17.html", 0).body).top_words ==
        scraper::analyze_page("http://x/page/17.html", b.respond("GET", "/page/17.html", 0).body).top_words);
}

TEST_CASE("demo site: pages have a title, words, 5-10 page links, and what they list is what they link", "[scraper][demo]") {
  demo_content c(small(2000));
  for (std::size_t n : {0u, 1u, 4u, 5u, 399u, 400u, 1000u, 1998u, 1999u}) {
    const std::string path = "/page/" + std::to_string(n) + ".html";
    INFO(path);
    auto r = c.respond("GET", path, 0);
    CHECK(r.status == 200);
    CHECK(r.kind == demo_kind::page);
    CHECK(scraper::is_html(r.content_type));
    CHECK(r.delay == 2ms);
    auto info = scraper::analyze_page("http://demo" + path, r.body);
    CHECK(info.html_ok);
    CHECK(info.title.rfind("Page " + std::to_string(n) + ": ", 0) == 0);
    CHECK(info.word_count >= 60);
    CHECK(info.top_words.size() == scraper::top_words_kept);
    std::vector<std::string> expected;
    for (const auto& l : r.links) expected.push_back("http://demo" + l);
    CHECK(info.links == expected);
    std::size_t page_links = 0;
    for (const auto& l : r.links)
      if (l.rfind("/page/", 0) == 0) ++page_links;
    // 5-10 links to other pages, plus "Next" (already one of them) and "/".
    CHECK(page_links >= 5);
    CHECK(page_links <= 10);
    CHECK(std::find(r.links.begin(), r.links.end(), "/") != r.links.end());
    // Words of the script do not count: "spider web" is in it, "var" is not a site word.
    for (const auto& [w, count] : info.top_words) CHECK(w != "var");
  }
}

TEST_CASE("demo site: trouble routes answer as planned", "[scraper][demo]") {
  demo_content c(small(2000));
  auto header = [](const scraper::demo_response& r, std::string_view name) {
    for (auto& [k, v] : r.headers)
      if (k == name) return v;
    return std::string();
  };
  CHECK(c.respond("GET", "/missing/0", 0).status == 404);
  CHECK(c.respond("GET", "/no/such/path", 0).status == 404);
  CHECK(c.respond("GET", "/page/2000.html", 0).status == 404);
  CHECK(c.respond("GET", "/page/07.html", 0).status == 404);
  CHECK(c.respond("GET", "/page/x.html", 0).status == 404);
  CHECK(c.respond("GET", "/page/7.html?q=1", 0).status == 200);  // the query is ignored

  // /flaky/0: 503 + Retry-After once; odd K: one 500; even K > 0: two.
  auto f0 = c.respond("GET", "/flaky/0", 0);
  CHECK(f0.status == 503);
  CHECK(header(f0, "Retry-After") == "1");
  CHECK(c.respond("GET", "/flaky/0", 1).status == 200);
  CHECK(c.respond("GET", "/flaky/1", 0).status == 500);
  CHECK(c.respond("GET", "/flaky/1", 1).status == 200);
  CHECK(c.respond("GET", "/flaky/2", 0).status == 500);
  CHECK(c.respond("GET", "/flaky/2", 1).status == 500);
  auto f2 = c.respond("GET", "/flaky/2", 2);
  CHECK(f2.status == 200);
  CHECK(scraper::is_html(f2.content_type));
  CHECK(scraper::analyze_page("http://demo/flaky/2", f2.body).title == "Flaky page 2");

  auto m0 = c.respond("GET", "/moved/0", 0), m1 = c.respond("GET", "/moved/1", 0);
  CHECK(m0.status == 301);
  CHECK(m1.status == 302);
  CHECK(c.respond("GET", header(m0, "Location"), 0).status == 200);
  CHECK(header(c.respond("GET", "/loop/a", 0), "Location") == "/loop/b");
  CHECK(header(c.respond("GET", "/loop/b", 0), "Location") == "/loop/a");

  auto slow = c.respond("GET", "/slow", 0);
  CHECK(slow.delay == 20000ms);
  CHECK(slow.status == 200);

  auto broken = c.respond("GET", "/broken.html", 0);
  auto info = scraper::analyze_page("http://demo/broken.html", broken.body);
  CHECK_FALSE(info.html_ok);
  CHECK(info.title == "Broken page");
  CHECK(info.links.size() == 3);

  auto bin = c.respond("GET", "/files/data.bin", 0);
  CHECK(bin.content_type == "application/octet-stream");
  CHECK(bin.body.size() == 4096);
  auto png = c.respond("GET", "/images/logo.png", 0);
  CHECK(png.content_type == "image/png");
  CHECK(png.body.substr(1, 3) == "PNG");

  auto priv = c.respond("GET", "/private/0.html", 0);
  CHECK(priv.status == 200);
  auto robots = scraper::robots_rules::parse(c.respond("GET", "/robots.txt", 0).body, "weft-scraper/0.1");
  CHECK_FALSE(robots.allowed("/private/0.html"));
  CHECK(robots.allowed("/page/1.html"));

  CHECK(c.respond("HEAD", "/page/1.html", 0).body == c.respond("GET", "/page/1.html", 0).body);
  auto post = c.respond("POST", "/page/1.html", 0);
  CHECK(post.status == 405);
  CHECK(header(post, "Allow") == "GET, HEAD");
}

TEST_CASE("demo site: every trouble path is linked from some page", "[scraper][demo]") {
  for (std::size_t pages : {1u, 3u, 50u, 2000u}) {
    demo_content c(small(pages));
    std::set<std::string> linked;
    for (std::size_t n = 0; n < pages; ++n)
      for (const auto& l : c.respond("GET", "/page/" + std::to_string(n) + ".html", 0).links) linked.insert(l);
    for (const auto& t : c.trouble_paths()) {
      INFO(pages << " pages: " << t);
      CHECK(linked.count(t) == 1);
    }
    for (std::size_t n = 0; n < pages; ++n) CHECK(linked.count("/page/" + std::to_string(n) + ".html") + (n < 5) >= 1);
  }
}

TEST_CASE("demo site: the manifest is what a crawl of the pages meets", "[scraper][demo]") {
  for (std::size_t pages : {1u, 7u, 50u, 2000u}) {
    INFO(pages << " pages");
    demo_content c(small(pages));
    const auto& m = c.manifest();
    const auto crawled = crawl_model(c);
    CHECK(m.html_pages == crawled.html_pages);
    CHECK(m.not_found == crawled.not_found);
    CHECK(m.flaky == crawled.flaky);
    CHECK(m.redirects == crawled.redirects);
    CHECK(m.redirect_loops == crawled.redirect_loops);
    CHECK(m.slow == crawled.slow);
    CHECK(m.broken_html == crawled.broken_html);
    CHECK(m.binary == crawled.binary);
    CHECK(m.disallowed == crawled.disallowed);
    CHECK(m.max_depth == crawled.max_depth);
    // Everything planned is met: "/", every page, every flaky page, the broken one.
    CHECK(m.html_pages == 1 + pages + std::max<std::size_t>(3, pages / 200) + 1);
    CHECK(m.not_found == std::max<std::size_t>(1, pages / 100));
    CHECK(m.flaky == std::max<std::size_t>(3, pages / 200));
    CHECK(m.redirects == std::max<std::size_t>(2, pages / 200));
    CHECK(m.redirect_loops == 2);
    CHECK(m.slow == 1);
    CHECK(m.broken_html == 1);
    CHECK(m.binary == 2);
    CHECK(m.disallowed == std::max<std::size_t>(1, pages / 200));
    CHECK(m.robots_txt.find("Disallow: /private/") != std::string::npos);
  }
  // 2,000 pages stay within a few links of "/".
  CHECK(demo_content(small(2000)).manifest().max_depth <= 8);
}

TEST_CASE("demo site: bad options are refused", "[scraper][demo]") {
  CHECK_THROWS_AS(demo_content(small(0)), std::invalid_argument);
}
