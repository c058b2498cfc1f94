// The behaviour every frontier_store must have, checked the same way on
// each backend (frontier_test.cpp: memory_frontier_store;
// frontier_sqlite_test.cpp: sqlite_frontier_store). `reopen` gives the
// store again over the same data, as a new process would find it.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crawler.hpp"
#include "demo_site.hpp"
#include "frontier.hpp"
#include "weft/weft.hpp"

namespace frontier_checks {

using namespace std::chrono_literals;
using reopen_fn = std::function<std::shared_ptr<scraper::frontier_store>()>;

inline std::vector<std::string> urls_of(const std::vector<scraper::frontier_item>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.url);
  return out;
}

inline std::set<std::string> as_set(std::vector<std::string> v) { return {v.begin(), v.end()}; }

/// Commits, reloads: pending in the order found, done, robots.txt, the
/// record count and output offset, a URL's first depth kept.
inline weft::task<void> check_commits(reopen_fn reopen) {
  const std::string a = "http://h:1/a", b = "http://h:1/b", c = "http://h:1/c", d = "http://h:1/d", e = "http://h:1/e";
  {
    auto s = reopen();
    scraper::frontier_snapshot empty = co_await s->load();
    CHECK(empty.pending.empty());
    CHECK(empty.done.empty());
    CHECK(empty.robots.empty());
    CHECK(empty.sitemaps_read.empty());
    CHECK(empty.records == 0);
    CHECK(empty.output_offset == 0);

    scraper::frontier_batch b1;
    b1.found = {{a, 0}, {b, 1}, {c, 1}};
    b1.done = {a};
    b1.robots.push_back(scraper::robots_entry{"http://h:1", 200, "User-agent: *\nDisallow: /x\n"});
    b1.sitemaps_read = {"http://h:1"};
    b1.records = 1;
    b1.output_offset = 100;
    co_await s->commit(std::move(b1));
  }
  {
    auto s = reopen();
    scraper::frontier_snapshot snap = co_await s->load();
    CHECK(urls_of(snap.pending) == std::vector<std::string>{b, c});
    REQUIRE(snap.pending.size() == 2);
    CHECK(snap.pending[0].depth == 1);
    CHECK(snap.done == std::vector<std::string>{a});
    REQUIRE(snap.robots.size() == 1);
    CHECK(snap.robots[0].origin == "http://h:1");
    CHECK(snap.robots[0].status == 200);
    CHECK(snap.robots[0].body == "User-agent: *\nDisallow: /x\n");
    CHECK(snap.sitemaps_read == std::vector<std::string>{"http://h:1"});
    CHECK(snap.records == 1);
    CHECK(snap.output_offset == 100);

    scraper::frontier_batch b2;
    b2.found = {{b, 5}, {d, 2}};  // b again: keeps depth 1
    b2.done = {c, e};             // e never found: a redirect's target
    b2.robots.push_back(scraper::robots_entry{"http://h:1", 404, ""});
    b2.sitemaps_read = {"http://h:1", "http://h:2"};  // h:1 again: kept once
    b2.records = 2;
    b2.output_offset = 250;
    co_await s->commit(std::move(b2));
  }
  {
    auto s = reopen();
    scraper::frontier_snapshot snap = co_await s->load();
    CHECK(urls_of(snap.pending) == std::vector<std::string>{b, d});
    REQUIRE(snap.pending.size() == 2);
    CHECK(snap.pending[0].depth == 1);
    CHECK(snap.pending[1].depth == 2);
    CHECK(as_set(snap.done) == std::set<std::string>{a, c, e});
    REQUIRE(snap.robots.size() == 1);
    CHECK(snap.robots[0].status == 404);
    CHECK(snap.robots[0].body.empty());
    CHECK(as_set(snap.sitemaps_read) == std::set<std::string>{"http://h:1", "http://h:2"});
    CHECK(snap.sitemaps_read.size() == 2);
    CHECK(snap.records == 2);
    CHECK(snap.output_offset == 250);

    // A batch with nothing found or done still moves the counters.
    scraper::frontier_batch b3;
    b3.records = 2;
    b3.output_offset = 260;
    co_await s->commit(std::move(b3));
    scraper::frontier_snapshot again = co_await s->load();
    CHECK(again.output_offset == 260);
    CHECK(urls_of(again.pending) == std::vector<std::string>{b, d});
  }
}

