// scraper: a web crawler on weft. Fetches pages with weft::http::client,
// parses HTML in the process pool (weft::spawn_process), writes one JSON
// object per fetched URL, and ends with a summary and optional statistics.
//
//   scraper                                   crawl the built-in demo site
//   scraper https://example.org/ --max-pages 200 --output pages.jsonl --stats stats.json
//   scraper --seeds urls.txt --all-hosts --max-depth 1 --delay 500
//   scraper --quick                           small demo crawl that checks itself (exit 0/1)
//
// Ctrl-C (SIGINT) or SIGTERM stops scheduling, cancels the fetches in flight,
// flushes what was written and prints the summary; the exit code is then
// 128 + the signal number.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "../common/server_cli.hpp"
#include "crawler.hpp"
#include "demo_check.hpp"
#include "demo_site.hpp"
#include "weft/weft.hpp"

namespace {

constexpr const char* usage =
    "usage: scraper [URL] [options]\n"
    "  URL                  start URL (http or https); without URL and --seeds the built-in\n"
    "                       demo site is started on 127.0.0.1 and crawled\n"
    "  --seeds FILE         start URLs, one a line ('#' comments)\n"
    "  --max-pages N        fetch at most N pages (0 = no limit, default 0)\n"
    "  --max-depth N        follow links up to N hops from a seed (-1 = no limit, default -1)\n"
    "  --concurrency N      fetches in flight in total (default 64)\n"
    "  --per-host N         connections per host (default 8)\n"
    "  --delay MS           minimum gap between requests to one host; robots.txt Crawl-delay\n"
    "                       wins when larger (default 0)\n"
    "  --same-host          follow links only to the seeds' hosts (default)\n"
    "  --all-hosts          follow links to any host\n"
    "  --timeout MS         per request attempt (default 10000; 1000 for the demo site)\n"
    "  --retries N          retries on timeouts, connection errors, 5xx and 429 (default 2)\n"
    "  --backoff MS         first retry's backoff ceiling, doubling, full jitter (default 100)\n"
    "  --ignore-robots      do not fetch or obey robots.txt\n"
    "  --user-agent S       User-Agent, also the robots.txt token (default weft-scraper/0.1)\n"
    "  --output FILE        JSON Lines output (default stdout)\n"
    "  --stats FILE         end-of-run statistics as JSON\n"
    "  --quiet              no progress line and no summary\n"
    "  --demo-pages N       pages of the demo site (default 2000)\n"
    "  --quick              small demo crawl that checks its results (exit 0 or 1)\n"
    "  --workers N          worker threads, 0 = one per core (default 0)\n"
    "  --io uring|epoll|auto  I/O driver (default auto)\n";

struct cli {
  std::vector<std::string> seeds;
  bool demo = false;
  bool quick = false;
  bool quiet = false;
  std::size_t demo_pages = 2000;
  std::string output, stats;
  scraper::crawl_options crawl;
  weft::runtime_options runtime;
};

constexpr std::string_view boolean_flags[] = {"--same-host", "--all-hosts", "--ignore-robots", "--quiet", "--quick"};

/// Splits off the positional URL (cli_args takes flags only).
std::vector<char*> without_positional(int argc, char** argv, std::optional<std::string>& url) {
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.size() >= 2 && a.substr(0, 2) == "--") {
      rest.push_back(argv[i]);
      bool boolean = a.find('=') != std::string_view::npos || a == "--help";
      for (auto b : boolean_flags) boolean = boolean || a == b;
      if (!boolean && i + 1 < argc) rest.push_back(argv[++i]);
    } else if (a == "-h") {
      rest.push_back(argv[i]);
    } else {
      if (url) throw example::usage_error("more than one URL given ('" + *url + "', '" + std::string(a) + "')");
      url = std::string(a);
    }
  }
  return rest;
}

std::vector<std::string> read_seeds(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw example::usage_error("--seeds: cannot open '" + path + "': " + std::strerror(errno));
  std::vector<std::string> seeds;
  std::string line;
  while (std::getline(in, line)) {
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    auto e = line.find_last_not_of(" \t\r");
    seeds.push_back(line.substr(b, e - b + 1));
  }
  if (seeds.empty()) throw example::usage_error("--seeds: '" + path + "' lists no URL");
  return seeds;
}

