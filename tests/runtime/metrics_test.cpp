// weft/runtime/metrics.hpp: worker_metrics::operator+= and
// runtime_metrics::total() over every counter, and the snapshot a runtime
// gives: one entry per worker, tasks spawned and completed, live tasks,
// queue depths, timers fired, parks, and the blocking pool's figures.
// (Stealing, the inject queue and overflows: spawn_test.cpp.) And
// metrics_text: the Prometheus text format, line by line.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft_test::eventually;

namespace {

// Every counter set, to base + its position (1..16).
weft::worker_metrics numbered(std::uint64_t base) {
  weft::worker_metrics m;
  std::uint64_t* fields[] = {&m.tasks_polled,   &m.tasks_spawned,    &m.tasks_completed, &m.tasks_stolen,
                             &m.steal_attempts, &m.steal_operations, &m.parks,           &m.wakeups,
                             &m.inject_pops,    &m.local_overflows,  &m.lifo_polls,      &m.hand_offs,
                             &m.io_completions, &m.timers_fired,     &m.stalls,          &m.local_queue_depth};
  std::uint64_t i = 1;
  for (auto* f : fields) *f = base + i++;
  return m;
}

std::vector<std::uint64_t> counters(const weft::worker_metrics& m) {
  return {m.tasks_polled,   m.tasks_spawned,    m.tasks_completed, m.tasks_stolen,
          m.steal_attempts, m.steal_operations, m.parks,           m.wakeups,
          m.inject_pops,    m.local_overflows,  m.lifo_polls,      m.hand_offs,
          m.io_completions, m.timers_fired,     m.stalls,          m.local_queue_depth};
}

std::vector<std::uint64_t> expected_sum(std::uint64_t base_a, std::uint64_t base_b) {
  std::vector<std::uint64_t> v;
  for (std::uint64_t i = 1; i <= 16; ++i) v.push_back(base_a + i + base_b + i);
  return v;
}

}  // namespace

TEST_CASE("metrics: counters start at zero", "[runtime][metrics]") {
  CHECK(counters(weft::worker_metrics{}) == std::vector<std::uint64_t>(16, 0));
  const weft::runtime_metrics m;
  CHECK(m.workers.empty());
  CHECK(m.inject_queue_depth == 0);
  CHECK(m.live_tasks == 0);
  CHECK(m.blocking_threads == 0);
  CHECK(m.blocking_idle == 0);
  CHECK(m.blocking_queue_depth == 0);
  CHECK(counters(m.total()) == std::vector<std::uint64_t>(16, 0));
}

TEST_CASE("metrics: operator+= adds every counter and returns the left side", "[runtime][metrics]") {
  weft::worker_metrics a = numbered(100);
  const weft::worker_metrics b = numbered(1000);
  weft::worker_metrics& r = (a += b);
  CHECK(&r == &a);
  CHECK(counters(a) == expected_sum(100, 1000));
  CHECK(counters(b) == counters(numbered(1000)));  // the right side is untouched
}

TEST_CASE("metrics: total() sums the workers", "[runtime][metrics]") {
  weft::runtime_metrics m;
  m.workers = {numbered(0), numbered(10), numbered(200)};
  m.inject_queue_depth = 7;  // not a worker counter: not in the total
  std::vector<std::uint64_t> want;
  for (std::uint64_t i = 1; i <= 16; ++i) want.push_back(3 * i + 210);
  CHECK(counters(m.total()) == want);
  m.workers.resize(1);
  CHECK(counters(m.total()) == counters(numbered(0)));
}

TEST_CASE("metrics: a runtime's snapshot has one entry per worker", "[runtime][metrics]") {
  weft::runtime rt{{.workers = 3}};
  const auto m = rt.metrics();
  CHECK(m.workers.size() == 3);
  CHECK(m.workers.size() == rt.worker_count());
  // Nothing spawned yet, and the pool starts no thread before its first job.
  CHECK(m.live_tasks == 0);
  CHECK(m.total().tasks_spawned == 0);
  CHECK(m.total().tasks_completed == 0);
  CHECK(m.blocking_threads == 0);
  CHECK(m.blocking_idle == 0);
  CHECK(m.blocking_queue_depth == 0);
}

