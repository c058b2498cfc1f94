// The demo site: its content model (determinism, the routes and their
// trouble, a manifest consistent with what the pages really say, checked by
// analyzing every page with analyze_page as a crawl would), then the site
// served, checked with raw HTTP requests over io::tcp_stream.
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <set>

#include "demo_site.hpp"
#include "io_test_support.hpp"
#include "page.hpp"
#include "robots.hpp"
#include "url.hpp"
#include "weft/http/client.hpp"
#include "weft/http/parser.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/time.hpp"

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

TEST_CASE("demo site: pages have a title, words, 5-10 page links, and what they list is what they link",
          "[scraper][demo]") {
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

// ------------------------------------------------------------ served

namespace {

namespace io = weft::io;
namespace http = weft::http;

/// One raw HTTP/1.1 exchange on a fresh connection (Connection: close).
weft::task<http::response> raw_request(std::uint16_t port, std::string method, std::string path,
                                       io::deadline read_deadline = 20s) {
  auto c = co_await io::tcp_stream::connect(io::address::loopback_v4(port), 20s);
  const std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  co_await c.write_all(io::as_bytes(req), 20s);
  std::string out;
  std::byte buf[4096];
  while (std::size_t n = co_await c.read_some(buf, read_deadline)) out.append(reinterpret_cast<const char*>(buf), n);
  co_return http::parse_response(out, {}, method == "HEAD");
}

std::string header_of(const http::response& r, std::string_view name) {
  auto v = r.headers.get(name);
  return v ? std::string(*v) : std::string();
}

}  // namespace

TEST_CASE("demo site served: statuses, headers, HEAD, delay and flaky pages", "[scraper][demo]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{weft_test::io_options(backend)};
  struct result {
    std::string root_url;
    std::vector<int> statuses;
    std::string index_body, expected_index;
    std::string retry_after, location, allow, content_type_bin, head_length, get_length;
    std::size_t head_body = 1;
    std::chrono::nanoseconds delayed{};
    std::uint64_t served = 0, flaky2 = 0, private_requests = 0, missing = 0;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    result out;
    demo_site_options o = small(50);
    o.delay = 50ms;
    auto site = scraper::demo_site::start(o);
    const auto port = site.port();
    out.root_url = site.root_url();
    out.expected_index = site.content().respond("GET", "/", 0).body;

    const auto t0 = std::chrono::steady_clock::now();
    auto index = co_await raw_request(port, "GET", "/");
    out.delayed = std::chrono::steady_clock::now() - t0;
    out.statuses.push_back(index.status);
    out.index_body = index.body;
    for (const char* path : {"/missing/0", "/no/such/thing", "/flaky/1", "/flaky/1", "/flaky/2", "/flaky/2", "/flaky/2",
                             "/robots.txt", "/broken.html"}) {
      auto resp = co_await raw_request(port, "GET", path);
      out.statuses.push_back(resp.status);
    }
    auto f0 = co_await raw_request(port, "GET", "/flaky/0");
    out.statuses.push_back(f0.status);
    out.retry_after = header_of(f0, "Retry-After");
    auto f0b = co_await raw_request(port, "GET", "/flaky/0");
    out.statuses.push_back(f0b.status);
    auto moved = co_await raw_request(port, "GET", "/moved/1");
    out.statuses.push_back(moved.status);
    out.location = header_of(moved, "Location");
    auto post = co_await raw_request(port, "POST", "/page/1.html");
    out.statuses.push_back(post.status);
    out.allow = header_of(post, "Allow");
    auto bin = co_await raw_request(port, "GET", "/files/data.bin");
    out.content_type_bin = header_of(bin, "Content-Type");
    auto head = co_await raw_request(port, "HEAD", "/page/1.html");
    out.statuses.push_back(head.status);
    out.head_length = header_of(head, "Content-Length");
    out.head_body = head.body.size();
    auto get = co_await raw_request(port, "GET", "/page/1.html?x=1");
    out.get_length = header_of(get, "Content-Length");

    out.served = site.requests_served();
    out.flaky2 = site.requests_for("/flaky/2");
    out.missing = site.requests_for("/missing/0");
    out.private_requests = site.requests_under("/private/");
    co_await site.stop();
    co_return out;
  }());
  CHECK(r.root_url.rfind("http://127.0.0.1:", 0) == 0);
  CHECK(r.statuses == std::vector<int>{200, 404, 404, 500, 200, 500, 500, 200, 200, 200, 503, 200, 302, 405, 200});
  CHECK(r.index_body == r.expected_index);
  CHECK(r.delayed >= 50ms);  // a lower bound only: the delay is a sleep
  CHECK(r.retry_after == "1");
  CHECK(r.location.rfind("/page/", 0) == 0);
  CHECK(r.allow == "GET, HEAD");
  CHECK(r.content_type_bin == "application/octet-stream");
  CHECK(r.head_body == 0);
  CHECK(r.head_length == r.get_length);
  CHECK_FALSE(r.get_length.empty());
  CHECK(r.served == 17);
  CHECK(r.flaky2 == 3);
  CHECK(r.missing == 1);
  CHECK(r.private_requests == 0);
}