cli parse(int argc, char** argv, bool& help) {
  std::optional<std::string> url;
  auto rest = without_positional(argc, argv, url);
  example::cli_args args(static_cast<int>(rest.size()), rest.data(),
                         {boolean_flags[0], boolean_flags[1], boolean_flags[2], boolean_flags[3], boolean_flags[4]});
  help = args.help();
  cli c;
  if (url) c.seeds.push_back(*url);
  if (auto f = args.take("--seeds")) {
    auto more = read_seeds(*f);
    c.seeds.insert(c.seeds.end(), more.begin(), more.end());
  }
  c.quick = args.take_flag("--quick");
  c.demo = c.seeds.empty();
  c.crawl.seeds = c.seeds;  // the demo's seed is set once its site is up (run())
  if (c.quick && !c.demo) throw example::usage_error("--quick crawls the demo site: give no URL");
  auto& o = c.crawl;
  o.max_pages = args.take_int<std::size_t>("--max-pages", 0, 0, 1'000'000'000);
  o.max_depth = args.take_int<int>("--max-depth", -1, -1, 1'000'000);
  o.concurrency = args.take_int<std::size_t>("--concurrency", 64, 1, 100'000);
  o.per_host = args.take_int<std::size_t>("--per-host", 8, 1, 100'000);
  o.delay = std::chrono::milliseconds(args.take_int<long>("--delay", 0, 0, 3'600'000));
  const bool same = args.take_flag("--same-host");
  const bool all = args.take_flag("--all-hosts");
  if (same && all) throw example::usage_error("--same-host and --all-hosts contradict each other");
  o.same_host = !all;
  // The demo's slow page must time out quickly; --quick, a test that may
  // run on a loaded machine, leaves ordinary pages more room.
  const long default_timeout = c.quick ? 2000 : c.demo ? 1000 : 10000;
  o.timeout = std::chrono::milliseconds(args.take_int<long>("--timeout", default_timeout, 1, 3'600'000));
  o.retries = args.take_int<int>("--retries", 2, 0, 100);
  o.backoff_base = std::chrono::milliseconds(args.take_int<long>("--backoff", 100, 0, 3'600'000));
  o.robots = !args.take_flag("--ignore-robots");
  if (auto ua = args.take("--user-agent")) {
    if (ua->empty()) throw example::usage_error("--user-agent must not be empty");
    o.user_agent = *ua;
  }
  c.output = args.take("--output").value_or("");
  c.stats = args.take("--stats").value_or("");
  c.quiet = args.take_flag("--quiet");
  c.demo_pages = args.take_int<std::size_t>("--demo-pages", c.quick ? 300 : 2000, 10, 1'000'000);
  c.runtime.workers = args.take_int<unsigned>("--workers", 0, 0, 4096);
  if (auto io = args.take("--io")) c.runtime.io = example::parse_backend(*io);
  args.finish();
  if (c.quick) c.quiet = true;
  return c;
}

/// The live line on stderr: redrawn in place, at most 10 times a second.
weft::task<void> show_progress(const scraper::crawler& c) {
  weft::interval tick{std::chrono::milliseconds(100)};
  for (;;) {
    co_await tick.next();
    auto p = c.progress();
    std::fprintf(stderr, "\r\x1b[K%llu pages, %llu queued, %llu failed, %llu in flight, %.0f pages/s",
                 static_cast<unsigned long long>(p.done), static_cast<unsigned long long>(p.queued),
                 static_cast<unsigned long long>(p.failed), static_cast<unsigned long long>(p.in_flight),
                 p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0.0);
    std::fflush(stderr);
  }
}

/// Stops the crawl on SIGINT/SIGTERM and remembers which signal it was.
weft::task<void> watch_signals(example::stop_signals& signals, scraper::crawler& c, std::atomic<int>& got) {
  got = co_await signals.wait();
  c.stop();
}

weft::task<void> stop_task(weft::join_handle<void>& h) {
  h.cancel();
  try {
    co_await h;
  } catch (const weft::operation_cancelled&) {
  }
}

weft::task<int> run(cli c, example::stop_signals& signals) {
  std::optional<scraper::demo_site> site;
  if (c.demo) {
    scraper::demo_site_options d;
    d.pages = c.demo_pages;
    if (c.quick) d.slow_delay = std::chrono::seconds(8);  // above 2 s, and no 20 s wait at shutdown
    site.emplace(scraper::demo_site::start(d));
    c.crawl.seeds = {site->root_url()};
    if (!c.quiet) std::fprintf(stderr, "demo site with %zu pages on %s\n", d.pages, site->root_url().c_str());
  }

  std::FILE* out = stdout;
  if (c.quick) out = std::fopen("/dev/null", "w");
  else if (!c.output.empty()) out = std::fopen(c.output.c_str(), "w");
  if (!out) {
    std::fprintf(stderr, "scraper: cannot open '%s': %s\n", c.output.c_str(), std::strerror(errno));
    if (site) co_await site->stop();
    co_return 1;
  }
  static char buffer[1 << 16];
  std::setvbuf(out, buffer, _IOFBF, sizeof buffer);

  scraper::demo_tally tally;
  bool write_failed = false;
  scraper::crawler crawler(c.crawl, [&](const scraper::page_record& r) {
    tally.add(r);
    std::string line = scraper::to_json_line(r);
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) write_failed = true;
  });

  std::atomic<int> sig{0};
  auto watcher = weft::spawn(watch_signals(signals, crawler, sig));
  const bool live = !c.quiet && ::isatty(2);
  std::optional<weft::join_handle<void>> progress;
  if (live) progress.emplace(weft::spawn(show_progress(crawler)));

  std::exception_ptr failed;
  scraper::crawl_stats stats;
  try {
    stats = co_await crawler.run();
  } catch (...) {
    failed = std::current_exception();
  }
  co_await stop_task(watcher);
  if (progress) {
    co_await stop_task(*progress);
    std::fputs("\r\x1b[K", stderr);
  }
  if (std::fflush(out) != 0) write_failed = true;
  if (out != stdout) std::fclose(out);
  if (site) co_await site->stop();
  if (failed) std::rethrow_exception(failed);

  if (!c.stats.empty()) {
    std::FILE* f = std::fopen(c.stats.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "scraper: cannot open '%s': %s\n", c.stats.c_str(), std::strerror(errno));
      co_return 1;
    }
    std::string j = scraper::to_json(stats) + "\n";
    const bool ok = std::fwrite(j.data(), 1, j.size(), f) == j.size();
    if (std::fclose(f) != 0 || !ok) {
      std::fprintf(stderr, "scraper: writing '%s' failed\n", c.stats.c_str());
      co_return 1;
    }
  }
  if (write_failed) {
    std::fprintf(stderr, "scraper: writing the output failed: %s\n", std::strerror(errno));
    co_return 1;
  }

  int rc = sig.load() ? 128 + sig.load() : 0;
  if (!c.quiet) {
    if (sig.load()) std::fprintf(stderr, "%s: stopped, results so far written\n", example::signal_name(sig.load()));
    std::fputs(scraper::summary_text(stats).c_str(), stderr);
  }
  if (site && !sig.load() && c.crawl.max_pages == 0 && c.crawl.max_depth < 0) {
    bool all_ok = true;
    auto lines = scraper::check_demo(site->manifest(), stats, tally);
    if (!c.quiet) std::fputs("demo site, each kind of trouble met and handled:\n", stderr);
    for (const auto& l : lines) {
      all_ok = all_ok && l.ok();
      if (!c.quiet || !l.ok())
        std::fprintf(stderr, "  %-40s %6llu  (expected %llu)%s\n", l.what, static_cast<unsigned long long>(l.got),
                     static_cast<unsigned long long>(l.expected), l.ok() ? "" : "  MISMATCH");
    }
    if (c.quick) {
      std::printf("scraper --quick: %llu pages, %s\n", static_cast<unsigned long long>(stats.pages),
                  all_ok ? "every count matches the demo site's manifest" : "MISMATCH");
      if (!all_ok) rc = 1;
    }
  }
  co_return rc;
}

}  // namespace

int main(int argc, char** argv) {
  example::stop_signals signals;  // first: the runtime's threads inherit the blocked signals
  cli c;
  try {
    bool help = false;
    c = parse(argc, argv, help);
    if (help) {
      std::fputs(usage, stdout);
      return 0;
    }
    // Checked here so that a bad URL is a usage error, not a crash later.
    if (!c.demo) scraper::crawler check(c.crawl, {});
  } catch (const example::usage_error& e) {
    std::fprintf(stderr, "scraper: %s\n%s", e.what(), usage);
    return 2;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "scraper: %s\n%s", e.what(), usage);
    return 2;
  }
  try {
    weft::runtime rt(c.runtime);
    return rt.block_on(run(std::move(c), signals));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scraper: %s\n", e.what());
    return 1;
  }
}
