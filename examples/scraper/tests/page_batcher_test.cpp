// scraper::page_batcher: each awaiter gets its own page's result, pages
// gather while the pool is busy, batch caps, a page that throws, crashes or
// hangs fails alone, cancellation before and after a batch is sent, close(),
// the timer and off rules, and batches sent through a submit function
// instead of the process pool (the --cluster mode's hook).
//
// The analysis injected here (test_analyze, through the options'
// `function`) recognizes URLs that tell it to misbehave; production uses
// scraper::analyze_batch, which has no such hook. A "gate" page waits in
// its worker until a file (its body names it) exists: the test holds the
// pool busy with it for as long as it needs to queue pages behind it, so
// which pages share a batch does not depend on timing.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "page_batcher.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using scraper::page_batcher;
using scraper::page_batcher_options;
using scraper::page_batcher_stats;
using scraper::page_info;

namespace {

page_info test_analyze(const scraper::page_job& job) {
  if (job.url.find("/gate") != std::string::npos) {
    for (int i = 0; i < 30000 && ::access(job.body.c_str(), F_OK) != 0; ++i) std::this_thread::sleep_for(1ms);
    page_info p;
    p.title = "gate";
    return p;
  }
  if (job.url.find("/crash") != std::string::npos) std::_Exit(3);
  if (job.url.find("/hang") != std::string::npos) std::this_thread::sleep_for(60s);
  if (job.url.find("/throw") != std::string::npos) throw std::out_of_range("cannot parse " + job.url);
  return scraper::analyze_job(job);
}

constexpr scraper::batch_function test_batch = &scraper::analyze_batch_using<&test_analyze>;

/// A file a gate page waits for; open() creates it.
struct gate {
  std::string path;
  gate() {
    static int n = 0;
    path = "/tmp/weft-batcher-gate-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    std::remove(path.c_str());
  }
  ~gate() { std::remove(path.c_str()); }
  void open() const { std::ofstream(path) << "open"; }
};

std::string page(const std::string& title) {
  return "<html><head><title>" + title + "</title></head><body>x</body></html>";
}

/// Waits (up to 30 s) until pred(stats) holds.
template <class P>
weft::task<bool> wait_for(const page_batcher& b, P pred) {
  for (int i = 0; i < 30000; ++i) {
    if (pred(b.stats())) co_return true;
    co_await weft::sleep_for(1ms);
  }
  co_return false;
}

template <class F>
void on_runtime(F fn) {
  weft::runtime rt({.workers = 2});
  rt.block_on(fn());
}

page_batcher_options test_options(weft::ipc::process_pool& pool) {
  page_batcher_options o;
  o.pool = &pool;
  o.function = test_batch;
  o.max_in_flight = 1;
  return o;
}

weft::task<page_info> analyze(page_batcher& b, std::string url, std::string body) {
  return b.analyze(std::move(url), std::move(body), scraper::page_rules{});
}

}  // namespace

TEST_CASE("page_batcher: concurrent pages each get their own result", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    page_batcher b;  // the default: adaptive rule, production analysis
    page_batcher_options o;
    o.pool = &pool;
    page_batcher pb(o);
    std::vector<weft::join_handle<page_info>> hs;
    for (int i = 0; i < 60; ++i)
      hs.push_back(weft::spawn(pb.analyze("http://h/p" + std::to_string(i), page("t" + std::to_string(i)), {})));
    for (int i = 0; i < 60; ++i) {
      page_info p = co_await hs[static_cast<std::size_t>(i)];
      CHECK(p.title == "t" + std::to_string(i));
    }
    const page_batcher_stats s = pb.stats();
    CHECK(s.pages == 60);
    CHECK(s.sent == 60);
    CHECK(s.batches <= 60);
    CHECK(s.largest <= 16);
    CHECK(s.retried == 0);
    co_await pb.close();
    co_await b.close();
  });
}

