// The autothrottle: first the pure controller, fed latencies and statuses
// by hand (no clock: every expected delay is computed from the rule), then
// the crawler with autothrottle on against loopback servers whose latency
// changes mid-crawl or that answer 503 with a Retry-After. Those assert
// relations between gaps (and lower bounds, as timers never fire early),
// never upper time limits.
#include "throttle.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "crawler.hpp"
#include "weft/http/server.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using us = std::chrono::microseconds;

namespace {

scraper::throttle_options opts(us floor = 0us, us max_delay = 60s) {
  scraper::throttle_options o;
  o.floor = floor;
  o.max_delay = max_delay;
  return o;
}

}  // namespace

TEST_CASE("throttle: the delay follows the latency and comes down by halving its distance", "[scraper][throttle]") {
  scraper::throttle t(opts());
  CHECK(t.delay() == 0us);  // nothing measured: the floor
  t.on_response(100ms, 200);
  CHECK(t.delay() == 100ms);  // up to the target at once: max(100, (0 + 100) / 2)
  t.on_response(300ms, 200);
  CHECK(t.delay() == 300ms);
  std::vector<us> seen;
  for (int i = 0; i < 4; ++i) {
    t.on_response(10ms, 200);
    seen.push_back(t.delay());
  }
  CHECK(seen == std::vector<us>{155ms, 82500us, 46250us, 28125us});  // (old + 10 ms) / 2 each
  for (int i = 0; i < 30; ++i) t.on_response(10ms, 200);
  CHECK(t.delay() >= 10ms);
  CHECK(t.delay() <= 10ms + 1us);
  CHECK(t.requests() == 36);
  CHECK(t.backoffs() == 0);
  CHECK(t.min_delay() == 0us);
  CHECK(t.max_delay() == 300ms);
  CHECK(t.last_latency() == 10ms);
}

TEST_CASE("throttle: target_concurrency divides the latency", "[scraper][throttle]") {
  auto o = opts();
  o.target_concurrency = 4;
  scraper::throttle t(o);
  t.on_response(200ms, 200);
  CHECK(t.delay() == 50ms);  // 4 requests in flight at 200 ms each: one start every 50 ms
  o.target_concurrency = 0.5;
  scraper::throttle slow(o);
  slow.on_response(200ms, 200);
  CHECK(slow.delay() == 400ms);  // half a request in flight: wait a latency after each answer
}

TEST_CASE("throttle: an error response may raise the delay, never lower it", "[scraper][throttle]") {
  scraper::throttle t(opts());
  t.on_response(100ms, 200);
  t.on_response(1ms, 404);  // a fast error says nothing about load
  CHECK(t.delay() == 100ms);
  t.on_response(1ms, 500);
  CHECK(t.delay() == 100ms);
  t.on_response(400ms, 500);  // a slow one does
  CHECK(t.delay() == 400ms);
  t.on_response(1ms, 301);  // 3xx is a success
  CHECK(t.delay() == 200500us);
  CHECK(t.backoffs() == 0);
  CHECK(t.mean_latency() == us((100000 + 1000 + 1000 + 400000 + 1000) / 5));
}

TEST_CASE("throttle: 429, 503 and timeouts double the delay", "[scraper][throttle]") {
  scraper::throttle t(opts());
  t.on_timeout();
  CHECK(t.delay() == 100ms);  // from 0: min_backoff
  t.on_response(1ms, 429);
  CHECK(t.delay() == 200ms);
  t.on_response(1ms, 503);
  CHECK(t.delay() == 400ms);
  t.on_timeout();
  CHECK(t.delay() == 800ms);
  t.on_response(1ms, 500);  // an ordinary 5xx is no backoff (and cannot lower the delay)
  CHECK(t.delay() == 800ms);
  CHECK(t.backoffs() == 4);
  CHECK(t.requests() == 5);
  t.on_response(0us, 200);  // recovery: one halving per answer
  CHECK(t.delay() == 400ms);
  t.on_response(0us, 200);
  CHECK(t.delay() == 200ms);
}

