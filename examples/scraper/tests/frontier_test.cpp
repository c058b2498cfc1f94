// The in-memory frontier (seen set, per-origin FIFO queues, politeness
// slots) and the in-memory store, with the behaviour every store shares
// (frontier_store_checks.hpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "frontier.hpp"
#include "frontier_store_checks.hpp"

using namespace std::chrono_literals;

TEST_CASE("frontier: a URL is queued once, in FIFO order per origin", "[scraper][frontier]") {
  scraper::frontier f(0ms, false);
  CHECK(f.push("http://a:1/x", 0));
  CHECK(f.push("http://a:1/y", 1));
  CHECK_FALSE(f.push("http://a:1/x", 3));  // seen
  CHECK(f.seen() == 2);
  CHECK(f.queued() == 2);
  auto* o = f.next_ready();
  REQUIRE(o != nullptr);
  CHECK(o->key == "http://a:1");
  auto first = f.pop(o);
  CHECK(first.url == "http://a:1/x");
  CHECK(first.depth == 0);
  auto second = f.pop(o);
  CHECK(second.url == "http://a:1/y");
  CHECK(second.depth == 1);
  CHECK(f.queued() == 0);
  CHECK(f.next_ready() == nullptr);        // an origin with an empty queue is not ready
  CHECK_FALSE(f.push("http://a:1/y", 0));  // popped, still seen
}

TEST_CASE("frontier: claims, redirect targets and URLs done before", "[scraper][frontier]") {
  scraper::frontier f(0ms, false);
  CHECK(f.push("http://a:1/x", 0));
  CHECK(f.claim("http://a:1/x"));
  CHECK_FALSE(f.claim("http://a:1/x"));      // fetched already
  CHECK_FALSE(f.reached("http://a:1/new"));  // first reached through a redirect
  CHECK(f.reached("http://a:1/new"));        // then a duplicate
  CHECK_FALSE(f.push("http://a:1/new", 1));  // and never queued
  CHECK(f.push("http://a:1/q", 1));
  CHECK_FALSE(f.reached("http://a:1/q"));  // queued, not claimed: not a duplicate
  CHECK_FALSE(f.claim("http://a:1/q"));    // but its own fetch is then skipped
  f.mark_seen("http://a:1/done-before");
  CHECK_FALSE(f.push("http://a:1/done-before", 0));
  CHECK_FALSE(f.claim("http://a:1/done-before"));
}

TEST_CASE("frontier: origins are served earliest slot first, delay apart", "[scraper][frontier]") {
  scraper::frontier f(100ms, false);
  f.push("http://a:1/1", 0);
  f.push("http://a:1/2", 0);
  f.push("http://b:1/1", 0);
  auto* a = f.origin_for("http://a:1");
  auto* b = f.origin_for("http://b:1");
  const auto t0 = f.take_slot(a);
  CHECK(a->next == t0 + 100ms);
  CHECK(f.next_ready() == b);  // a's next slot is later than b's
  const auto tb = f.take_slot(b);
  CHECK(b->next == tb + 100ms);
  const auto t1 = f.take_slot(a);
  CHECK(t1 >= t0 + 100ms);  // reserved slots never overlap
}

TEST_CASE("frontier: robots.txt state decides readiness", "[scraper][frontier]") {
  scraper::frontier with(0ms, true), without(0ms, false);
  with.push("http://a:1/x", 0);
  without.push("http://a:1/x", 0);
  auto* o = with.next_ready();
  REQUIRE(o != nullptr);
  CHECK(o->state == scraper::frontier::robots_state::unknown);  // its robots.txt first
  with.unschedule(o);
  o->state = scraper::frontier::robots_state::fetching;
  with.schedule(o);
  CHECK(with.next_ready() == nullptr);  // nothing of it while robots.txt is fetched
  auto* p = without.next_ready();
  REQUIRE(p != nullptr);
  CHECK(p->state == scraper::frontier::robots_state::ready);
  REQUIRE(p->rules != nullptr);
  CHECK(p->rules->allowed("/anything"));
}

TEST_CASE("frontier: the fingerprint names seeds and the options that change a crawl", "[scraper][frontier]") {
  scraper::crawl_options o;
  o.seeds = {"HTTP://Example.ORG:80/a"};
  const std::string f = scraper::crawl_fingerprint(o);
  CHECK(f.find("seed=http://example.org/a\n") != std::string::npos);
  auto same = o;
  same.concurrency = 3;
  same.max_pages = 10;
  same.delay = 1s;
  same.autothrottle = true;
  CHECK(scraper::crawl_fingerprint(same) == f);
  auto deeper = o;
  deeper.max_depth = 2;
  CHECK(scraper::crawl_fingerprint(deeper) != f);
  auto other = o;
  other.seeds.push_back("http://example.org/b");
  CHECK(scraper::crawl_fingerprint(other) != f);
  // What decides the links followed and what a record holds.
  auto denied = o;
  denied.deny = {"\\.png$"};
  CHECK(scraper::crawl_fingerprint(denied) != f);
  auto sitemaps = o;
  sitemaps.sitemaps = true;
  CHECK(scraper::crawl_fingerprint(sitemaps) != f);
  auto fields = o;
  fields.rules.fields.push_back(scraper::extract_rule{"title", "//title", "//title"});
  CHECK(scraper::crawl_fingerprint(fields) != f);
}

TEST_CASE("frontier: memory_frontier_store keeps batches as every store does", "[scraper][frontier]") {
  auto store = std::make_shared<scraper::memory_frontier_store>();
  frontier_checks::reopen_fn reopen = [store] { return store; };
  frontier_checks::on_runtime([&]() -> weft::task<void> { co_await frontier_checks::check_commits(reopen); });
}

TEST_CASE("frontier: a crawl stopped and resumed from memory_frontier_store records each URL once",
          "[scraper][frontier]") {
  auto store = std::make_shared<scraper::memory_frontier_store>();
  frontier_checks::reopen_fn reopen = [store] { return store; };
  frontier_checks::on_runtime([&]() -> weft::task<void> { co_await frontier_checks::check_resumed_crawl(reopen); });
}