TEST_CASE("metrics: spawned, completed and live tasks", "[runtime][metrics]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([](weft::runtime& rt) -> task<void> {
    weft::event go;
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 10; ++i)
      hs.push_back(weft::spawn([](weft::event& go) -> task<void> { co_await go.wait(); }(go)));
    // On the one worker, nothing ran yet: the ten wait in its local queue.
    auto queued = rt.metrics();
    CHECK(queued.workers[0].tasks_spawned == 10);
    CHECK(queued.workers[0].local_queue_depth == 10);
    CHECK(queued.live_tasks == 11);  // the ten and this one (spawned from outside: block_on)
    go.set();
    co_await weft::yield_now();  // behind the ten: they run (from the queue) first
    for (auto& h : hs) {
      CHECK(h.is_finished());
      co_await h;
    }
  }(rt));
  // The last task to finish (block_on's) may be counted just after
  // block_on returns.
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (rt.metrics().live_tasks != 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  const auto m = rt.metrics();
  CHECK(m.live_tasks == 0);
  CHECK(m.total().tasks_spawned == 10);
  CHECK(m.total().tasks_completed == 11);
  CHECK(m.total().tasks_polled >= 11);
  CHECK(m.workers[0].local_queue_depth == 0);
  CHECK(m.inject_queue_depth == 0);
}

TEST_CASE("metrics: the inject queue's depth while the one worker is busy", "[runtime][metrics]") {
  weft::runtime rt{{.workers = 1}};
  std::atomic<bool> busy{false}, release{false};
  // Holds the one worker without suspending until released.
  auto spinner = rt.spawn([](std::atomic<bool>& busy, std::atomic<bool>& release) -> task<void> {
    busy = true;
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!release && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    co_return;
  }(busy, release));
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (!busy && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  REQUIRE(busy.load());
  std::vector<weft::join_handle<int>> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(rt.spawn(weft_test::square(i)));
  const auto m = rt.metrics();
  release = true;
  CHECK(m.inject_queue_depth == 3);
  CHECK(m.live_tasks == 4);
  int sum = rt.block_on([](weft::join_handle<void> s, std::vector<weft::join_handle<int>>& hs) -> task<int> {
    co_await s;
    int sum = 0;
    for (auto& h : hs) sum += co_await h;
    co_return sum;
  }(std::move(spinner), hs));
  CHECK(sum == 0 + 1 + 4);
  CHECK(rt.metrics().inject_queue_depth == 0);
  CHECK(rt.metrics().total().inject_pops >= 4);
}

TEST_CASE("metrics: timers fired and parks", "[runtime][metrics]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    for (int i = 0; i < 5; ++i) co_await weft::sleep_for(1ms);
  }());
  const auto m = rt.metrics();
  CHECK(m.workers[0].timers_fired == 5);
  // Nothing else to run while each sleep lasted: the worker slept in its driver.
  CHECK(m.workers[0].parks >= 1);
}

