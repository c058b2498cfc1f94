// The crawler end to end: against the built-in demo site (every kind of
// trouble counted exactly against its manifest, robots.txt obeyed, output
// valid JSON Lines, limits respected, stop() mid-crawl) and against small
// servers made for one error path each.
#include <zlib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crawler.hpp"
#include "demo_check.hpp"
#include "demo_site.hpp"
#include "frontier.hpp"
#include "weft/http/server.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;

namespace {

// ------------------------------------------------------------ a JSON checker

/// A strict RFC 8259 validator for one value (no trailing garbage).
class json_checker {
 public:
  explicit json_checker(std::string_view s) : s_(s) {}
  bool valid() {
    ws();
    if (!value()) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  bool value() {
    if (i_ >= s_.size() || ++depth_ > 64) return false;
    bool ok;
    switch (s_[i_]) {
      case '{': ok = object(); break;
      case '[': ok = array(); break;
      case '"': ok = string(); break;
      case 't': ok = literal("true"); break;
      case 'f': ok = literal("false"); break;
      case 'n': ok = literal("null"); break;
      default: ok = number();
    }
    --depth_;
    return ok;
  }
  bool object() {
    ++i_;
    ws();
    if (peek('}')) return ++i_, true;
    for (;;) {
      ws();
      if (!string()) return false;
      ws();
      if (!peek(':')) return false;
      ++i_;
      ws();
      if (!value()) return false;
      ws();
      if (peek('}')) return ++i_, true;
      if (!peek(',')) return false;
      ++i_;
    }
  }
  bool array() {
    ++i_;
    ws();
    if (peek(']')) return ++i_, true;
    for (;;) {
      ws();
      if (!value()) return false;
      ws();
      if (peek(']')) return ++i_, true;
      if (!peek(',')) return false;
      ++i_;
    }
  }
  bool string() {
    if (!peek('"')) return false;
    for (++i_; i_ < s_.size(); ++i_) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        const char e = s_[i_];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k)
            if (++i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return false;
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool number() {
    const std::size_t start = i_;
    if (peek('-')) ++i_;
    if (peek('0')) ++i_;
    else if (!digits()) return false;
    if (peek('.')) {
      ++i_;
      if (!digits()) return false;
    }
    if (peek('e') || peek('E')) {
      ++i_;
      if (peek('+') || peek('-')) ++i_;
      if (!digits()) return false;
    }
    return i_ > start;
  }
  bool digits() {
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool literal(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  int depth_ = 0;
};

bool valid_json(std::string_view s) { return json_checker(s).valid(); }

// ------------------------------------------------------------ helpers

/// What the sink saw: records (copied) and their JSON lines.
struct collected {
  std::vector<scraper::page_record> records;
  std::vector<std::string> lines;
  scraper::demo_tally tally;

  scraper::crawler::sink sink() {
    return [this](const scraper::page_record& r) {
      records.push_back(r);
      lines.push_back(scraper::to_json_line(r));
      tally.add(r);
    };
  }
};

scraper::demo_site_options small_demo() {
  scraper::demo_site_options d;
  d.pages = 150;
  d.delay = 1ms;
  d.slow_delay = 5s;
  return d;
}

// The timeout is far above a page's 1 ms (so that a loaded machine or a
// sanitizer build does not time pages out) and far below the slow page's 5 s.
scraper::crawl_options test_crawl(std::string seed) {
  scraper::crawl_options o;
  o.seeds = {std::move(seed)};
  o.concurrency = 16;
  o.timeout = 1500ms;
  o.retries = 2;
  o.backoff_base = 10ms;
  return o;
}

std::string path_of(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

/// Runs fn on a fresh 2-worker runtime.
template <class F>
void on_runtime(F fn) {
  weft::runtime rt({.workers = 2});
  rt.block_on(fn());
}

}  // namespace

TEST_CASE("crawler: the test's JSON checker accepts JSON and rejects non-JSON", "[scraper][crawler]") {
  CHECK(valid_json(R"({"a":[1,-2.5e3,true,false,null,"x\n\u00e9"],"b":{}})"));
  CHECK_FALSE(valid_json(R"({"a":1,})"));
  CHECK_FALSE(valid_json("{\"a\":\"\x01\"}"));
  CHECK_FALSE(valid_json(R"({"a":01})"));
  CHECK_FALSE(valid_json(R"({"a":1} x)"));
}

TEST_CASE("crawler: records and stats serialize as valid JSON, whatever the strings hold", "[scraper][crawler]") {
  scraper::page_record r;
  r.url = "http://h/a";
  r.final_url = "http://h/b";
  r.status = 200;
  r.content_type = "text/html";
  r.page.emplace();
  r.page->title = std::string("bad \xff\xfe utf-8, \"quotes\", tab\t, nul ") + '\0' + " end";
  r.page->links = {"http://h/c"};
  r.page->top_words = {{"word", 3}};
  r.message = "ctl \x1f";
  const std::string line = scraper::to_json_line(r);
  CHECK(valid_json(line));
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find(R"("error":null)") != std::string::npos);
  CHECK(line.find(R"("top_words":[["word",3]])") != std::string::npos);

  scraper::page_record failed;
  failed.url = "http://h/x";
  failed.error = scraper::fetch_error::timeout;
  failed.message = "timed out";
  const std::string fl = scraper::to_json_line(failed);
  CHECK(valid_json(fl));
  CHECK(fl.find(R"("error":"timeout")") != std::string::npos);
  CHECK(fl.find(R"("status":null)") != std::string::npos);

  scraper::crawl_stats s;
  s.pages = 3;
  s.errors["http_4xx"] = 1;
  s.seconds = 0;  // pages_per_s must not become inf/nan
  CHECK(valid_json(scraper::to_json(s)));
}

TEST_CASE("crawler: bad options are refused", "[scraper][crawler]") {
  scraper::crawl_options o;
  CHECK_THROWS_AS(scraper::crawler(o, {}), std::invalid_argument);
  o.seeds = {"ftp://example.org/"};
  CHECK_THROWS_AS(scraper::crawler(o, {}), std::invalid_argument);
  o.seeds = {"http://example.org/"};
  o.concurrency = 0;
  CHECK_THROWS_AS(scraper::crawler(o, {}), std::invalid_argument);
  o.concurrency = 1;
  o.max_redirects = -1;
  CHECK_THROWS_AS(scraper::crawler(o, {}), std::invalid_argument);
}

TEST_CASE("crawler: a crawl of the demo site meets every count of its manifest", "[scraper][crawler]") {
  collected out;
  scraper::crawl_stats stats;
  scraper::demo_site_manifest manifest{};
  std::uint64_t private_requests = 0;
  std::uint64_t robots_requests = 0;
  on_runtime([&]() -> weft::task<void> {
    auto site = scraper::demo_site::start(small_demo());
    manifest = site.manifest();
    scraper::crawler c(test_crawl(site.root_url()), out.sink());
    stats = co_await c.run();
    robots_requests = site.requests_for("/robots.txt");
    private_requests = site.requests_under("/private/");
    co_await site.stop();
  });

  for (const auto& l : scraper::check_demo(manifest, stats, out.tally)) {
    INFO(l.what);
    CHECK(l.got == l.expected);
  }
  CHECK(stats.pages == out.records.size());
  CHECK(stats.pages == stats.pages_ok + (stats.pages - stats.pages_ok));
  CHECK(robots_requests == 1);
  CHECK(stats.robots_fetched == 1);
  CHECK_FALSE(stats.stopped);
  CHECK(stats.cancelled == 0);
  CHECK(manifest.disallowed > 0);
  CHECK(private_requests == 0);  // robots.txt obeyed

  std::set<std::string> urls;
  for (std::size_t i = 0; i < out.records.size(); ++i) {
    const auto& r = out.records[i];
    INFO(out.lines[i]);
    CHECK(valid_json(out.lines[i]));
    CHECK(urls.insert(r.url).second);  // each URL fetched once
    CHECK(path_of(r.url).rfind("/private/", 0) != 0);
    switch (r.error) {
      case scraper::fetch_error::none:
        CHECK(r.status >= 200);
        CHECK(r.status < 300);
        CHECK_FALSE(r.final_url.empty());
        if (r.final_url != r.url) CHECK_FALSE(r.redirects.empty());
        break;
      case scraper::fetch_error::http_4xx: CHECK(r.status == 404); break;
      case scraper::fetch_error::timeout:
        CHECK(r.status == 0);
        CHECK(r.attempts == 3);  // retried twice
        break;
      case scraper::fetch_error::redirect_loop: CHECK(r.status == 0); break;
      default: FAIL("unexpected error kind " << scraper::to_string(r.error));
    }
  }
  CHECK(out.tally.recovered > 0);
  CHECK(stats.retries >= out.tally.recovered);
}

TEST_CASE("crawler: max_pages and max_depth limit a crawl", "[scraper][crawler]") {
  SECTION("max_pages") {
    collected out;
    scraper::crawl_stats stats;
    on_runtime([&]() -> weft::task<void> {
      auto site = scraper::demo_site::start(small_demo());
      auto o = test_crawl(site.root_url());
      o.max_pages = 20;
      scraper::crawler c(o, out.sink());
      stats = co_await c.run();
      co_await site.stop();
    });
    CHECK(stats.pages == 20);
    CHECK(out.records.size() == 20);
    for (const auto& l : out.lines) CHECK(valid_json(l));
  }
  SECTION("max_depth") {
    collected out;
    scraper::crawl_stats stats;
    on_runtime([&]() -> weft::task<void> {
      auto site = scraper::demo_site::start(small_demo());
      auto o = test_crawl(site.root_url());
      o.max_depth = 1;
      scraper::crawler c(o, out.sink());
      stats = co_await c.run();
      co_await site.stop();
    });
    REQUIRE_FALSE(out.records.empty());
    const scraper::page_record* root = nullptr;
    for (const auto& r : out.records) {
      CHECK(r.depth <= 1);
      if (r.depth == 0) root = &r;
    }
    REQUIRE(root);
    REQUIRE(root->page);
    // Exactly the root and the pages it links to (a link may have been
    // reached as another's redirect target instead: then its URL is a
    // final_url), minus robots' /private/.
    std::set<std::string> reached;
    for (const auto& r : out.records) {
      reached.insert(r.url);
      if (!r.final_url.empty()) reached.insert(r.final_url);
    }
    std::set<std::string> expected{root->url};
    std::uint64_t private_links = 0;
    for (const auto& l : root->page->links) {
      if (path_of(l).rfind("/private/", 0) == 0) ++private_links;
      else expected.insert(l);
    }
    for (const auto& u : expected) {
      INFO(u);
      CHECK(reached.count(u) == 1);
    }
    for (const auto& r : out.records) {
      INFO(r.url);
      CHECK(expected.count(r.url) == 1);
    }
    CHECK(stats.robots_disallowed == private_links);
  }
}

TEST_CASE("crawler: stop() mid-crawl ends cleanly with the pages so far", "[scraper][crawler]") {
  collected out;
  scraper::crawl_stats stats;
  std::size_t site_pages = 0;
  on_runtime([&]() -> weft::task<void> {
    scraper::demo_site_options d = small_demo();
    d.pages = 2000;
    d.delay = 5ms;
    site_pages = d.pages;
    auto site = scraper::demo_site::start(d);
    auto o = test_crawl(site.root_url());
    o.concurrency = 4;
    o.per_host = 4;
    scraper::crawler c(o, out.sink());
    auto stopper = weft::spawn([](scraper::crawler& cr) -> weft::task<void> {
      while (cr.progress().done < 30) co_await weft::sleep_for(1ms);
      cr.stop();
      cr.stop();  // idempotent
    }(c));
    stats = co_await c.run();
    co_await stopper;
    co_await site.stop();
  });
  CHECK(stats.stopped);
  CHECK(stats.pages >= 30);
  CHECK(stats.pages < site_pages / 2);
  CHECK(stats.pages == out.records.size());  // every finished page reached the sink
  for (const auto& l : out.lines) CHECK(valid_json(l));
}

TEST_CASE("crawler: an unreachable host fails robots.txt after retries and its pages are recorded as connect errors",
          "[scraper][crawler]") {
  collected out;
  scraper::crawl_stats stats;
  on_runtime([&]() -> weft::task<void> {
    std::uint16_t port;
    {
      auto l = weft::io::tcp_listener::bind(weft::io::address::parse("127.0.0.1", 0));
      port = l.local_address().port();
    }  // closed: connections are refused
    auto o = test_crawl("http://127.0.0.1:" + std::to_string(port) + "/start");
    scraper::crawler c(o, out.sink());
    stats = co_await c.run();
  });
  REQUIRE(out.records.size() == 1);
  CHECK(out.records[0].error == scraper::fetch_error::connect);
  CHECK(out.records[0].message.find("robots.txt") != std::string::npos);
  CHECK(stats.errors["connect"] == 1);
  CHECK(stats.retries == 2);  // the robots.txt fetch, retried twice
  CHECK(stats.pages_ok == 0);
  CHECK(valid_json(out.lines[0]));
}

namespace {

/// A server answering from a map of path -> (status, body, content type);
/// counts requests per path and logs their order. `replies` is read under
/// `mu`, so a test may add to it (under `mu`) once it knows the ports.
struct scripted_server {
  struct reply {
    int status;
    std::string body;
    std::string content_type = "text/html";
    std::string retry_after = {};
    std::string location = {};
    bool ranges = false;  // answers "Range: bytes=0-N" with 206 and the first N + 1 bytes
  };
  std::map<std::string, reply> replies;
  std::mutex mu;
  std::map<std::string, int> hits;
  std::vector<std::string> log;  // paths, in the order requested

  weft::http::handler handler() {
    return [this](weft::http::request& req) -> weft::task<weft::http::response> {
      std::string path = req.target;
      std::optional<reply> rep;
      {
        std::lock_guard g(mu);
        ++hits[path];
        log.push_back(path);
        if (auto it = replies.find(path); it != replies.end()) rep = it->second;
      }
      if (!rep) co_return weft::http::make_response(404, "not found");
      if (auto range = req.headers.get("range"); rep->ranges && range && range->starts_with("bytes=0-")) {
        const std::size_t last = std::stoul(std::string(range->substr(8)));
        const std::size_t n = std::min(rep->body.size(), last + 1);
        auto part = weft::http::make_response(206, rep->body.substr(0, n), rep->content_type);
        part.headers.set("Content-Range", "bytes 0-" + std::to_string(n - 1) + "/" + std::to_string(rep->body.size()));
        co_return part;
      }
      auto resp = weft::http::make_response(rep->status, rep->body, rep->content_type);
      if (!rep->retry_after.empty()) resp.headers.set("Retry-After", rep->retry_after);
      if (!rep->location.empty()) resp.headers.set("Location", rep->location);
      co_return resp;
    };
  }
  void set(const std::string& path, reply r) {
    std::lock_guard g(mu);
    replies[path] = std::move(r);
  }
  int hits_for(const std::string& p) {
    std::lock_guard g(mu);
    return hits.count(p) ? hits[p] : 0;
  }
  std::vector<std::string> requests() {
    std::lock_guard g(mu);
    return log;
  }
};

scripted_server::reply redirect_to(std::string location, int status = 302) {
  return {status, "moved", "text/html", {}, std::move(location)};
}

template <class F>
weft::task<void> with_server(scripted_server& s, F body) {
  auto srv = weft::http::server::bind(weft::io::address::parse("127.0.0.1", 0), s.handler());
  auto running = weft::spawn(srv.run());
  std::exception_ptr failed;
  try {
    co_await body("http://127.0.0.1:" + std::to_string(srv.local_address().port()));
  } catch (...) {
    failed = std::current_exception();
  }
  co_await srv.shutdown(1s);
  co_await running;
  if (failed) std::rethrow_exception(failed);
}

/// Two servers on two ports of 127.0.0.1: two origins.
template <class F>
weft::task<void> with_servers(scripted_server& a, scripted_server& b, F body) {
  co_await with_server(a, [&](std::string base_a) -> weft::task<void> {
    co_await with_server(b, [&](std::string base_b) -> weft::task<void> { co_await body(base_a, base_b); });
  });
}

std::map<std::string, scraper::page_record> records_by_path(const collected& out) {
  std::map<std::string, scraper::page_record> m;
  for (const auto& r : out.records) m[path_of(r.url)] = r;
  return m;
}

}  // namespace

TEST_CASE("crawler: robots.txt answering 5xx means disallow all (RFC 9309)", "[scraper][crawler]") {
  scripted_server s;
  s.replies["/robots.txt"] = {503, "down", "text/plain"};
  s.replies["/"] = {200, "<a href='/a'>a</a>"};
  collected out;
  scraper::crawl_stats stats;
  on_runtime([&]() -> weft::task<void> {
    co_await with_server(s, [&](std::string base) -> weft::task<void> {
      scraper::crawler c(test_crawl(base + "/"), out.sink());
      stats = co_await c.run();
    });
  });
  CHECK(out.records.empty());
  CHECK(stats.robots_disallowed == 1);
  CHECK(s.hits_for("/robots.txt") == 3);  // retried twice
  CHECK(s.hits_for("/") == 0);
}

TEST_CASE("crawler: robots.txt rules, status kinds, retries and Retry-After", "[scraper][crawler]") {
  scripted_server s;
  s.replies["/robots.txt"] = {200, "User-agent: *\nDisallow: /no/\n", "text/plain"};
  s.replies["/"] = {200,
                    "<title>Root</title><a href='/ok'>1</a><a href='/no/x'>2</a><a href='/gone'>3</a>"
                    "<a href='/busy'>4</a><a href='/bin'>5</a><a href='/err'>6</a>"};
  s.replies["/ok"] = {200, "<title>OK page</title><p>alpha beta gamma alpha</p>"};
  s.replies["/busy"] = {429, "slow down", "text/plain", "0"};
  s.replies["/bin"] = {200, std::string("\x89PNG\r\n\x1a\n", 8), "image/png"};
  s.replies["/err"] = {500, "boom", "text/plain"};
  collected out;
  scraper::crawl_stats stats;
  on_runtime([&]() -> weft::task<void> {
    co_await with_server(s, [&](std::string base) -> weft::task<void> {
      scraper::crawler c(test_crawl(base + "/"), out.sink());
      stats = co_await c.run();
    });
  });
  std::map<std::string, const scraper::page_record*> by_path;
  for (const auto& r : out.records) by_path[path_of(r.url)] = &r;
  REQUIRE(by_path.size() == 6);  // /, /ok, /gone, /busy, /bin, /err; not /no/x
  CHECK(by_path.count("/no/x") == 0);
  CHECK(s.hits_for("/no/x") == 0);
  CHECK(stats.robots_disallowed == 1);
  CHECK(by_path["/"]->page->title == "Root");
  CHECK(by_path["/ok"]->page->title == "OK page");
  CHECK(by_path["/ok"]->error == scraper::fetch_error::none);
  CHECK(by_path["/gone"]->error == scraper::fetch_error::http_4xx);
  CHECK(by_path["/gone"]->attempts == 1);  // 404 is not retried
  CHECK(by_path["/busy"]->error == scraper::fetch_error::http_4xx);
  CHECK(by_path["/busy"]->status == 429);
  CHECK(by_path["/busy"]->attempts == 3);  // 429 is retried
  CHECK(by_path["/err"]->error == scraper::fetch_error::http_5xx);
  CHECK(by_path["/err"]->attempts == 3);
  CHECK(s.hits_for("/err") == 3);
  CHECK_FALSE(by_path["/bin"]->page);
  CHECK(by_path["/bin"]->error == scraper::fetch_error::none);
  CHECK(stats.not_html == 1);
  CHECK(stats.retries == 4);
  CHECK(stats.errors["http_4xx"] == 2);
  CHECK(stats.errors["http_5xx"] == 1);
  CHECK(stats.pages_ok == 3);
  for (const auto& l : out.lines) CHECK(valid_json(l));
}

TEST_CASE("crawler: requests to one host start at least delay apart", "[scraper][crawler]") {
  // Only a lower bound is checked (timers never fire early); the margin
  // absorbs a first request that spent longer in transit than the last.
  struct timed_server : scripted_server {
    std::vector<std::chrono::steady_clock::time_point> arrivals;
    weft::http::handler timed() {
      auto inner = handler();
      return [this, inner](weft::http::request& req) -> weft::task<weft::http::response> {
        {
          std::lock_guard g(mu);
          arrivals.push_back(std::chrono::steady_clock::now());
        }
        co_return co_await inner(req);
      };
    }
  } s;
  s.replies["/robots.txt"] = {404, "", "text/plain"};
  s.replies["/"] = {200, "<a href='/1'>1</a><a href='/2'>2</a><a href='/3'>3</a><a href='/4'>4</a>"};
  for (const char* p : {"/1", "/2", "/3", "/4"}) s.replies[p] = {200, "<title>x</title>"};
  collected out;
  on_runtime([&]() -> weft::task<void> {
    auto srv = weft::http::server::bind(weft::io::address::parse("127.0.0.1", 0), s.timed());
    auto running = weft::spawn(srv.run());
    auto o = test_crawl("http://127.0.0.1:" + std::to_string(srv.local_address().port()) + "/");
    o.delay = 50ms;
    scraper::crawler c(o, out.sink());
    (void)co_await c.run();
    co_await srv.shutdown(1s);
    co_await running;
  });
  REQUIRE(out.records.size() == 5);
  REQUIRE(s.arrivals.size() == 6);  // robots.txt, then 5 pages
  CHECK(s.arrivals.back() - s.arrivals.front() >= 5 * 50ms - 20ms);
}

TEST_CASE("crawler: a redirect to a URL robots.txt disallows is not followed", "[scraper][crawler]") {
  scripted_server s;
  s.replies["/robots.txt"] = {200, "User-agent: *\nDisallow: /private/\n", "text/plain"};
  s.replies["/"] = {200, "<a href='/go'>go</a>"};
  s.replies["/go"] = redirect_to("/private/secret");
  s.replies["/private/secret"] = {200, "<title>Secret</title>"};
  collected out;
  scraper::crawl_stats stats;
  std::string base;
  on_runtime([&]() -> weft::task<void> {
    co_await with_server(s, [&](std::string b) -> weft::task<void> {
      base = b;
      scraper::crawler c(test_crawl(b + "/"), out.sink());
      stats = co_await c.run();
    });
  });
  auto by_path = records_by_path(out);
  REQUIRE(by_path.size() == 2);  // "/" and "/go"
  const auto& go = by_path["/go"];
  CHECK(go.error == scraper::fetch_error::redirect_disallowed);
  CHECK(go.status == 0);
  CHECK(go.final_url.empty());
  CHECK(go.redirects == std::vector<std::string>{base + "/go"});
  CHECK(go.message.find("/private/secret") != std::string::npos);
  CHECK(s.hits_for("/go") == 1);
  CHECK(s.hits_for("/private/secret") == 0);  // never requested
  CHECK(s.hits_for("/robots.txt") == 1);
  CHECK(stats.robots_disallowed == 1);
  CHECK(stats.redirects_refused == 1);
  CHECK(stats.errors["redirect_disallowed"] == 1);
  CHECK(stats.redirected == 0);
  bool said = false;
  for (const auto& l : out.lines) {
    CHECK(valid_json(l));
    said = said || l.find(R"("error":"redirect_disallowed")") != std::string::npos;
  }
  CHECK(said);
}

TEST_CASE("crawler: a redirect to another origin obeys same_host and that origin's robots.txt", "[scraper][crawler]") {
  scripted_server a, b;
  b.replies["/robots.txt"] = {200, "User-agent: *\nDisallow: /no/\n", "text/plain"};
  b.replies["/offsite"] = {200, "<title>Offsite</title>"};
  b.replies["/no/x"] = {200, "<title>Not for crawlers</title>"};
  a.replies["/robots.txt"] = {404, "", "text/plain"};
  collected out;
  scraper::crawl_stats stats;
  std::string base_a, base_b;
  auto crawl = [&](bool same_host) {
    on_runtime([&]() -> weft::task<void> {
      co_await with_servers(a, b, [&](std::string ba, std::string bb) -> weft::task<void> {
        base_a = ba;
        base_b = bb;
        a.set("/", {200, "<a href='/away'>1</a><a href='/away2'>2</a>"});
        a.set("/away", redirect_to(bb + "/offsite", 301));
        a.set("/away2", redirect_to(bb + "/no/x", 307));
        auto o = test_crawl(ba + "/");
        o.same_host = same_host;
        scraper::crawler c(o, out.sink());
        stats = co_await c.run();
      });
    });
  };

  SECTION("same_host: the other origin gets no request at all") {
    crawl(true);
    auto by_path = records_by_path(out);
    REQUIRE(by_path.size() == 3);
    for (const char* p : {"/away", "/away2"}) {
      INFO(p);
      const auto& r = by_path[p];
      CHECK(r.error == scraper::fetch_error::redirect_out_of_scope);
      CHECK(r.status == 0);
      CHECK(r.final_url.empty());
      CHECK(r.redirects == std::vector<std::string>{base_a + p});
      CHECK(r.message.find(base_b) != std::string::npos);
    }
    CHECK(b.requests().empty());  // not even robots.txt
    CHECK(stats.errors["redirect_out_of_scope"] == 2);
    CHECK(stats.redirects_refused == 2);
    CHECK(stats.robots_disallowed == 0);
    CHECK(stats.robots_fetched == 1);
  }
  SECTION("all hosts: followed, after that origin's robots.txt") {
    crawl(false);
    auto by_path = records_by_path(out);
    REQUIRE(by_path.size() == 3);
    const auto& away = by_path["/away"];
    CHECK(away.error == scraper::fetch_error::none);
    CHECK(away.status == 200);
    CHECK(away.final_url == base_b + "/offsite");
    CHECK(away.redirects == std::vector<std::string>{base_a + "/away"});
    CHECK(away.attempts == 2);  // one request per hop
    REQUIRE(away.page);
    CHECK(away.page->title == "Offsite");
    const auto& away2 = by_path["/away2"];
    CHECK(away2.error == scraper::fetch_error::redirect_disallowed);
    CHECK(away2.status == 0);
    // b: robots.txt once and first (both hops wanted it at once), then
    // /offsite; never /no/x.
    const auto log = b.requests();
    CHECK(log == std::vector<std::string>{"/robots.txt", "/offsite"});
    CHECK(stats.robots_fetched == 2);
    CHECK(stats.robots_disallowed == 1);
    CHECK(stats.redirects_refused == 1);
    CHECK(stats.redirected == 1);
  }
  for (const auto& l : out.lines) CHECK(valid_json(l));
}

TEST_CASE("crawler: redirect chains in scope are followed, loops and overlong chains are not", "[scraper][crawler]") {
  scripted_server s;
  s.replies["/robots.txt"] = {404, "", "text/plain"};
  s.replies["/"] = {200, "<a href='/a'>a</a><a href='/loop1'>l</a><a href='/l1'>long</a><a href='/ftp'>f</a>"};
  s.replies["/a"] = redirect_to("/b", 301);
  s.replies["/b"] = redirect_to("c", 308);  // relative to /b
  s.replies["/c"] = redirect_to("/final", 303);
  s.replies["/final"] = {200, "<title>Final</title>"};
  s.replies["/loop1"] = redirect_to("/loop2");
  s.replies["/loop2"] = redirect_to("/loop1");
  for (int k = 1; k <= 4; ++k) s.replies["/l" + std::to_string(k)] = redirect_to("/l" + std::to_string(k + 1));
  s.replies["/l5"] = {200, "<title>Too far</title>"};
  s.replies["/ftp"] = redirect_to("ftp://127.0.0.1/file");
  collected out;
  scraper::crawl_stats stats;
  std::string base;
  on_runtime([&]() -> weft::task<void> {
    co_await with_server(s, [&](std::string b) -> weft::task<void> {
      base = b;
      auto o = test_crawl(b + "/");
      o.max_redirects = 3;
      scraper::crawler c(o, out.sink());
      stats = co_await c.run();
    });
  });
  auto by_path = records_by_path(out);
  REQUIRE(by_path.size() == 5);  // /, /a, /loop1, /l1, /ftp
  const auto& a = by_path["/a"];
  CHECK(a.error == scraper::fetch_error::none);
  CHECK(a.status == 200);
  CHECK(a.final_url == base + "/final");
  CHECK(a.redirects == std::vector<std::string>{base + "/a", base + "/b", base + "/c"});
  CHECK(a.attempts == 4);
  REQUIRE(a.page);
  CHECK(a.page->title == "Final");

  const auto& loop = by_path["/loop1"];
  CHECK(loop.error == scraper::fetch_error::redirect_loop);
  CHECK(loop.status == 0);
  CHECK(loop.redirects == std::vector<std::string>{base + "/loop1", base + "/loop2"});
  CHECK(s.hits_for("/loop1") == 1);
  CHECK(s.hits_for("/loop2") == 1);

  const auto& lng = by_path["/l1"];
  CHECK(lng.error == scraper::fetch_error::too_many_redirects);
  CHECK(lng.status == 0);
  CHECK(s.hits_for("/l4") == 1);
  CHECK(s.hits_for("/l5") == 0);

  CHECK(by_path["/ftp"].error == scraper::fetch_error::bad_url);

  CHECK(stats.redirected == 1);
  CHECK(stats.redirects_refused == 0);
  CHECK(stats.errors["redirect_loop"] == 1);
  CHECK(stats.errors["too_many_redirects"] == 1);
  for (const auto& l : out.lines) CHECK(valid_json(l));
}

// ------------------------------------------------------------ sitemaps

namespace {

/// `data` as a gzip file, for .xml.gz sitemaps.
std::string gzip_of(std::string_view data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

std::string urlset_of(const std::vector<std::pair<std::string, std::string>>& urls) {  // loc, lastmod
  std::string x =
      R"(<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">)";
  for (const auto& [loc, lastmod] : urls) {
    x += "<url><loc>" + loc + "</loc>";
    if (!lastmod.empty()) x += "<lastmod>" + lastmod + "</lastmod>";
    x += "</url>\n";
  }
  return x + "</urlset>";
}

std::string index_of(const std::vector<std::string>& sitemaps) {
  std::string x =
      R"(<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">)";
  for (const auto& s : sitemaps) x += "<sitemap><loc>" + s + "</loc></sitemap>\n";
  return x + "</sitemapindex>";
}

/// The sitemap records by path, and the page records by path.
std::pair<std::map<std::string, scraper::page_record>, std::map<std::string, scraper::page_record>> split_records(
    const collected& out) {
  std::map<std::string, scraper::page_record> sitemaps, pages;
  for (const auto& r : out.records) (r.sitemap ? sitemaps : pages)[path_of(r.url)] = r;
  return {sitemaps, pages};
}

}  // namespace

TEST_CASE("crawler: sitemaps from robots.txt, an index and a gzipped child bring pages no link leads to",
          "[scraper][crawler][sitemap]") {
  scripted_server s;
  s.replies["/"] = {200, "<title>Home</title><a href='/linked'>linked</a>"};
  s.replies["/linked"] = {200, "<title>Linked</title>"};
  for (const char* p : {"/hidden1", "/hidden2", "/hidden3"})
    s.replies[p] = {200, "<title>Hidden</title><a href='/deeper'>d</a>"};
  s.replies["/deeper"] = {200, "<title>Deeper</title>"};
  s.replies["/private/x"] = {200, "<title>Private</title>"};
  collected out;
  scraper::crawl_stats stats;
  std::string base;
  on_runtime([&]() -> weft::task<void> {
    co_await with_server(s, [&](std::string b) -> weft::task<void> {
      base = b;
      s.set("/robots.txt",
            {200, "User-agent: *\nDisallow: /private/\nSitemap: " + b + "/sitemap_index.xml\n", "text/plain"});
      s.set("/sitemap_index.xml",
            {200, index_of({b + "/s1.xml.gz", b + "/s2.xml", b + "/s1.xml.gz"}), "application/xml"});
      s.set("/s1.xml.gz", {200,
                           gzip_of(urlset_of({{b + "/hidden1", "2024-05-01"},
                                              {b + "/hidden2", ""},
                                              {"http://elsewhere.example/x", ""},
                                              {"not a url", ""},
                                              {b + "/private/x", ""}})),
                           "application/x-gzip"});
      s.set("/s2.xml", {200, urlset_of({{b + "/hidden3", ""}, {b + "/", ""}, {b + "/linked", ""}}), "text/xml"});
      auto o = test_crawl(b + "/");
      o.sitemaps = true;
      o.max_depth = 0;  // sitemap URLs are depth 0: their links are not followed
      scraper::crawler c(o, out.sink());
      stats = co_await c.run();
    });
  });
  auto [sitemaps, pages] = split_records(out);
  // Pages: the seed and the sitemaps' URLs in scope, each once; not
  // /private/x (robots.txt), not /deeper (depth 1).
  CHECK(pages.size() == 5);
  for (const char* p : {"/", "/linked", "/hidden1", "/hidden2", "/hidden3"}) {
    INFO(p);
    REQUIRE(pages.count(p) == 1);
    CHECK(pages[p].error == scraper::fetch_error::none);
    CHECK(pages[p].depth == 0);
    CHECK(s.hits_for(p) == 1);
  }
  CHECK(pages.count("/private/x") == 0);
  CHECK(s.hits_for("/private/x") == 0);
  CHECK(s.hits_for("/deeper") == 0);
  CHECK(pages["/hidden1"].lastmod == "2024-05-01");
  CHECK(pages["/hidden2"].lastmod.empty());
  // Sitemap files: each read once, each with a record.
  REQUIRE(sitemaps.size() == 3);
  for (const char* p : {"/sitemap_index.xml", "/s1.xml.gz", "/s2.xml"}) {
    INFO(p);
    CHECK(sitemaps[p].error == scraper::fetch_error::none);
    CHECK(sitemaps[p].status == 200);
    CHECK(s.hits_for(p) == 1);
  }
  CHECK(sitemaps["/sitemap_index.xml"].entries == 3);
  CHECK(sitemaps["/s1.xml.gz"].entries == 4);  // "not a url" skipped
  CHECK(s.hits_for("/sitemap.xml") == 0);      // robots.txt named the sitemaps
  CHECK(stats.sitemaps_fetched == 3);
  CHECK(stats.sitemap_errors == 0);
  // hidden1..3, /linked (max_depth 0: the seed's links are not followed)
  // and /private/x (refused when its turn came); not the seed (seen).
  CHECK(stats.sitemap_urls == 5);
  CHECK(stats.sitemap_skipped == 2);  // "not a url", elsewhere.example
  CHECK(stats.robots_disallowed == 1);
  CHECK(stats.pages == 5);  // sitemap records are not pages
  bool lastmod_line = false, sitemap_line = false;
  for (const auto& l : out.lines) {
    CHECK(valid_json(l));
    lastmod_line = lastmod_line || l.find(R"("lastmod":"2024-05-01")") != std::string::npos;
    sitemap_line = sitemap_line || l.find(R"("sitemap":true)") != std::string::npos;
  }
  CHECK(lastmod_line);
  CHECK(sitemap_line);
  CHECK(scraper::summary_text(stats).find("sitemaps 3 read") != std::string::npos);
  CHECK(scraper::to_json(stats).find(R"("sitemap_urls":5)") != std::string::npos);
}

TEST_CASE("crawler: without Sitemap lines /sitemap.xml is read, and nothing without the option",
          "[scraper][crawler][sitemap]") {
  for (const bool on : {true, false}) {
    scripted_server s;
    s.replies["/robots.txt"] = {404, "", "text/plain"};
    s.replies["/"] = {200, "<title>Home</title>"};
    s.replies["/only-in-sitemap"] = {200, "<title>Found</title>"};
    collected out;
    scraper::crawl_stats stats;
    on_runtime([&]() -> weft::task<void> {
      co_await with_server(s, [&](std::string b) -> weft::task<void> {
        s.set("/sitemap.xml", {200, urlset_of({{b + "/only-in-sitemap", "2020-01-01"}}), "application/xml"});
        auto o = test_crawl(b + "/");
        o.sitemaps = on;
        scraper::crawler c(o, out.sink());
        stats = co_await c.run();
      });
    });
    INFO("sitemaps " << on);
    auto [sitemaps, pages] = split_records(out);
    CHECK(s.hits_for("/sitemap.xml") == (on ? 1 : 0));
    CHECK(s.hits_for("/only-in-sitemap") == (on ? 1 : 0));
    CHECK(pages.size() == (on ? 2u : 1u));
    CHECK(sitemaps.size() == (on ? 1u : 0u));
    CHECK(stats.sitemaps_fetched == (on ? 1u : 0u));
    if (on) CHECK(pages["/only-in-sitemap"].lastmod == "2020-01-01");
  }
}

TEST_CASE("crawler: a robots.txt larger than max_bytes is read in part, by a Range request",
          "[scraper][crawler][robots]") {
  for (const bool ranges : {true, false}) {
    scripted_server s;
    std::string robots = "User-agent: *\nDisallow: /private/\n";
    while (robots.size() < 300 * 1024) robots += "# a very long robots.txt, padded with comments\n";
    s.replies["/robots.txt"] = {200, robots, "text/plain", {}, {}, ranges};
    s.replies["/"] = {200, "<title>Home</title><a href='/private/x'>p</a><a href='/open'>o</a>"};
    s.replies["/open"] = {200, "<title>Open</title>"};
    s.replies["/private/x"] = {200, "<title>Private</title>"};
    collected out;
    scraper::crawl_stats stats;
    on_runtime([&]() -> weft::task<void> {
      co_await with_server(s, [&](std::string b) -> weft::task<void> {
        auto o = test_crawl(b + "/");
        o.max_bytes = 100 * 1024;  // the file is 300 KiB
        scraper::crawler c(o, out.sink());
        stats = co_await c.run();
      });
    });
    INFO("the server " << (ranges ? "answers" : "ignores") << " Range");
    CHECK(s.hits_for("/robots.txt") == 2);  // whole (too large), then its first 100 KiB
    CHECK(s.hits_for("/private/x") == 0);
    if (ranges) {
      REQUIRE(out.records.size() == 2);  // "/" and "/open"
      for (const auto& r : out.records) CHECK(r.error == scraper::fetch_error::none);
      CHECK(stats.robots_disallowed == 1);
    } else {
      // Nothing of it could be read: the origin is unreachable, and says why.
      REQUIRE(out.records.size() == 1);
      CHECK(out.records[0].error == scraper::fetch_error::too_large);
      CHECK(out.records[0].message.find("ignored a Range request for its first 102400 bytes") != std::string::npos);
      CHECK(s.hits_for("/") == 0);
    }
  }
}

TEST_CASE("crawler: a resumed crawl does not read the sitemaps it read before", "[scraper][crawler][sitemap]") {
  scripted_server s;
  s.replies["/robots.txt"] = {404, "", "text/plain"};
  s.replies["/"] = {200, "<title>Home</title>"};
  s.replies["/only-in-sitemap"] = {200, "<title>Found</title>"};
  auto store = std::make_shared<scraper::memory_frontier_store>();
  collected first, second;
  on_runtime([&]() -> weft::task<void> {
    co_await with_server(s, [&](std::string b) -> weft::task<void> {
      s.set("/sitemap.xml", {200, urlset_of({{b + "/only-in-sitemap", ""}}), "application/xml"});
      auto o = test_crawl(b + "/");
      o.sitemaps = true;
      o.state = store;
      {
        scraper::crawler c(o, first.sink());
        co_await c.run();
      }
      scraper::crawler again(o, second.sink());  // the same command, run again: nothing left to do
      co_await again.run();
    });
  });
  auto [sitemaps, pages] = split_records(first);
  CHECK(sitemaps.size() == 1);
  CHECK(pages.size() == 2);
  CHECK(second.records.empty());
  CHECK(s.hits_for("/sitemap.xml") == 1);
  CHECK(s.hits_for("/only-in-sitemap") == 1);
}

TEST_CASE("crawler: broken, missing and too deeply nested sitemaps are reported and the crawl goes on",
          "[scraper][crawler][sitemap]") {
  scripted_server s;
  s.replies["/"] = {200, "<title>Home</title>"};
  s.replies["/p"] = {200, "<title>P</title>"};
  s.replies["/q"] = {200, "<title>Q</title>"};
  collected out;
  scraper::crawl_stats stats;
  on_runtime([&]() -> weft::task<void> {
    co_await with_server(s, [&](std::string b) -> weft::task<void> {
      s.set("/robots.txt", {200,
                            "Sitemap: " + b + "/bad.xml\nSitemap: " + b + "/missing.xml\nSitemap: " + b +
                                "/bomb.xml.gz\nSitemap: " + b + "/n0.xml\nSitemap: " + b + "/moved.xml\nSitemap: " + b +
                                "/ok.xml\nSitemap: http://elsewhere.example/sitemap.xml\n",
                            "text/plain"});
      s.set("/bad.xml", {200, "<urlset><url><loc>" + b + "/never</loc></url>", "application/xml"});
      s.set("/bomb.xml.gz", {200, gzip_of(std::string(60u << 20, ' ')), "application/gzip"});
      s.set("/n0.xml", {200, index_of({b + "/n1.xml"}), "application/xml"});
      s.set("/n1.xml", {200, index_of({b + "/n2.xml"}), "application/xml"});
      s.set("/n2.xml", {200, index_of({b + "/n3.xml"}), "application/xml"});
      s.set("/n3.xml", {200, urlset_of({{b + "/never", ""}}), "application/xml"});
      s.set("/moved.xml", redirect_to("/moved-here.xml", 301));
      s.set("/moved-here.xml", {200, urlset_of({{b + "/q", ""}}), "application/xml"});
      s.set("/ok.xml", {200, urlset_of({{b + "/p", ""}}), "application/xml"});
      auto o = test_crawl(b + "/");
      o.sitemaps = true;
      scraper::crawler c(o, out.sink());
      stats = co_await c.run();
    });
  });
  auto [sitemaps, pages] = split_records(out);
  CHECK(pages.size() == 3);  // /, /p, /q
  CHECK(pages.count("/p") == 1);
  CHECK(pages.count("/q") == 1);
  CHECK(s.hits_for("/never") == 0);
  CHECK(s.hits_for("/n3.xml") == 0);

  CHECK(sitemaps["/bad.xml"].error == scraper::fetch_error::parse_failed);
  CHECK(sitemaps["/bad.xml"].message.find("bad.xml: bad_xml") != std::string::npos);
  CHECK(sitemaps["/missing.xml"].error == scraper::fetch_error::http_4xx);
  CHECK(sitemaps["/missing.xml"].status == 404);
  CHECK(sitemaps["/bomb.xml.gz"].error == scraper::fetch_error::too_large);
  CHECK(sitemaps["/bomb.xml.gz"].message.find("52428800") != std::string::npos);
  CHECK(sitemaps["/n2.xml"].error == scraper::fetch_error::other);
  CHECK(sitemaps["/n2.xml"].message.find("not read") != std::string::npos);
  CHECK(sitemaps["/n1.xml"].error == scraper::fetch_error::none);
  CHECK(sitemaps["/moved.xml"].status == 301);
  CHECK(sitemaps["/moved.xml"].error == scraper::fetch_error::none);
  CHECK(sitemaps["/moved-here.xml"].error == scraper::fetch_error::none);
  CHECK(sitemaps["/ok.xml"].error == scraper::fetch_error::none);
  CHECK(sitemaps["/sitemap.xml"].error == scraper::fetch_error::other);  // elsewhere.example: out of scope
  CHECK(sitemaps["/sitemap.xml"].message.find("another origin") != std::string::npos);
  CHECK(stats.sitemap_errors == 5);    // bad, missing, bomb, n2, elsewhere
  CHECK(stats.sitemaps_fetched == 7);  // bad, bomb, n0, n1, n2, moved-here, ok
  CHECK(stats.sitemap_urls == 2);
  CHECK(stats.pages == 3);
  CHECK(stats.pages_ok == 3);
  for (const auto& l : out.lines) CHECK(valid_json(l));
}

TEST_CASE("crawler: a sitemap bigger than max_bytes is read, its cap is the protocol's 50 MB",
          "[scraper][crawler][sitemap]") {
  scripted_server s;
  s.replies["/robots.txt"] = {404, "", "text/plain"};
  s.replies["/"] = {200, "<title>Home</title>"};
  s.replies["/listed"] = {200, "<title>Listed</title>"};
  collected out;
  scraper::crawl_stats stats;
  on_runtime([&]() -> weft::task<void> {
    co_await with_server(s, [&](std::string b) -> weft::task<void> {
      s.set("/sitemap.xml",
            {200, urlset_of({{b + "/listed", ""}}) + "<!--" + std::string(2u << 20, 'x') + "-->", "application/xml"});
      auto o = test_crawl(b + "/");
      o.sitemaps = true;
      o.max_bytes = 1u << 20;
      scraper::crawler c(o, out.sink());
      stats = co_await c.run();
    });
  });
  auto [sitemaps, pages] = split_records(out);
  CHECK(sitemaps["/sitemap.xml"].error == scraper::fetch_error::none);
  CHECK(sitemaps["/sitemap.xml"].bytes > 2u << 20);
  CHECK(pages.count("/listed") == 1);
  CHECK(stats.sitemap_urls == 1);
}
