// scraper::link_filter: Scrapy's allow/deny semantics, searches not full
// matches, bad patterns named, shared by threads without a lock.
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "link_filter.hpp"

using scraper::link_filter;
using scraper::link_filter_options;

TEST_CASE("link_filter: no pattern follows everything", "[scraper][link_filter]") {
  link_filter f;
  CHECK(f.empty());
  CHECK(f.follows("http://h/anything"));
  link_filter g(link_filter_options{});
  CHECK(g.empty());
  CHECK(g.follows("http://h/"));
}

TEST_CASE("link_filter: any allow, then no deny", "[scraper][link_filter]") {
  link_filter_options o;
  o.allow = {"/page/\\d+", "/blog/"};
  o.deny = {"\\.png$", "/private/"};
  link_filter f(o);
  CHECK_FALSE(f.empty());
  CHECK(f.follows("http://h/page/7.html"));
  CHECK(f.follows("http://h/blog/post"));
  CHECK_FALSE(f.follows("http://h/about"));                // no allow matches
  CHECK_FALSE(f.follows("http://h/page/7.png"));           // allowed, but denied
  CHECK_FALSE(f.follows("http://h/blog/private/x.html"));  // deny wins
  // Only deny: everything else passes.
  link_filter_options d;
  d.deny = {"\\?"};
  link_filter g(d);
  CHECK(g.follows("http://h/a"));
  CHECK_FALSE(g.follows("http://h/a?b=1"));
}

TEST_CASE("link_filter: a pattern matches anywhere unless anchored", "[scraper][link_filter]") {
  link_filter_options o;
  o.allow = {"page"};
  CHECK(link_filter(o).follows("http://h/x/page/y"));
  o.allow = {"^http://h/page$"};
  CHECK(link_filter(o).follows("http://h/page"));
  CHECK_FALSE(link_filter(o).follows("http://h/page/2"));
  CHECK_FALSE(link_filter(o).follows("http://g/http://h/page"));
}

TEST_CASE("link_filter: a bad pattern names the option, the pattern and RE2's message", "[scraper][link_filter]") {
  link_filter_options o;
  o.deny = {"ok", "a(b"};
  try {
    link_filter f(o);
    FAIL("a bad pattern was accepted");
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    CHECK(m.find("--deny 'a(b'") != std::string::npos);
    CHECK(m.find("missing )") != std::string::npos);
  }
  CHECK_THROWS_AS(link_filter::check("--allow", "x**"), std::invalid_argument);
  CHECK_NOTHROW(link_filter::check("--allow", "x*"));
  // RE2 refuses what would need backtracking.
  CHECK_THROWS_AS(link_filter::check("--allow", "(a)\\1"), std::invalid_argument);
}

TEST_CASE("link_filter: many threads match at once", "[scraper][link_filter]") {
  link_filter_options o;
  o.allow = {"/page/\\d+\\.html$"};
  o.deny = {"/page/\\d*7\\.html$"};
  const link_filter f(o);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const bool want = i % 10 != 7;
        if (f.follows("http://h/page/" + std::to_string(i) + ".html") != want) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
}