TEST_CASE("throttle: a Retry-After is a floor for the next few successful answers", "[scraper][throttle]") {
  auto o = opts();
  o.retry_after_hold = 3;
  scraper::throttle t(o);
  t.on_response(10ms, 200);
  t.on_response(5ms, 503, us(2s));
  CHECK(t.delay() == 2s);   // doubled (20 ms), raised to the Retry-After
  t.on_response(1ms, 404);  // not a success: the hold does not wear off
  t.on_response(1ms, 200);
  t.on_response(1ms, 200);
  t.on_response(1ms, 200);
  CHECK(t.delay() == 2s);  // held through 3 successful answers
  t.on_response(1ms, 200);
  CHECK(t.delay() == 1000500us);  // then it comes down, halving its distance
  t.on_response(1ms, 429, us(1h));
  CHECK(t.delay() == 60s);  // Retry-After above max_delay: capped there
}

TEST_CASE("throttle: the delay stays within the floor and max_delay", "[scraper][throttle]") {
  scraper::throttle t(opts(200ms, 1s));
  CHECK(t.delay() == 200ms);
  t.on_response(1ms, 200);
  CHECK(t.delay() == 200ms);  // fast server, but --delay 200ms
  t.on_response(10s, 200);
  CHECK(t.delay() == 1s);  // ceiling
  for (int i = 0; i < 5; ++i) t.on_timeout();
  CHECK(t.delay() == 1s);
  for (int i = 0; i < 20; ++i) t.on_response(1ms, 200);
  CHECK(t.delay() == 200ms);
  t.set_floor(500ms);  // robots.txt Crawl-delay arrived
  CHECK(t.delay() == 500ms);
  CHECK(t.floor() == 500ms);
  t.set_floor(5s);  // a Crawl-delay above max_delay: the site's wish wins
  CHECK(t.delay() == 5s);
  t.on_response(1ms, 200);
  CHECK(t.delay() == 5s);
  CHECK(t.min_delay() == 200ms);
  CHECK(t.max_delay() == 5s);
}

TEST_CASE("throttle: bad options are refused", "[scraper][throttle]") {
  auto o = opts();
  o.target_concurrency = 0;
  CHECK_THROWS_AS(scraper::throttle(o), std::invalid_argument);
  o.target_concurrency = -1;
  CHECK_THROWS_AS(scraper::throttle(o), std::invalid_argument);
  o.target_concurrency = 1;
  o.floor = -1ms;
  CHECK_THROWS_AS(scraper::throttle(o), std::invalid_argument);
  scraper::crawl_options c;
  c.seeds = {"http://127.0.0.1:1/"};
  c.target_concurrency = 0;
  CHECK_THROWS_WITH(scraper::crawler(c, {}), Catch::Contains("target_concurrency"));
  c.target_concurrency = 1;
  c.max_delay = -1ms;
  CHECK_THROWS_WITH(scraper::crawler(c, {}), Catch::Contains("max_delay"));
}

// ------------------------------------------------------------ in the crawler

namespace {

using steady = std::chrono::steady_clock;

/// A site of one root page linking to /p/1 .. /p/pages-1. Each request
/// other than robots.txt gets the next index; latency(index) says how long
/// the answer waits. Arrival times are logged by index.
struct phased_server {
  std::size_t pages = 0;
  std::function<std::chrono::milliseconds(std::size_t)> latency;
  std::function<int(std::size_t)> status = [](std::size_t) { return 200; };
  std::string robots_txt;  // empty: robots.txt answers 404
  std::mutex mu;
  std::vector<steady::time_point> arrivals;  // page requests, in order
  std::size_t robots = 0;