/// The path of a URL: the demo sites of two runs differ in their port.
inline std::string path_of(const std::string& url) {
  auto slash = url.find('/', url.find("://") + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

struct crawl_result {
  std::vector<std::string> paths;  // one per record, in order
  std::set<std::string> reached;   // the records' URLs and final URLs
  scraper::crawl_stats stats;
};

inline scraper::crawl_options demo_crawl(const std::string& root) {
  scraper::crawl_options o;
  o.seeds = {root};
  o.concurrency = 8;
  o.timeout = 1500ms;  // far below the slow page's 5 s, far above a page's 1 ms
  o.retries = 2;
  o.backoff_base = 10ms;
  o.commit_interval = 20ms;
  return o;
}

/// One crawl of the demo site at root, with state, stopped after
/// stop_after records (0: never); the records' paths go to out.
inline weft::task<crawl_result> crawl_once(std::string root, std::shared_ptr<scraper::frontier_store> state,
                                           std::size_t stop_after) {
  crawl_result res;
  auto o = demo_crawl(root);
  o.state = std::move(state);
  std::uint64_t bytes = 0;  // the "output": a byte count per record
  o.checkpoint = [&bytes] { return bytes; };
  scraper::crawler c(o, [&](const scraper::page_record& r) {
    res.paths.push_back(path_of(r.url));
    res.reached.insert(path_of(r.url));
    if (!r.final_url.empty()) res.reached.insert(path_of(r.final_url));
    bytes += r.url.size() + 1;
  });
  std::optional<weft::join_handle<void>> stopper;
  if (stop_after)
    stopper.emplace(weft::spawn([](scraper::crawler& cr, std::size_t n) -> weft::task<void> {
      while (cr.progress().done < n) co_await weft::sleep_for(1ms);
      cr.stop();
    }(c, stop_after)));
  res.stats = co_await c.run();
  if (stopper) {
    stopper->cancel();
    try {
      co_await *stopper;
    } catch (const weft::operation_cancelled&) {
    }
  }
  co_return res;
}

/// A crawl stopped three times and resumed from the store each time
/// reaches every URL of an uninterrupted crawl, and records each URL once.
inline weft::task<void> check_resumed_crawl(reopen_fn reopen) {
  scraper::demo_site_options d;
  d.pages = 150;
  d.delay = 1ms;
  d.slow_delay = 5s;
  std::set<std::string> truth;
  {
    auto site = scraper::demo_site::start(d);
    const std::string root = site.root_url();
    crawl_result r = co_await crawl_once(root, nullptr, 0);
    truth = r.reached;
    co_await site.stop();
  }
  auto site = scraper::demo_site::start(d);
  const std::string root = site.root_url();
  std::vector<std::string> all;
  std::set<std::string> reached;
  std::uint64_t stopped = 0;
  const std::array<std::size_t, 4> stops{20, 25, 30, 0};
  for (std::size_t stop_after : stops) {
    auto store = reopen();
    crawl_result r = co_await crawl_once(root, store, stop_after);
    if (r.stats.stopped) ++stopped;
    CHECK(r.stats.resumed == all.size());
    all.insert(all.end(), r.paths.begin(), r.paths.end());
    reached.insert(r.reached.begin(), r.reached.end());
  }
  // Finished: the same crawl again fetches nothing.
  auto store = reopen();
  crawl_result again = co_await crawl_once(root, store, 0);
  CHECK(again.paths.empty());
  CHECK(again.stats.resumed == all.size());
  co_await site.stop();
  CHECK(stopped == 3);
  std::map<std::string, int> times;
  for (const auto& p : all) ++times[p];
  for (const auto& [p, n] : times) {
    INFO(p);
    CHECK(n == 1);  // exactly once over all runs
  }
  // The same URLs reached. (Which URL of a redirect's pair gets a record of
  // its own depends on which was fetched first, in any two crawls: a page
  // reached through a redirect first is not fetched again by itself.)
  CHECK(reached == truth);
}

/// Runs fn on a fresh 2-worker runtime.
template <class F>
void on_runtime(F fn) {
  weft::runtime rt({.workers = 2});
  rt.block_on(fn());
}

}  // namespace frontier_checks
