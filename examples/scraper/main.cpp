// scraper: a web crawler on weft. Fetches pages with weft::http::client,
// parses HTML in the process pool (weft::spawn_process), writes one JSON
// object per fetched URL, and ends with a summary and optional statistics.
//
//   scraper                                   crawl the built-in demo site
//   scraper https://example.org/ --max-pages 200 --output pages.jsonl --stats stats.json
//   scraper --seeds urls.txt --all-hosts --max-depth 1 --delay 500ms
//   scraper --quick                           small demo crawl that checks itself (exit 0/1)
//   scraper http://127.0.0.1:8000/ --target-concurrency 2 --stats stats.json   (autothrottle: on for real sites)
//   scraper URL --state crawl.db -o pages.jsonl   resumable: run again after a stop to go on
//   mpirun -n 3 scraper URL --cluster         page analysis on ranks 1 and 2; rank 0 crawls
//
// Ctrl-C (SIGINT) or SIGTERM stops scheduling, cancels the fetches in flight,
// flushes what was written and prints the summary; the exit code is then
// 128 + the signal number. The command line is parsed with CLI11
// (../common/cli.hpp): durations take units, --help shows every default.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../common/cli.hpp"
#include "../common/server_cli.hpp"
#include "crawler.hpp"
#include "demo_check.hpp"
#include "demo_site.hpp"
#include "extract.hpp"
#include "frontier_sqlite.hpp"
#include "link_filter.hpp"
#include "weft/weft.hpp"

#if SCRAPER_HAVE_CLUSTER
#include "cluster_backend.hpp"
#include "weft/cluster/init.hpp"
#endif

namespace {

struct cli {
  std::vector<std::string> seeds;
  bool demo = false;
  bool quick = false;
  bool quiet = false;
  std::size_t demo_pages = 2000;
  std::string output;  // "-": stdout; empty: stdout, or pages.jsonl when stdout is a terminal
  std::string stats;
  std::string state;                                      // --state FILE: a resumable crawl
  std::shared_ptr<scraper::sqlite_frontier_store> store;  // opened by main() before the runtime
  bool cluster = false;                                   // --cluster: page analysis on the other ranks of an MPI job
  unsigned workers_per_rank = 0;                          // --workers-per-rank
  scraper::crawl_options crawl;
  weft::runtime_options runtime;
};

std::vector<std::string> read_seeds(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CLI::ValidationError("--seeds", "cannot open '" + path + "': " + std::strerror(errno));
  std::vector<std::string> seeds;
  std::string line;
  while (std::getline(in, line)) {
    auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    auto e = line.find_last_not_of(" \t\r");
    seeds.push_back(line.substr(b, e - b + 1));
  }
  if (seeds.empty()) throw CLI::ValidationError("--seeds", "'" + path + "' lists no URL");
  return seeds;
}

/// The rules file first, then the command line's rules added to it, each
/// checked (a bad one is a usage error naming the option and the rule).
std::optional<int> parse_rules(const CLI::App& app, scraper::crawl_options& o, const std::string& rules_path,
                               const std::vector<std::string>& extract_specs,
                               const std::vector<std::string>& css_specs) {
  try {
    // The command line's --follow, --allow and --deny come after the file's.
    auto follow = std::move(o.rules.follow);
    auto allow = std::move(o.allow);
    auto deny = std::move(o.deny);
    o.rules = {};
    o.allow.clear();
    o.deny.clear();
    if (!rules_path.empty()) {
      try {
        auto file = scraper::read_rules_file(rules_path);
        o.rules = std::move(file.rules);
        o.allow = std::move(file.allow);
        o.deny = std::move(file.deny);
        try {
          for (const auto& p : o.allow) scraper::link_filter::check("allow", p);
          for (const auto& p : o.deny) scraper::link_filter::check("deny", p);
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument("rules file '" + rules_path + "': " + e.what());
        }
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("--rules: ") + e.what());
      }
    }
    auto add = [&](const char* option, auto make, const std::vector<std::string>& specs) {
      for (const auto& spec : specs) {
        try {
          o.rules.fields.push_back(make(spec));
        } catch (const scraper::rule_error& e) {
          throw std::invalid_argument(std::string(option) + ": " + e.what());
        }
      }
    };
    add("--extract", scraper::xpath_rule, extract_specs);
    add("--css", scraper::css_rule, css_specs);
    for (auto& f : follow) {
      try {
        scraper::check_xpath(f);
      } catch (const scraper::rule_error& e) {
        throw std::invalid_argument(std::string("--follow: ") + e.what());
      }
      o.rules.follow.push_back(std::move(f));
    }
    for (auto& p : allow) {
      scraper::link_filter::check("--allow", p);
      o.allow.push_back(std::move(p));
    }
    for (auto& p : deny) {
      scraper::link_filter::check("--deny", p);
      o.deny.push_back(std::move(p));
    }
    try {
      scraper::check_rules(o.rules);  // names unique across the file, --extract and --css
    } catch (const scraper::rule_error& e) {
      throw std::invalid_argument(std::string("--extract/--css/--rules: ") + e.what());
    }
  } catch (const std::invalid_argument& e) {
    return example::usage_failure(app, e.what());
  }
  return std::nullopt;
}