  weft::http::handler handler() {
    return [this](weft::http::request& req) -> weft::task<weft::http::response> {
      if (req.target == "/robots.txt") {
        {
          std::lock_guard g(mu);
          ++robots;
        }
        if (robots_txt.empty()) co_return weft::http::make_response(404, "none", "text/plain");
        co_return weft::http::make_response(200, robots_txt, "text/plain");
      }
      std::size_t i;
      {
        std::lock_guard g(mu);
        i = arrivals.size();
        arrivals.push_back(steady::now());
      }
      const auto wait = latency(i);
      if (wait > 0ms) co_await weft::sleep_for(wait);
      const int st = status(i);
      if (st == 503) {
        auto r = weft::http::make_response(503, "busy", "text/plain");
        r.headers.set("Retry-After", "1");
        co_return r;
      }
      std::string body = "<title>page</title>";
      if (req.target == "/")
        for (std::size_t p = 1; p < pages; ++p) body += "<a href='/p/" + std::to_string(p) + "'>x</a>";
      co_return weft::http::make_response(200, body, "text/html");
    };
  }

  /// Gaps between consecutive page arrivals i-1 -> i, for i in [from, to).
  std::vector<double> gaps_ms(std::size_t from, std::size_t to) {
    std::lock_guard g(mu);
    std::vector<double> out;
    for (std::size_t i = std::max<std::size_t>(from, 1); i < to && i < arrivals.size(); ++i)
      out.push_back(std::chrono::duration<double, std::milli>(arrivals[i] - arrivals[i - 1]).count());
    return out;
  }
};

double median(std::vector<double> v) {
  REQUIRE(!v.empty());
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct run_result {
  scraper::crawl_stats stats;
  std::string base;
  std::size_t records = 0;
};

run_result crawl(phased_server& s, bool autothrottle, std::size_t concurrency = 8,
                 std::chrono::milliseconds timeout = 10s, int retries = 2) {
  run_result out;
  weft::runtime rt({.workers = 2});
  rt.block_on([&]() -> weft::task<void> {
    auto srv = weft::http::server::bind(weft::io::address::parse("127.0.0.1", 0), s.handler());
    auto running = weft::spawn(srv.run());
    out.base = "http://127.0.0.1:" + std::to_string(srv.local_address().port());
    scraper::crawl_options o;
    o.seeds = {out.base + "/"};
    o.concurrency = concurrency;
    o.per_host = concurrency;
    o.timeout = timeout;
    o.retries = retries;
    o.analyze = true;
    o.autothrottle = autothrottle;
    o.target_concurrency = 1.0;
    scraper::crawler c(o, [&](const scraper::page_record&) { ++out.records; });
    out.stats = co_await c.run();
    co_await srv.shutdown(1s);
    co_await running;
  }());
  return out;
}

}  // namespace

TEST_CASE("throttle: in a crawl the request rate follows the server's latency, down and up again",
          "[scraper][throttle]") {
  // Page requests 0..19 are answered at once, 20..39 after 150 ms, 40..69
  // at once again. With target concurrency 1 the gap between request
  // starts must grow to about a latency in the slow phase and shrink back
  // after it; without autothrottle 8 requests run side by side instead.
  auto latency = [](std::size_t i) { return i >= 20 && i < 40 ? 150ms : 0ms; };
  phased_server s;
  s.pages = 70;
  s.latency = latency;
  run_result r = crawl(s, true);
  REQUIRE(r.records == 70);
  REQUIRE(s.arrivals.size() == 70);
  const double fast = median(s.gaps_ms(1, 20));
  const double slow = median(s.gaps_ms(21, 40));
  const double again = median(s.gaps_ms(60, 70));
  INFO("median gap between request starts: fast " << fast << " ms, slow " << slow << " ms, fast again " << again
                                                  << " ms");
  CHECK(slow >= 100);  // a lower bound: at least a measured latency (150 ms) apart, transit jitter aside
  CHECK(slow >= 3 * fast);
  CHECK(slow >= 3 * again);  // recovered
  REQUIRE(r.stats.hosts.count(r.base) == 1);
  const auto& h = r.stats.hosts.at(r.base);
  INFO("delay at the end " << h.delay_ms << " ms, max " << h.max_delay_ms << " ms");
  CHECK(h.max_delay_ms >= 150);  // it followed a 150 ms latency
  CHECK(h.delay_ms * 3 <= h.max_delay_ms);
  CHECK(h.requests == 71);  // robots.txt and 70 pages
  CHECK(h.backoffs == 0);
  CHECK(r.stats.pages_ok == 70);

  // The same site without autothrottle: the slow phase runs 8 at a time.
  phased_server plain;
  plain.pages = 70;
  plain.latency = latency;
  run_result p = crawl(plain, false);
  REQUIRE(p.records == 70);
  const double slow_plain = median(plain.gaps_ms(21, 40));
  INFO("without autothrottle, median slow gap " << slow_plain << " ms");
  CHECK(slow >= 3 * slow_plain);
  CHECK(p.stats.hosts.empty());
}

TEST_CASE("throttle: in a crawl a 503 with Retry-After spaces the next requests to that host", "[scraper][throttle]") {
  // Page request 1 answers 503 with Retry-After: 1; every other one 200 at
  // once. The retry waits a second anyway; autothrottle keeps the next
  // requests to the host a second apart too, for 3 successful answers.
  // One worker, so that no request is on its way when the 503 comes.
  phased_server s;
  s.pages = 6;
  s.latency = [](std::size_t) { return 0ms; };
  s.status = [](std::size_t i) { return i == 1 ? 503 : 200; };
  run_result r = crawl(s, true, 1);
  REQUIRE(r.records == 6);
  REQUIRE(s.arrivals.size() == 7);  // the root, 5 pages, one retry
  const auto g = s.gaps_ms(2, 6);   // 503 -> retry, then 3 successful answers -> the next request
  REQUIRE(g.size() == 4);
  INFO("gaps after the 503: " << g[0] << ", " << g[1] << ", " << g[2] << ", " << g[3] << " ms");
  for (double gap : g) CHECK(gap >= 900);
  const auto& h = r.stats.hosts.at(r.base);
  CHECK(h.backoffs == 1);
  CHECK(h.max_delay_ms >= 1000);
  CHECK(r.stats.retries == 1);
  CHECK(r.stats.pages_ok == 6);
}

TEST_CASE("throttle: in a crawl robots.txt Crawl-delay is the floor of a fast host's delay", "[scraper][throttle]") {
  // The pages answer at once, so the latency alone would allow a request
  // every millisecond or less; Crawl-delay 0.3 keeps them 300 ms apart.
  phased_server s;
  s.pages = 4;
  s.latency = [](std::size_t) { return 0ms; };
  s.robots_txt = "User-agent: *\nCrawl-delay: 0.3\n";
  run_result r = crawl(s, true);
  REQUIRE(r.records == 4);
  const auto g = s.gaps_ms(1, 4);
  REQUIRE(g.size() == 3);
  INFO("gaps: " << g[0] << ", " << g[1] << ", " << g[2] << " ms");
  for (double gap : g) CHECK(gap >= 250);  // a lower bound, less transit jitter
  const auto& h = r.stats.hosts.at(r.base);
  CHECK(h.delay_ms == Approx(300));
  CHECK(h.min_delay_ms == 0);  // before robots.txt was read
}

TEST_CASE("throttle: in a crawl a timeout backs the host off", "[scraper][throttle]") {
  // Page request 1 answers after 3 s, far past the 300 ms timeout (no
  // retries); the others at once. One worker: the request after the
  // timeout waits at least the doubled delay (min_backoff, 100 ms).
  phased_server s;
  s.pages = 4;
  s.latency = [](std::size_t i) { return i == 1 ? 3000ms : 0ms; };
  run_result r = crawl(s, true, 1, 300ms, 0);
  REQUIRE(r.records == 4);
  CHECK(r.stats.errors["timeout"] == 1);
  const auto& h = r.stats.hosts.at(r.base);
  CHECK(h.backoffs == 1);
  CHECK(h.max_delay_ms >= 100);
  CHECK(h.requests == 5);          // robots.txt, the root, 3 pages (the timeout included)
  const auto g = s.gaps_ms(2, 3);  // the timed-out request -> the next one
  REQUIRE(g.size() == 1);
  CHECK(g[0] >= 300 + 50);  // the timeout, then the backoff (100 ms) counted from it, less transit jitter
}