TEST_CASE("page_batcher: pages gather while the pool is busy and leave in one batch", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    page_batcher b(test_options(pool));
    gate g;
    auto first = weft::spawn(analyze(b, "http://h/gate", g.path));
    const bool busy = co_await wait_for(b, [](const page_batcher_stats& s) { return s.in_flight == 1; });
    REQUIRE(busy);
    scraper::page_rules rules;
    rules.fields.push_back(scraper::xpath_rule("heading=//h1"));
    std::vector<weft::join_handle<page_info>> hs;
    for (int i = 0; i < 5; ++i)
      hs.push_back(
          weft::spawn(b.analyze("http://h/p" + std::to_string(i), "<h1>h" + std::to_string(i) + "</h1>", rules)));
    const bool gathered = co_await wait_for(b, [](const page_batcher_stats& s) { return s.pending == 5; });
    REQUIRE(gathered);
    g.open();
    page_info f = co_await first;
    CHECK(f.title == "gate");
    for (int i = 0; i < 5; ++i) {
      page_info p = co_await hs[static_cast<std::size_t>(i)];
      REQUIRE(p.fields.size() == 1);
      CHECK(p.fields[0].first == "heading");
      CHECK(p.fields[0].second == std::vector<std::string>{"h" + std::to_string(i)});
    }
    const page_batcher_stats s = b.stats();
    CHECK(s.batches == 2);  // the gate alone, then the five together
    CHECK(s.largest == 5);
    co_await b.close();
  });
}

TEST_CASE("page_batcher: a batch holds at most max_pages pages and max_bytes of bodies", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    for (const bool by_bytes : {false, true}) {
      page_batcher_options o = test_options(pool);
      if (by_bytes) o.max_bytes = 10;  // every page is larger: each goes alone
      else o.max_pages = 2;
      page_batcher b(o);
      gate g;
      auto first = weft::spawn(analyze(b, "http://h/gate", g.path));
      const bool busy = co_await wait_for(b, [](const page_batcher_stats& s) { return s.in_flight == 1; });
      REQUIRE(busy);
      std::vector<weft::join_handle<page_info>> hs;
      for (int i = 0; i < 5; ++i)
        hs.push_back(weft::spawn(analyze(b, "http://h/p" + std::to_string(i), page("t" + std::to_string(i)))));
      g.open();
      (void)co_await first;
      for (int i = 0; i < 5; ++i) {
        page_info p = co_await hs[static_cast<std::size_t>(i)];
        CHECK(p.title == "t" + std::to_string(i));
      }
      const page_batcher_stats s = b.stats();
      CHECK(s.sent == 6);
      CHECK(s.largest == (by_bytes ? 1u : 2u));
      co_await b.close();
    }
  });
}

TEST_CASE("page_batcher: a page that throws fails alone, the batch is not retried", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    page_batcher b(test_options(pool));
    gate g;
    auto first = weft::spawn(analyze(b, "http://h/gate", g.path));
    const bool busy = co_await wait_for(b, [](const page_batcher_stats& s) { return s.in_flight == 1; });
    REQUIRE(busy);
    auto a = weft::spawn(analyze(b, "http://h/a", page("a")));
    auto bad = weft::spawn(analyze(b, "http://h/throw", page("bad")));
    auto c = weft::spawn(analyze(b, "http://h/c", page("c")));
    const bool gathered = co_await wait_for(b, [](const page_batcher_stats& s) { return s.pending == 3; });
    REQUIRE(gathered);
    g.open();
    (void)co_await first;
    page_info pa = co_await a;
    page_info pc = co_await c;
    CHECK(pa.title == "a");
    CHECK(pc.title == "c");
    std::string type, message;
    try {
      (void)co_await bad;
    } catch (const weft::ipc::remote_error& e) {
      type = e.type_name();
      message = e.message();
    }
    CHECK(type == "std::out_of_range");
    CHECK(message == "cannot parse http://h/throw");
    const page_batcher_stats s = b.stats();
    CHECK(s.batches == 2);
    CHECK(s.retried == 0);
    co_await b.close();
  });
}