/// The command line, parsed into c. Returns an exit code when the program
/// should stop (after --help, --version or a usage error).
std::optional<int> parse(int argc, char** argv, cli& c) {
  CLI::App app{
      "A web crawler on weft: fetches pages (keep-alive, redirects, gzip), obeys robots.txt, parses HTML in\n"
      "worker processes and writes one JSON object per fetched URL. Without a URL it starts its built-in\n"
      "demo site on 127.0.0.1 and crawls that.",
      "scraper"};
  auto& o = c.crawl;
  std::vector<std::string> urls;
  std::string seeds_file;
  // Timeouts default by target: the demo's slow page must time out quickly,
  // --quick (a test on a possibly loaded machine) leaves ordinary pages
  // more room, and a real site gets 10 s. Set after parsing unless given.
  std::chrono::milliseconds timeout{10000};
  app.add_option("URL", urls, "start URLs (http or https); none and no --seeds: crawl the built-in demo site")
      ->type_name("URL");
  app.add_option("--seeds", seeds_file, "file of start URLs, one a line ('#' comments)")->type_name("FILE");
  app.add_option("--max-pages", o.max_pages, "fetch at most N pages (0 = no limit)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1'000'000'000}));
  app.add_option("--max-depth", o.max_depth, "follow links up to N hops from a seed (-1 = no limit)")
      ->check(CLI::Range(-1, 1'000'000));
  app.add_option("--concurrency", o.concurrency, "fetches in flight in total")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  app.add_option("--per-host", o.per_host, "connections per host")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  example::add_duration(app, "--delay", o.delay,
                        "minimum gap between requests to one host; robots.txt Crawl-delay wins when larger");
  // Adaptive politeness (throttle.hpp): on for real sites, off for the demo
  // site, whose slow page and 503s are there to test error handling.
  bool autothrottle = false;
  auto* throttle_opt = app.add_flag("--autothrottle,!--no-autothrottle", autothrottle,
                                    "adapt each host's delay to its response time, back off on 429/503/timeouts "
                                    "(default: on for real sites, off for the demo site)");
  app.add_option("--target-concurrency", o.target_concurrency,
                 "autothrottle: requests in flight wanted per host (delay = latency / this)")
      ->check(CLI::Range(0.01, 1000.0));
  o.max_delay = std::chrono::seconds(60);
  example::add_duration(app, "--max-delay", o.max_delay, "autothrottle: the longest delay between requests to a host")
      ->check(example::duration_at_least(std::chrono::milliseconds(1)));
  bool same_host = false, all_hosts = false, ignore_robots = false;
  auto* same =
      app.add_flag("--same-host", same_host, "follow links and redirects only to the seeds' hosts (the default)");
  app.add_flag("--all-hosts", all_hosts, "follow links and redirects to any host")->excludes(same);
  auto* timeout_opt = example::add_duration(app, "--timeout", timeout, "per request attempt (1s for the demo site)");
  app.add_option("--retries", o.retries, "retries on timeouts, connection errors, 5xx and 429")
      ->check(CLI::Range(0, 100));
  example::add_duration(app, "--backoff", o.backoff_base,
                        "first retry's backoff ceiling; doubles each retry, full jitter");
  app.add_flag("--ignore-robots", ignore_robots, "do not fetch or obey robots.txt");
  app.add_flag("--sitemaps", o.sitemaps,
               "also crawl the URLs of the sitemaps robots.txt lists (else /sitemap.xml) of the seeds' hosts "
               "(every host with --all-hosts); gzip and sitemap indexes read");
  app.add_option("--user-agent", o.user_agent, "User-Agent header, also the robots.txt product token")
      ->check([](const std::string& s) { return s.empty() ? std::string("must not be empty") : std::string(); });
  // Extraction rules (extract.hpp, link_filter.hpp): checked after parsing,
  // so that a bad one is a usage error naming the rule and the position.
  // Each occurrence takes one value: `--extract t=//title URL` leaves URL a URL.
  std::vector<std::string> extract_specs, css_specs;
  std::string rules_path;
  app.add_option("--extract", extract_specs,
                 "a field of every parsed page's record, \"fields\":{\"NAME\":[values]} (repeatable)")
      ->type_name("NAME=XPATH")
      ->allow_extra_args(false);
  app.add_option("--css", css_specs,
                 "a field from a CSS selector; SELECTOR::attr(NAME) gives an attribute (repeatable)")
      ->type_name("NAME=SELECTOR")
      ->allow_extra_args(false);
  app.add_option("--allow", o.allow, "follow only links whose URL matches one of these RE2 patterns (repeatable)")
      ->type_name("REGEX")
      ->allow_extra_args(false);
  app.add_option("--deny", o.deny, "never follow links whose URL matches one of these (repeatable)")
      ->type_name("REGEX")
      ->allow_extra_args(false);
  app.add_option("--follow", o.rules.follow,
                 "follow only the links this XPath selects or contains, e.g. //nav (repeatable)")
      ->type_name("XPATH")
      ->allow_extra_args(false);
  app.add_option("--rules", rules_path, "a JSON file of rules: extract, css, allow, deny, follow")->type_name("FILE");
  app.add_option("--output,-o", c.output,
                 "JSON Lines records to FILE, '-' for stdout (default: stdout, or pages.jsonl when stdout is a "
                 "terminal)")
      ->type_name("FILE");
  app.add_option("--stats", c.stats, "end-of-run statistics as JSON")->type_name("FILE");
  app.add_option("--state", c.state,
                 "keep the crawl's frontier in this SQLite file: the same command run again resumes the crawl, "
                 "appending to --output")
      ->type_name("FILE");
  app.add_flag("--quiet,-q", c.quiet, "no progress line and no summary");
  auto* cluster = app.add_flag("--cluster", c.cluster,
                               "analyze pages on the other ranks of an MPI job: start it as mpirun -n 3 scraper "
                               "URL --cluster (rank 0 crawls)");
  app.add_option("--workers-per-rank", c.workers_per_rank,
                 "--cluster: worker processes on each serving rank, 0 = one per core of its machine")
      ->check(CLI::Range(0u, 256u))
      ->needs(cluster);
  auto* demo_pages = app.add_option("--demo-pages", c.demo_pages, "pages of the demo site (300 with --quick)")
                         ->check(CLI::Range(std::size_t{10}, std::size_t{1'000'000}));
  app.add_flag("--quick", c.quick, "small demo crawl that checks its results (exit 0 or 1)");
  example::add_runtime_flags(app, c.runtime.workers, c.runtime.io);
  example::add_version_flag(app);
  app.footer(
      "Durations take units: 2s, 500ms, 0.1s, 1m; a bare number is seconds.\n"
      "Exit codes: 0 done, 1 error (the output cannot be written), 2 usage error,\n"
      "130 after Ctrl-C (SIGINT), 143 after SIGTERM: the records so far are written either way.");
  if (auto rc = example::parse(app, argc, argv)) return rc;
#if !SCRAPER_HAVE_CLUSTER
  if (c.cluster)
    return example::usage_failure(
        app, "--cluster: this scraper was built without weft::cluster (Open MPI not found at build time)");
#endif

  try {
    c.seeds = urls;
    if (!seeds_file.empty()) {
      auto more = read_seeds(seeds_file);
      c.seeds.insert(c.seeds.end(), more.begin(), more.end());
    }
  } catch (const CLI::ValidationError& e) {
    return example::usage_failure(app, e.what());
  }
  if (auto rc = parse_rules(app, o, rules_path, extract_specs, css_specs)) return rc;
  c.demo = c.seeds.empty();
  if (c.quick && !c.demo) return example::usage_failure(app, "--quick crawls the demo site: give no URL");
  if (c.quick && (!o.allow.empty() || !o.deny.empty() || !o.rules.follow.empty()))
    return example::usage_failure(app, "--quick checks a whole crawl of the demo site: no --allow, --deny or --follow");
  o.seeds = c.seeds;  // the demo's seed is set once its site is up (run())
  o.same_host = !all_hosts;
  o.autothrottle = *throttle_opt ? autothrottle : !c.demo;
  o.robots = !ignore_robots;
  o.timeout = *timeout_opt ? timeout : std::chrono::milliseconds(c.quick ? 2000 : c.demo ? 1000 : 10000);
  if (o.timeout <= std::chrono::milliseconds::zero()) return example::usage_failure(app, "--timeout: must be above 0");
  if (!*demo_pages && c.quick) c.demo_pages = 300;
  if (c.quick) c.quiet = true;
  if (!c.state.empty()) {
    if (c.demo)
      return example::usage_failure(app, "--state: give the URLs to crawl (the demo site's port changes each run)");
    if (c.output.empty() || c.output == "-")
      return example::usage_failure(app, "--state: give --output FILE (a resumed crawl appends its records to it)");
  }
  return std::nullopt;
}

/// pages.jsonl in the current directory, or pages-1.jsonl, pages-2.jsonl,
/// ... when taken: never overwrites a file the user did not name.
int open_fresh_output(std::string& name) {
  for (int i = 0; i < 1000; ++i) {
    name = i == 0 ? "pages.jsonl" : "pages-" + std::to_string(i) + ".jsonl";
    int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

/// The records' file: whole lines, written with write(2) in batches of
/// 64 KiB, never through a stdio buffer, so that a process killed (even
/// with kill -9) leaves whole lines, but for the one write in progress; a
/// resumable crawl truncates the file back to its last commit anyway.
/// Called by the crawler's sink and checkpoint, which it serializes.
class record_output {
 public:
  record_output(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  ~record_output() {
    if (fd_ > 2) ::close(fd_);
  }
  record_output(const record_output&) = delete;
  record_output& operator=(const record_output&) = delete;

  void add(std::string line) {
    buf_ += line;
    buf_ += '\n';
    if (buf_.size() >= (1u << 16)) flush();
  }
  /// Writes what is buffered. Returns the file's size: every line added so
  /// far (after a failure, what did get written).
  std::uint64_t flush() {
    std::size_t at = 0;
    while (at < buf_.size() && !failed_) {
      const ssize_t n = ::write(fd_, buf_.data() + at, buf_.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failed_ = true;
        error_ = n < 0 ? errno : ENOSPC;
        break;
      }
      at += static_cast<std::size_t>(n);
      size_ += static_cast<std::uint64_t>(n);
    }
    buf_.clear();
    return size_;
  }
  bool failed() const noexcept { return failed_; }
  int error() const noexcept { return error_; }

 private:
  int fd_;
  std::uint64_t size_;
  std::string buf_;
  bool failed_ = false;
  int error_ = 0;
};

/// --state: the output file of a resumed crawl, cut back to the size the
/// state's last commit recorded (records beyond it are not in the state:
/// their URLs are fetched again), or created empty for a new state.
int open_state_output(const std::string& name, const scraper::sqlite_frontier_store& store, std::string& error) {
  const bool resume = !store.fresh();
  const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  struct stat st {};
  if (resume) {
    if (::fstat(fd, &st) != 0) {
      error = std::strerror(errno);
    } else if (static_cast<std::uint64_t>(st.st_size) < store.output_offset()) {
      error = fmt::format(
          "it has {} bytes, but the state says {} were written ({} records): it was changed "
          "since; remove the --state file to crawl again from the start",
          st.st_size, store.output_offset(), store.records());
    } else if (::ftruncate(fd, static_cast<off_t>(store.output_offset())) != 0) {
      error = std::strerror(errno);
    }
  }
  if (error.empty() && ::lseek(fd, 0, SEEK_END) < 0) error = std::strerror(errno);
  if (!error.empty()) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// The live line on stderr: redrawn in place, at most 10 times a second.
weft::task<void> show_progress(const scraper::crawler& c) {
  weft::interval tick{std::chrono::milliseconds(100)};
  for (;;) {
    co_await tick.next();
    auto p = c.progress();
    fmt::print(stderr, "\r\x1b[K{} pages, {} queued, {} failed, {} in flight, {:.0f} pages/s", p.done, p.queued,
               p.failed, p.in_flight, p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0.0);
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
    if (!c.quiet) fmt::print(stderr, "demo site with {} pages on {}\n", d.pages, site->root_url());
  }

  int fd = 1;
  std::string out_name = "standard output", open_error;
  if (c.quick) {
    fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  } else if (c.store) {
    out_name = c.output;
    fd = open_state_output(c.output, *c.store, open_error);
  } else if (c.output.empty() && ::isatty(1)) {
    // Thousands of JSON lines would bury the summary on a terminal.
    fd = open_fresh_output(out_name);
  } else if (!c.output.empty() && c.output != "-") {
    out_name = c.output;
    fd = ::open(c.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  if (fd < 0) {
    fmt::print(stderr, "scraper: cannot open '{}' for the records: {}\n", out_name,
               open_error.empty() ? std::strerror(errno) : open_error);
    if (site) co_await site->stop();
    co_return 1;
  }
  record_output out(fd, c.store ? c.store->output_offset() : 0);
  if (c.store && !c.store->fresh() && !c.quiet)
    fmt::print(stderr, "resuming the crawl in '{}': {} records already in '{}'\n", c.state, c.store->records(),
               out_name);

#if SCRAPER_HAVE_CLUSTER
  // Before the crawler, which copies the batching options, and destroyed
  // after it: its page_batcher calls the backend until the crawl ends.
  std::optional<scraper::cluster_backend> cluster;
  if (c.cluster) {
    const scraper::cluster_backend_options co{.workers_per_rank = c.workers_per_rank};
    cluster.emplace(co);
    cluster->attach(c.crawl.batching);
  }
#endif

  scraper::demo_tally tally;
  const bool quiet = c.quiet, erase = ::isatty(2) != 0;
  // A failed write must not be committed as written: the crawl stops with
  // the error, and the next run resumes from the commit before.
  c.crawl.checkpoint = [&out, &out_name] {
    const std::uint64_t size = out.flush();
    if (out.failed())
      throw std::runtime_error(fmt::format("writing '{}' failed: {}", out_name, std::strerror(out.error())));
    return size;
  };
  scraper::crawler crawler(c.crawl, [&](const scraper::page_record& r) {
    // A sitemap that failed is said at once (its record has it too): the
    // user asked for --sitemaps and gets fewer URLs than the site lists.
    if (r.sitemap && r.error != scraper::fetch_error::none && !quiet)
      fmt::print(stderr, "{}scraper: {}\n", erase ? "\r\x1b[K" : "", r.message);
    tally.add(r);
    out.add(scraper::to_json_line(r));
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
#if SCRAPER_HAVE_CLUSTER
  // The crawl's batcher is closed: no call is left. Stops the serving
  // ranks' local pools; their counts stay readable.
  std::optional<scraper::cluster_report> cluster_done;
  if (cluster) {
    co_await cluster->shutdown();
    cluster_done = cluster->report();
  }
#endif
  co_await stop_task(watcher);
  if (progress) {
    co_await stop_task(*progress);
    fmt::print(stderr, "\r\x1b[K");
  }
  out.flush();
  const bool write_failed = out.failed();
  if (site) co_await site->stop();
  if (failed) std::rethrow_exception(failed);

  if (!c.stats.empty()) {
    std::FILE* f = std::fopen(c.stats.c_str(), "w");
    if (!f) {
      fmt::print(stderr, "scraper: cannot open '{}': {}\n", c.stats, std::strerror(errno));
      co_return 1;
    }
    std::string j = scraper::to_json(stats);
#if SCRAPER_HAVE_CLUSTER
    // Where the analysis ran: {..., "cluster":{"ranks":2,...,"by_rank":[...]}}.
    if (cluster_done) j.insert(j.size() - 1, ",\"cluster\":" + scraper::to_json(*cluster_done));
#endif
    j += "\n";
    const bool ok = std::fwrite(j.data(), 1, j.size(), f) == j.size();
    if (std::fclose(f) != 0 || !ok) {
      fmt::print(stderr, "scraper: writing '{}' failed\n", c.stats);
      co_return 1;
    }
  }
  if (write_failed) {
    fmt::print(stderr, "scraper: writing the output failed: {}\n", std::strerror(out.error()));
    co_return 1;
  }

  int rc = sig.load() ? 128 + sig.load() : 0;
  if (!c.quiet) {
    if (sig.load()) fmt::print(stderr, "{}: stopped, results so far written\n", example::signal_name(sig.load()));
    fmt::print(stderr, "{}", scraper::summary_text(stats));
#if SCRAPER_HAVE_CLUSTER
    if (cluster_done) fmt::print(stderr, "{}", scraper::summary_text(*cluster_done));
#endif
    fmt::print(stderr, "records (JSON Lines): {}\n", out_name);
  }
  const bool restricted = !c.crawl.allow.empty() || !c.crawl.deny.empty() || !c.crawl.rules.follow.empty();
  if (site && !sig.load() && c.crawl.max_pages == 0 && c.crawl.max_depth < 0 && !restricted) {
    bool all_ok = true;
    auto lines = scraper::check_demo(site->manifest(), stats, tally);
    if (!c.quiet) fmt::print(stderr, "demo site, each kind of trouble met and handled:\n");
    for (const auto& l : lines) {
      all_ok = all_ok && l.ok();
      if (!c.quiet || !l.ok())
        fmt::print(stderr, "  {:<40} {:6}  (expected {}){}\n", l.what, l.got, l.expected, l.ok() ? "" : "  MISMATCH");
    }
    if (c.quick) {
      fmt::print("scraper --quick: {} pages, {}\n", stats.pages,
                 all_ok ? "every count matches the demo site's manifest" : "MISMATCH");
      if (!all_ok) rc = 1;
    }
  }
  co_return rc;
}

#if SCRAPER_HAVE_CLUSTER
/// Whether the command line asks for --cluster, looked at before it is
/// parsed (a value that happens to be "--cluster" counts too: then the job
/// is joined for nothing, and the crawl runs as asked).
bool mentions_cluster(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--cluster" || a.starts_with("--cluster=")) return true;
  }
  return false;
}

/// The job's size when Open MPI's mpirun started this process (its
/// environment says so before MPI starts), else 1.
int mpirun_ranks() {
  const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
  return n ? std::max(1, std::atoi(n)) : 1;
}

/// weft::cluster::init: on ranks 1..N-1 it serves pages to analyze and
/// never returns; rank 0 returns and crawls. Returns an exit code if MPI
/// could not start.
std::optional<int> join_cluster(int& argc, char**& argv) {
  try {
    weft::cluster::init(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "scraper: --cluster: {}\n", e.what());
    return example::exit_error;
  }
  return std::nullopt;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  example::stop_signals signals;  // first: the runtime's threads (and MPI's) inherit the blocked signals
#if SCRAPER_HAVE_CLUSTER
  // --cluster joins the MPI job before anything else: init() forks weft's
  // fork server while this process has one thread, and from there the
  // serving ranks never come back. Only rank 0 then parses the command
  // line, so a usage error is said once, not once per rank.
  bool joined = false;
  if (mentions_cluster(argc, argv)) {
    if (auto rc = join_cluster(argc, argv)) return *rc;
    joined = true;
  }
#endif
  cli c;
  if (auto rc = parse(argc, argv, c)) return *rc;
#if SCRAPER_HAVE_CLUSTER
  // mpirun without --cluster: every rank would crawl the whole site by
  // itself, into the same output file. Said by rank 0; every rank stops.
  if (!c.cluster && mpirun_ranks() > 1) {
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    if (!rank || std::string_view(rank) == "0")
      fmt::print(stderr,
                 "scraper: started by mpirun as {} ranks without --cluster: each rank would crawl on its own, into "
                 "the same output; add --cluster (rank 0 crawls, the other ranks analyze pages), or run one scraper "
                 "without mpirun\n",
                 mpirun_ranks());
    return example::exit_usage;
  }
  if (c.cluster) {
    if (!joined)
      if (auto rc = join_cluster(argc, argv)) return *rc;
    // A job of one rank has nobody to send pages to. Failing says so at
    // once; quietly parsing here instead would hide a launch mistake (a
    // missing mpirun, -n 1) behind a crawl that merely seems slow.
    if (weft::cluster::size() < 2) {
      fmt::print(stderr,
                 "scraper: --cluster: this MPI job has 1 rank, so no rank would analyze pages: start it under "
                 "mpirun with 2 ranks or more (mpirun -n 3 scraper URL --cluster: rank 0 crawls, ranks 1 and 2 "
                 "analyze), or leave out --cluster to analyze pages in local worker processes\n");
      return example::exit_usage;
    }
  }
#endif
  // Checked here so that a bad URL is a usage error, not a failure later.
  if (!c.demo) {
    try {
      scraper::crawler check(c.crawl, {});
    } catch (const std::invalid_argument& e) {
      fmt::print(stderr, "scraper: {}\nRun 'scraper --help' for the options.\n", e.what());
      return example::exit_usage;
    }
  }
  // The state file is opened here, before the runtime's threads exist (its
  // calls later run on the blocking pool), and closed after they are gone.
  std::shared_ptr<scraper::sqlite_frontier_store> store;
  if (!c.state.empty()) {
    try {
      store = scraper::sqlite_frontier_store::open(c.state, scraper::crawl_fingerprint(c.crawl));
    } catch (const scraper::state_mismatch& e) {
      fmt::print(stderr, "scraper: --state: {}\nRun 'scraper --help' for the options.\n", e.what());
      return example::exit_usage;
    } catch (const std::exception& e) {
      fmt::print(stderr, "scraper: --state: {}\n", e.what());
      return example::exit_error;
    }
    c.store = store;
    c.crawl.state = store;
  }
  try {
    weft::runtime rt(c.runtime);
    return rt.block_on(run(std::move(c), signals));
  } catch (const std::exception& e) {
    fmt::print(stderr, "scraper: {}\n", e.what());
    return example::exit_error;
  }
}