TEST_CASE("metrics: the blocking pool's threads, idle threads and queue", "[runtime][metrics]") {
  weft::runtime rt{{.workers = 1, .max_blocking_threads = 1}};
  std::atomic<bool> started{false}, release{false};
  rt.block_on([&]() -> task<void> {
    weft::runtime& r = *weft::runtime::current();
    auto first = weft::spawn_blocking([&] {
      started = true;
      const auto give_up = std::chrono::steady_clock::now() + 10s;
      while (!release && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(100us);
    });
    bool running = co_await eventually([&] { return started.load(); });
    REQUIRE(running);
    auto second = weft::spawn_blocking([] { return 2; });
    bool queued = co_await eventually([&] { return r.metrics().blocking_queue_depth == 1; });
    REQUIRE(queued);
    const auto busy = r.metrics();
    CHECK(busy.blocking_threads == 1);
    CHECK(busy.blocking_idle == 0);
    release = true;
    co_await first;
    int v = co_await second;
    CHECK(v == 2);
    bool idle = co_await eventually([&] { return r.metrics().blocking_idle == 1; });
    CHECK(idle);
    const auto after = r.metrics();
    CHECK(after.blocking_threads == 1);
    CHECK(after.blocking_queue_depth == 0);
  }());
}

namespace {

/// The Prometheus text format's lines, checked as a scraper would read them:
/// every sample's metric has a TYPE before it, counters end in _total, and
/// each sample line is `name{labels} value` or `name value`. Returns the
/// samples, "name{labels}" -> value.
std::map<std::string, std::uint64_t> parse_exposition(const std::string& text) {
  std::map<std::string, std::uint64_t> samples;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::istringstream in(text);
  std::string line;
  const std::regex help_re(R"(# HELP (weft_[a-z_]+) \S.*)");
  const std::regex type_re(R"(# TYPE (weft_[a-z_]+) (counter|gauge))");
  const std::regex sample_re(R"re((weft_[a-z_]+)(\{worker="(\d+)"\})? (\d+))re");
  std::smatch mt;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  while (std::getline(in, line)) {
    INFO(line);
    if (std::regex_match(line, mt, help_re)) {
      CHECK(helped.insert(mt[1]).second);  // one HELP per metric
    } else if (std::regex_match(line, mt, type_re)) {
      CHECK(helped.count(mt[1]) == 1);  // HELP comes first
      CHECK(types.emplace(mt[1], mt[2]).second);
      if (mt[2] == "counter") CHECK(std::string(mt[1]).ends_with("_total"));
    } else if (std::regex_match(line, mt, sample_re)) {
      CHECK(types.count(mt[1]) == 1);  // declared before its samples
      CHECK(samples.emplace(std::string(mt[1]) + std::string(mt[2]), std::stoull(mt[4])).second);
    } else {
      FAIL("not a line of the Prometheus text format");
    }
  }
  return samples;
}

}  // namespace

TEST_CASE("metrics: metrics_text renders every figure in the Prometheus text format", "[runtime][metrics]") {
  weft::runtime_metrics m;
  m.workers = {numbered(0), numbered(100)};
  m.inject_queue_depth = 21;
  m.live_tasks = 22;
  m.blocking_threads = 23;
  m.blocking_idle = 24;
  m.blocking_queue_depth = 25;
  const auto s = parse_exposition(weft::metrics_text(m));
  CHECK(s.at("weft_workers") == 2);
  // The counters in worker_metrics' order (numbered() gives them base + 1..16).
  const char* names[] = {"tasks_polled",     "tasks_spawned", "tasks_completed", "tasks_stolen", "steal_attempts",
                         "steal_operations", "parks",         "wakeups",         "inject_pops",  "local_overflows",
                         "lifo_polls",       "hand_offs",     "io_completions",  "timers_fired"};
  for (std::uint64_t w = 0; w < 2; ++w) {
    std::uint64_t i = 1;
    for (const char* n : names) {
      const std::string key = fmt::format("weft_{}_total{{worker=\"{}\"}}", n, w);
      INFO(key);
      CHECK(s.at(key) == 100 * w + i++);
    }
    CHECK(s.at(fmt::format("weft_local_queue_depth{{worker=\"{}\"}}", w)) == 100 * w + 16);
  }
  CHECK(s.at("weft_inject_queue_depth") == 21);
  CHECK(s.at("weft_live_tasks") == 22);
  CHECK(s.at("weft_blocking_threads") == 23);
  CHECK(s.at("weft_blocking_idle") == 24);
  CHECK(s.at("weft_blocking_queue_depth") == 25);
  CHECK(s.size() == 1 + 2 * 16 + 5);  // nothing else
}

TEST_CASE("metrics: metrics_text of a running runtime counts its tasks", "[runtime][metrics]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on([]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 100; ++i) hs.push_back(weft::spawn([]() -> task<void> { co_return; }()));
    for (auto& h : hs) co_await h;
  }());
  const auto s = parse_exposition(weft::metrics_text(rt));
  CHECK(s.at("weft_workers") == 2);
  CHECK(s.at("weft_tasks_completed_total{worker=\"0\"}") + s.at("weft_tasks_completed_total{worker=\"1\"}") >= 100);
}