TEST_CASE("page_batcher: a page that crashes its worker fails alone, the others are retried one by one",
          "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    page_batcher b(test_options(pool));
    gate g;
    auto first = weft::spawn(analyze(b, "http://h/gate", g.path));
    const bool busy = co_await wait_for(b, [](const page_batcher_stats& s) { return s.in_flight == 1; });
    REQUIRE(busy);
    auto a = weft::spawn(analyze(b, "http://h/a", page("a")));
    auto bad = weft::spawn(analyze(b, "http://h/crash", page("bad")));
    auto c = weft::spawn(analyze(b, "http://h/c", page("c")));
    const bool gathered = co_await wait_for(b, [](const page_batcher_stats& s) { return s.pending == 3; });
    REQUIRE(gathered);
    g.open();
    (void)co_await first;
    page_info pa = co_await a;
    page_info pc = co_await c;
    CHECK(pa.title == "a");
    CHECK(pc.title == "c");
    bool crashed = false;
    int exit_code = 0;
    try {
      (void)co_await bad;
    } catch (const weft::ipc::worker_crashed& e) {
      crashed = true;
      exit_code = e.exit_code();
    }
    CHECK(crashed);
    CHECK(exit_code == 3);
    const page_batcher_stats s = b.stats();
    CHECK(s.retried == 3);
    // The batcher goes on after the crash.
    page_info after = co_await analyze(b, "http://h/after", page("after"));
    CHECK(after.title == "after");
    co_await b.close();
  });
}

TEST_CASE("page_batcher: a page that hangs past the pool's timeout fails alone", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2, .task_timeout = 1s});
    page_batcher_options o = test_options(pool);
    page_batcher b(o);
    gate g;
    g.open();  // the gate page returns at once: only the three below share a batch
    auto first = weft::spawn(analyze(b, "http://h/gate", g.path));
    auto a = weft::spawn(analyze(b, "http://h/a", page("a")));
    auto bad = weft::spawn(analyze(b, "http://h/hang", page("bad")));
    auto c = weft::spawn(analyze(b, "http://h/c", page("c")));
    (void)co_await first;
    page_info pa = co_await a;
    page_info pc = co_await c;
    CHECK(pa.title == "a");
    CHECK(pc.title == "c");
    bool timed_out = false;
    try {
      (void)co_await bad;
    } catch (const weft::timeout_error&) {
      timed_out = true;
    }
    CHECK(timed_out);
    co_await b.close();
  });
}

TEST_CASE("page_batcher: a cancelled page not yet sent is dropped from its batch", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    page_batcher b(test_options(pool));
    gate g;
    auto first = weft::spawn(analyze(b, "http://h/gate", g.path));
    const bool busy = co_await wait_for(b, [](const page_batcher_stats& s) { return s.in_flight == 1; });
    REQUIRE(busy);
    auto dropped = weft::spawn(analyze(b, "http://h/dropped", page("dropped")));
    auto kept = weft::spawn(analyze(b, "http://h/kept", page("kept")));
    const bool gathered = co_await wait_for(b, [](const page_batcher_stats& s) { return s.pending == 2; });
    REQUIRE(gathered);
    dropped.cancel();
    bool cancelled = false;
    try {
      (void)co_await dropped;
    } catch (const weft::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    page_batcher_stats s = b.stats();
    CHECK(s.pending == 1);
    CHECK(s.dropped == 1);
    g.open();
    (void)co_await first;
    page_info p = co_await kept;
    CHECK(p.title == "kept");
    s = b.stats();
    CHECK(s.sent == 2);  // the gate, then "kept" alone
    CHECK(s.batches == 2);
    CHECK(s.discarded == 0);
    co_await b.close();
  });
}

TEST_CASE("page_batcher: a cancelled page already sent has its result discarded", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    page_batcher b(test_options(pool));
    gate g1, g2;
    auto first = weft::spawn(analyze(b, "http://h/gate1", g1.path));
    const bool busy = co_await wait_for(b, [](const page_batcher_stats& s) { return s.in_flight == 1; });
    REQUIRE(busy);
    auto gone = weft::spawn(analyze(b, "http://h/gate2", g2.path));  // sent with "kept", then waits for g2
    auto kept = weft::spawn(analyze(b, "http://h/kept", page("kept")));
    const bool gathered = co_await wait_for(b, [](const page_batcher_stats& s) { return s.pending == 2; });
    REQUIRE(gathered);
    g1.open();
    (void)co_await first;
    const bool sent =
        co_await wait_for(b, [](const page_batcher_stats& s) { return s.batches == 2 && s.pending == 0; });
    REQUIRE(sent);
    gone.cancel();
    bool cancelled = false;
    try {
      (void)co_await gone;
    } catch (const weft::operation_cancelled&) {
      cancelled = true;
    }
    CHECK(cancelled);
    g2.open();
    page_info p = co_await kept;
    CHECK(p.title == "kept");
    const page_batcher_stats s = b.stats();
    CHECK(s.discarded == 1);
    CHECK(s.dropped == 0);
    CHECK(s.retried == 0);
    co_await b.close();
  });
}

