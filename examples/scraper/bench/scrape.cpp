// scrape: the scraper's crawl engine (examples/scraper) fetching
// BASE/page/0 .. BASE/page/N-1 from the delaying server of
// ../shared/peers/net (src/delay_httpd.c: every response 10 ms after its
// request, 4096 B of HTML with 5 links), with C fetches in flight and the
// full per-page work on: each body goes to the process pool
// (weft::spawn_process(analyze_page, ...)) for parsing, links and word
// statistics, and each record is turned into its JSON line. The N URLs are
// the seeds at depth 0, so links are extracted but not followed: every
// client of the peer harness fetches the same N URLs and extracts links.
// robots.txt is not fetched (no peer does). scripts/bench-scrape.sh starts
// the server and runs the peers' clients in the same run.
//
//   bench_scrape [--url BASE] [-n N] [-c C] [--per-host P] [--delay-ms D] [--no-parse]
//   -> RESULT weft.scrape pages=10000 ok=10000 failed=0 links=50000 seconds=... pages_per_s=... ideal_ratio=...
//
// ideal = C / D pages per second (10,000/s for 100 in flight and 10 ms).
// Runtime workers and process-pool workers: one per CPU this process may
// run on (the script pins it to one CPU). Exit code 1 if a page failed.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

// page_info travels back from the pool through cereal: its std::string,
// std::vector and std::pair members need cereal's serializers for them.
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "crawler.hpp"
#include "page.hpp"
#include "weft/weft.hpp"

namespace {

unsigned allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return static_cast<unsigned>(std::max(1, CPU_COUNT(&set)));
}

struct result {
  scraper::crawl_stats stats;
  std::uint64_t json_bytes = 0;
};

weft::task<result> crawl(scraper::crawl_options o) {
  // Start the pool's workers before the clock (the peers have no pool).
  (void)co_await weft::spawn_process(scraper::analyze_page, std::string("http://127.0.0.1/"),
                                     std::string("<html><title>warm</title></html>"));
  result r;
  std::uint64_t json = 0;
  scraper::crawler c(std::move(o), [&json](const scraper::page_record& p) { json += scraper::to_json_line(p).size(); });
  r.stats = co_await c.run();
  r.json_bytes = json;
  co_return r;
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: bench_scrape [--url BASE] [-n N] [-c C] [--per-host P] [--delay-ms D] [--no-parse]\n"
               "  defaults: --url http://127.0.0.1:19190 -n 10000 -c 100 --per-host C --delay-ms 10\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = "http://127.0.0.1:19190";
  long pages = 10000, conc = 100, per_host = 0;
  double delay_ms = 10;
  bool parse = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--url") base = value();
    else if (a == "-n") pages = std::atol(value().c_str());
    else if (a == "-c") conc = std::atol(value().c_str());
    else if (a == "--per-host") per_host = std::atol(value().c_str());
    else if (a == "--delay-ms") delay_ms = std::atof(value().c_str());
    else if (a == "--no-parse") parse = false;
    else usage();
  }
  if (pages <= 0 || conc <= 0 || per_host < 0 || delay_ms <= 0) usage();
  while (!base.empty() && base.back() == '/') base.pop_back();

  const unsigned cpus = allowed_cpus();
  const std::string pool_workers = std::to_string(cpus);
  setenv("WEFT_PROCESS_WORKERS", pool_workers.c_str(), 0);

  scraper::crawl_options o;
  o.seeds.reserve(static_cast<std::size_t>(pages));
  for (long i = 0; i < pages; ++i) o.seeds.push_back(base + "/page/" + std::to_string(i));
  o.max_depth = 0;
  o.concurrency = static_cast<std::size_t>(conc);
  o.per_host = static_cast<std::size_t>(per_host ? per_host : conc);
  o.timeout = std::chrono::seconds(10);
  o.retries = 0;
  o.robots = false;
  o.analyze = parse;

  weft::runtime rt({.workers = cpus});
  result r = rt.block_on(crawl(std::move(o)));
  const auto& s = r.stats;
  const double ideal = static_cast<double>(conc) / (delay_ms / 1000.0);
  const std::uint64_t failed = s.pages - s.pages_ok;
  std::printf(
      "RESULT weft.scrape pages=%ld ok=%llu failed=%llu links=%llu parsed=%llu seconds=%.3f pages_per_s=%.0f "
      "ideal_ratio=%.3f json_bytes=%llu workers=%u\n",
      pages, static_cast<unsigned long long>(s.pages_ok), static_cast<unsigned long long>(failed),
      static_cast<unsigned long long>(s.links), static_cast<unsigned long long>(s.parsed), s.seconds,
      static_cast<double>(s.pages_ok) / s.seconds, static_cast<double>(s.pages_ok) / s.seconds / ideal,
      static_cast<unsigned long long>(r.json_bytes), cpus);
  if (!s.errors.empty()) {
    for (const auto& [k, v] : s.errors)
      std::fprintf(stderr, "error %s: %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  }
  return s.pages_ok == static_cast<std::uint64_t>(pages) ? 0 : 1;
}