TEST_CASE("demo site served: flaky state is per URL and safe across workers", "[scraper][demo]") {
  weft::runtime rt{weft_test::io_options(weft::io_backend::io_uring, 4)};
  struct result {
    int failures = 0, successes = 0, other = 0;
    std::uint64_t count = 0;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto site = scraper::demo_site::start(small(50));
    std::vector<weft::join_handle<http::response>> hs;
    for (int i = 0; i < 24; ++i) hs.push_back(weft::spawn(raw_request(site.port(), "GET", "/flaky/2")));
    result out;
    for (auto& h : hs) {
      auto resp = co_await h;
      if (resp.status == 500) ++out.failures;
      else if (resp.status == 200) ++out.successes;
      else ++out.other;
    }
    out.count = site.requests_for("/flaky/2");
    // A second site starts afresh.
    auto again = scraper::demo_site::start(small(50));
    auto first = co_await raw_request(again.port(), "GET", "/flaky/2");
    if (first.status != 500) ++out.other;
    co_await again.stop();
    co_await site.stop();
    co_return out;
  }());
  CHECK(r.failures == 2);
  CHECK(r.successes == 22);
  CHECK(r.other == 0);
  CHECK(r.count == 24);
}

TEST_CASE("demo site served: /slow outlasts a client's timeout, stop() cuts it off", "[scraper][demo]") {
  weft::runtime rt{weft_test::io_options(weft::io_backend::io_uring)};
  struct result {
    bool timed_out = false;
    bool stopped = false;
    std::uint64_t slow_requests = 0;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    result out;
    demo_site_options o = small(10);
    o.slow_delay = 60s;
    auto site = scraper::demo_site::start(o);
    try {
      co_await raw_request(site.port(), "GET", "/slow", 200ms);
    } catch (const weft::timeout_error&) {
      out.timed_out = true;
    }
    // Another request still waiting on /slow when the site stops.
    auto pending = weft::spawn(weft_test::error_of(raw_request(site.port(), "GET", "/slow", 60s)));
    while (site.requests_for("/slow") < 2) co_await weft::sleep_for(5ms);
    co_await site.stop();
    out.stopped = true;
    (void)co_await pending;  // cut off: an error or an incomplete message, no hang
    out.slow_requests = site.requests_for("/slow");
    co_return out;
  }());
  CHECK(r.timed_out);
  CHECK(r.stopped);
  CHECK(r.slow_requests == 2);
}

TEST_CASE("demo site served: a site dropped without stop() is cancelled", "[scraper][demo]") {
  weft::runtime rt{weft_test::io_options(weft::io_backend::epoll)};
  bool ok = rt.block_on([]() -> weft::task<bool> {
    std::uint16_t port = 0;
    {
      auto site = scraper::demo_site::start(small(10));
      port = site.port();
      auto moved = std::move(site);  // the moved-from one is inert
      auto resp = co_await raw_request(moved.port(), "GET", "/");
      if (resp.status != 200) co_return false;
    }
    // The listener goes with the cancelled server: connecting fails soon.
    for (int i = 0; i < 200; ++i) {
      auto e = co_await weft_test::error_of(io::tcp_stream::connect(io::address::loopback_v4(port), 5s));
      if (e) co_return true;
      co_await weft::sleep_for(10ms);
    }
    co_return false;
  }());
  CHECK(ok);
}

TEST_CASE("demo site served: a taken port is an error at start", "[scraper][demo]") {
  weft::runtime rt{weft_test::io_options(weft::io_backend::io_uring)};
  auto e = rt.block_on([]() -> weft::task<std::exception_ptr> {
    auto site = scraper::demo_site::start(small(5));
    demo_site_options o = small(5);
    o.port = site.port();
    std::exception_ptr err;
    try {
      auto second = scraper::demo_site::start(o);
      co_await second.stop();
    } catch (...) {
      err = std::current_exception();
    }
    co_await site.stop();
    co_return err;
  }());
  REQUIRE(e);
  CHECK_THROWS_AS(std::rethrow_exception(e), std::system_error);
}

TEST_CASE("demo site served: weft's HTTP client meets the trouble as planned", "[scraper][demo]") {
  weft::runtime rt{weft_test::io_options(weft::io_backend::io_uring)};
  struct result {
    int moved_status = 0, flaky_first = 0, flaky_second = 0, missing = 0;
    std::string root, moved_url, expected_target;
    std::size_t moved_hops = 0;
    bool loop_error = false, slow_timeout = false;
    std::string robots;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    result out;
    demo_site_options o = small(50);
    o.slow_delay = 60s;
    auto site = scraper::demo_site::start(o);
    const std::string root = site.root_url();
    out.root = root;
    {
      http::client c;
      auto moved = co_await c.get(root + "moved/0");
      out.moved_status = moved.status;
      out.moved_url = moved.url;
      out.moved_hops = moved.redirects.size();
      out.expected_target = *site.content().respond("GET", "/moved/0", 0).links.begin();
      try {
        co_await c.get(root + "loop/a");
      } catch (const http::client_error& e) {
        out.loop_error = e.code() == http::client_errc::redirect_loop;
      }
      http::request_options quick;
      quick.timeout = 200ms;
      try {
        co_await c.get(root + "slow", quick);
      } catch (const weft::timeout_error&) {
        out.slow_timeout = true;
      }
      out.flaky_first = (co_await c.get(root + "flaky/0")).status;
      out.flaky_second = (co_await c.get(root + "flaky/0")).status;
      out.missing = (co_await c.get(root + "missing/0")).status;
      out.robots = (co_await c.get(root + "robots.txt")).body;
    }
    co_await site.stop();
    co_return out;
  }());
  CHECK(r.moved_status == 200);
  CHECK(r.moved_url == r.root.substr(0, r.root.size() - 1) + r.expected_target);
  CHECK(r.moved_hops == 1);
  CHECK(r.loop_error);
  CHECK(r.slow_timeout);
  CHECK(r.flaky_first == 503);
  CHECK(r.flaky_second == 200);
  CHECK(r.missing == 404);
  CHECK(r.robots.find("Disallow: /private/") != std::string::npos);
}