TEST_CASE("page_batcher: close cancels unsent pages and refuses new ones", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    page_batcher b(test_options(pool));
    gate g;
    auto first = weft::spawn(analyze(b, "http://h/gate", g.path));
    const bool busy = co_await wait_for(b, [](const page_batcher_stats& s) { return s.in_flight == 1; });
    REQUIRE(busy);
    auto waiting = weft::spawn(analyze(b, "http://h/waiting", page("waiting")));
    const bool gathered = co_await wait_for(b, [](const page_batcher_stats& s) { return s.pending == 1; });
    REQUIRE(gathered);
    co_await b.close();  // cancels the gate page's pool call too: it never opens
    int cancelled = 0;
    try {
      (void)co_await first;
    } catch (const weft::operation_cancelled&) {
      ++cancelled;
    }
    try {
      (void)co_await waiting;
    } catch (const weft::operation_cancelled&) {
      ++cancelled;
    }
    CHECK(cancelled == 2);
    std::string refused;
    try {
      (void)co_await analyze(b, "http://h/late", page("late"));
    } catch (const std::logic_error& e) {
      refused = e.what();
    }
    CHECK(refused == "page_batcher: analyze() after close()");
  });
}

TEST_CASE("page_batcher: the timer and off rules give every page its result", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    weft::ipc::process_pool pool({.workers = 2});
    for (const auto rule : {scraper::batch_rule::timer, scraper::batch_rule::off}) {
      page_batcher_options o;
      o.pool = &pool;
      o.rule = rule;
      o.window = 2ms;
      page_batcher b(o);
      std::vector<weft::join_handle<page_info>> hs;
      for (int i = 0; i < 20; ++i)
        hs.push_back(weft::spawn(analyze(b, "http://h/p" + std::to_string(i), page("t" + std::to_string(i)))));
      for (int i = 0; i < 20; ++i) {
        page_info p = co_await hs[static_cast<std::size_t>(i)];
        CHECK(p.title == "t" + std::to_string(i));
      }
      const page_batcher_stats s = b.stats();
      CHECK(s.sent == 20);
      if (rule == scraper::batch_rule::off) CHECK(s.batches == 20);
      co_await b.close();
    }
  });
}

TEST_CASE("page_batcher: batch rules are named adaptive, timer or off", "[scraper][page_batcher]") {
  CHECK(scraper::parse_batch_rule("adaptive") == scraper::batch_rule::adaptive);
  CHECK(scraper::parse_batch_rule("timer") == scraper::batch_rule::timer);
  CHECK(scraper::parse_batch_rule("off") == scraper::batch_rule::off);
  CHECK_THROWS_WITH(scraper::parse_batch_rule("nagle"), "batch rule must be adaptive, timer or off, not 'nagle'");
}

namespace {

/// A stand-in for the cluster: runs each batch in this process (on the
/// blocking pool), marks every title so that the test sees where it was
/// analyzed, and records the size of each batch it was given. A batch
/// holding a "/gate" page waits for `gate` first; one holding a "/crash"
/// page with others fails as a whole with worker_crashed, as a pool call
/// whose worker died would (alone, the crash page fails with it too).
struct fake_cluster {
  std::shared_ptr<weft::event> gate = std::make_shared<weft::event>(false);
  std::shared_ptr<std::vector<std::size_t>> sizes = std::make_shared<std::vector<std::size_t>>();
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();

  static weft::task<std::vector<scraper::page_outcome>> run(std::shared_ptr<weft::event> gate,
                                                            std::vector<scraper::page_job> jobs) {
    bool has_gate = false, has_crash = false;
    for (const auto& j : jobs) {
      has_gate = has_gate || j.url.find("/gate") != std::string::npos;
      has_crash = has_crash || j.url.find("/crash") != std::string::npos;
    }
    if (has_gate) co_await gate->wait();
    if (has_crash) throw weft::ipc::worker_crashed(4242, 3 << 8);
    auto analyze_all = [&jobs] { return scraper::analyze_batch(std::move(jobs)); };
    std::vector<scraper::page_outcome> out = co_await weft::spawn_blocking(analyze_all);
    for (auto& o : out) o.info.title = "fake:" + o.info.title;
    co_return out;
  }

  scraper::batch_submit submit() const {
    return [gate = gate, sizes = sizes, mu = mu](std::vector<scraper::page_job> jobs) {
      {
        std::lock_guard g(*mu);
        sizes->push_back(jobs.size());
      }
      return weft::spawn(run(gate, std::move(jobs)));
    };
  }

  std::vector<std::size_t> batch_sizes() const {
    std::lock_guard g(*mu);
    return *sizes;
  }
};

}  // namespace

TEST_CASE("page_batcher: a submit function takes the batches instead of the process pool", "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    fake_cluster cluster;
    page_batcher_options o;
    o.submit = cluster.submit();
    o.submit_workers = 2;
    o.max_pages = 4;
    page_batcher b(o);
    scraper::page_rules rules;
    rules.fields.push_back(scraper::xpath_rule("heading=//h1"));
    std::vector<weft::join_handle<page_info>> hs;
    for (int i = 0; i < 40; ++i)
      hs.push_back(weft::spawn(
          b.analyze("http://h/p" + std::to_string(i), page("t" + std::to_string(i)) + "<h1>x</h1>", rules)));
    for (int i = 0; i < 40; ++i) {
      page_info p = co_await hs[static_cast<std::size_t>(i)];
      CHECK(p.title == "fake:t" + std::to_string(i));
      REQUIRE(p.fields.size() == 1);  // the rules travelled with the page
      CHECK(p.fields[0].second == std::vector<std::string>{"x"});
    }
    const page_batcher_stats s = b.stats();
    const std::vector<std::size_t> sizes = cluster.batch_sizes();
    std::size_t pages = 0;
    for (std::size_t n : sizes) {
      CHECK(n >= 1);
      CHECK(n <= 4);
      pages += n;
    }
    CHECK(pages == 40);
    CHECK(sizes.size() == s.batches);
    CHECK(s.sent == 40);
    CHECK(s.retried == 0);
    co_await b.close();
  });
}

TEST_CASE("page_batcher: a batch failing as a whole through submit is sent again page by page through it",
          "[scraper][page_batcher]") {
  on_runtime([]() -> weft::task<void> {
    fake_cluster cluster;
    page_batcher_options o;
    o.submit = cluster.submit();
    o.submit_workers = 1;  // one batch out at a time: the gate holds the others back
    page_batcher b(o);
    auto first = weft::spawn(analyze(b, "http://h/gate", page("gate")));
    const bool busy = co_await wait_for(b, [](const page_batcher_stats& s) { return s.in_flight == 1; });
    REQUIRE(busy);
    auto a = weft::spawn(analyze(b, "http://h/a", page("a")));
    auto crash = weft::spawn(analyze(b, "http://h/crash", page("crash")));
    auto c = weft::spawn(analyze(b, "http://h/c", page("c")));
    const bool gathered = co_await wait_for(b, [](const page_batcher_stats& s) { return s.pending == 3; });
    REQUIRE(gathered);
    cluster.gate->set();
    page_info g = co_await first;
    CHECK(g.title == "fake:gate");
    page_info pa = co_await a;
    CHECK(pa.title == "fake:a");
    page_info pc = co_await c;
    CHECK(pc.title == "fake:c");
    std::string crashed;
    try {
      (void)co_await crash;
    } catch (const weft::ipc::worker_crashed& e) {
      crashed = e.what();
    }
    CHECK(!crashed.empty());
    const page_batcher_stats s = b.stats();
    CHECK(s.batches == 2);  // the gate alone, then the three together
    CHECK(s.retried == 3);  // then each of the three alone
    CHECK(cluster.batch_sizes() == std::vector<std::size_t>{1, 3, 1, 1, 1});
    co_await b.close();
  });
}
