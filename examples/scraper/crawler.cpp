// The crawl engine: frontier per origin, politeness slots, robots.txt,
// retries, the hand-off to the process pool, records and statistics.
#include "crawler.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>

// page_info travels back from the pool through cereal: its std::string,
// std::vector and std::pair members need cereal's serializers for them.
#include <fmt/core.h>
#include <cereal/types/common.hpp>  // enums (sitemap_error)
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "frontier.hpp"
#include "json.hpp"
#include "link_filter.hpp"
#include "robots.hpp"
#include "sitemap.hpp"
#include "throttle.hpp"
#include "url.hpp"
#include "weft/http/client.hpp"
#include "weft/weft.hpp"

namespace scraper {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---------------------------------------------------------------- retries

thread_local std::mt19937_64 rng{std::random_device{}()};

/// Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)].
milliseconds backoff_for(int attempt, milliseconds base, milliseconds cap) {
  const double ceiling = std::min(static_cast<double>(cap.count()),
                                  static_cast<double>(base.count()) * std::ldexp(1.0, std::min(attempt, 30)));
  std::uniform_real_distribution<double> d(0.0, std::max(ceiling, 0.0));
  return milliseconds(static_cast<milliseconds::rep>(d(rng)));
}

/// Retry-After as delay-seconds; an HTTP-date (rare from crawled sites)
/// falls back to the computed backoff.
std::optional<milliseconds> retry_after(const weft::http::response& r) {
  auto v = r.headers.get("retry-after");
  if (!v) return std::nullopt;
  std::string_view s = *v;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::uint64_t secs = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return milliseconds(static_cast<milliseconds::rep>(std::min<std::uint64_t>(secs, 86400) * 1000));
}

/// The robots.txt product token: the user agent up to '/' or a space.
std::string product_token(std::string_view ua) {
  auto end = ua.find_first_of("/ ");
  return std::string(ua.substr(0, end));
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

double ms_since(clock::time_point t0) { return std::chrono::duration<double, std::milli>(clock::now() - t0).count(); }

}  // namespace

std::string_view to_string(fetch_error e) noexcept {
  switch (e) {
    case fetch_error::none: return "none";
    case fetch_error::timeout: return "timeout";
    case fetch_error::connect: return "connect";
    case fetch_error::connection_closed: return "connection_closed";
    case fetch_error::tls: return "tls";
    case fetch_error::protocol: return "protocol";
    case fetch_error::too_many_redirects: return "too_many_redirects";
    case fetch_error::redirect_loop: return "redirect_loop";
    case fetch_error::redirect_out_of_scope: return "redirect_out_of_scope";
    case fetch_error::redirect_disallowed: return "redirect_disallowed";
    case fetch_error::too_large: return "too_large";
    case fetch_error::bad_url: return "bad_url";
    case fetch_error::http_4xx: return "http_4xx";
    case fetch_error::http_5xx: return "http_5xx";
    case fetch_error::parse_failed: return "parse_failed";
    case fetch_error::other: return "other";
  }
  return "other";
}

std::string to_json_line(const page_record& r) {
  json::writer w;
  w.begin_object();
  w.key("url").value(r.url);
  w.key("final_url");
  if (r.final_url.empty()) w.null();
  else w.value(r.final_url);
  w.key("status");
  if (r.status == 0) w.null();
  else w.value(r.status);
  w.key("depth").value(r.depth);
  w.key("title");
  if (r.page) w.value(r.page->title);
  else w.null();
  w.key("links").begin_array();
  if (r.page)
    for (const auto& l : r.page->links) w.value(l);
  w.end_array();
  w.key("word_count").value(r.page ? r.page->word_count : 0);
  w.key("top_words").begin_array();
  if (r.page)
    for (const auto& [word, n] : r.page->top_words) w.begin_array().value(word).value(n).end_array();
  w.end_array();
  w.key("bytes").value(r.bytes);
  w.key("ms").value(std::round(r.ms * 10) / 10);  // 0.1 ms is plenty
  w.key("content_type");
  if (r.content_type.empty()) w.null();
  else w.value(r.content_type);
  w.key("error");
  if (r.error == fetch_error::none) w.null();
  else w.value(to_string(r.error));
  w.key("attempts").value(r.attempts);
  if (!r.retried.empty()) {
    w.key("retried").begin_array();
    for (auto e : r.retried) w.value(to_string(e));
    w.end_array();
  }
  if (!r.redirects.empty()) {
    w.key("redirects").begin_array();
    for (const auto& u : r.redirects) w.value(u);
    w.end_array();
  }
  if (r.page) w.key("html_ok").value(r.page->html_ok);
  if (r.page && !r.page->fields.empty()) {
    w.key("fields").begin_object();
    for (const auto& [name, values] : r.page->fields) {
      w.key(name).begin_array();
      for (const auto& v : values) w.value(v);
      w.end_array();
    }
    w.end_object();
  }
  if (r.duplicate) w.key("duplicate").value(true);
  if (!r.message.empty()) w.key("message").value(r.message);
  if (!r.lastmod.empty()) w.key("lastmod").value(r.lastmod);
  if (r.sitemap) w.key("sitemap").value(true).key("entries").value(r.entries);
  w.end_object();
  return w.take();
}

std::string to_json(const crawl_stats& s) {
  json::writer w;
  w.begin_object();
  w.key("pages").value(s.pages);
  w.key("pages_ok").value(s.pages_ok);
  w.key("parsed").value(s.parsed);
  w.key("bytes").value(s.bytes);
  w.key("seconds").value(std::round(s.seconds * 1000) / 1000);
  w.key("pages_per_s").value(std::round(s.pages_per_s() * 10) / 10);
  w.key("errors").begin_object();
  for (const auto& [k, v] : s.errors) w.key(k).value(v);
  w.end_object();
  w.key("retries").value(s.retries);
  w.key("robots_disallowed").value(s.robots_disallowed);
  w.key("robots_fetched").value(s.robots_fetched);
  w.key("sitemaps_fetched").value(s.sitemaps_fetched);
  w.key("sitemap_urls").value(s.sitemap_urls);
  w.key("sitemap_skipped").value(s.sitemap_skipped);
  w.key("sitemap_errors").value(s.sitemap_errors);
  w.key("not_html").value(s.not_html);
  w.key("broken_html").value(s.broken_html);
  w.key("redirected").value(s.redirected);
  w.key("redirects_refused").value(s.redirects_refused);
  w.key("duplicates").value(s.duplicates);
  w.key("links").value(s.links);
  w.key("links_filtered").value(s.links_filtered);
  w.key("queued").value(s.queued);
  w.key("cancelled").value(s.cancelled);
  if (!s.hosts.empty()) {
    auto ms = [](double v) { return std::round(v * 10) / 10; };
    w.key("hosts").begin_object();
    for (const auto& [key, h] : s.hosts) {
      w.key(key).begin_object();
      w.key("delay_ms").value(ms(h.delay_ms));
      w.key("min_delay_ms").value(ms(h.min_delay_ms));
      w.key("max_delay_ms").value(ms(h.max_delay_ms));
      w.key("latency_ms").value(ms(h.latency_ms));
      w.key("last_latency_ms").value(ms(h.last_latency_ms));
      w.key("requests").value(h.requests);
      w.key("backoffs").value(h.backoffs);
      w.end_object();
    }
    w.end_object();
  }
  w.key("stopped").value(s.stopped);
  if (s.resumed) w.key("resumed").value(s.resumed);
  w.end_object();
  return w.take();
}

std::string summary_text(const crawl_stats& s) {
  std::string out = fmt::format("{}{} pages ({} ok, {} parsed) in {:.2f} s: {:.0f} pages/s, {:.1f} MB\n",
                                s.stopped ? "stopped: " : "", s.pages, s.pages_ok, s.parsed, s.seconds, s.pages_per_s(),
                                static_cast<double>(s.bytes) / 1e6);
  auto to = std::back_inserter(out);
  if (!s.errors.empty()) {
    out += "errors:";
    for (const auto& [k, v] : s.errors) fmt::format_to(to, " {}={}", k, v);
    out += '\n';
  }
  fmt::format_to(to,
                 "retries {}, robots.txt disallowed {}, not HTML {}, broken HTML {}, redirected {}, "
                 "redirects refused {}, links {}, queued {}",
                 s.retries, s.robots_disallowed, s.not_html, s.broken_html, s.redirected, s.redirects_refused, s.links,
                 s.queued);
  if (s.cancelled) fmt::format_to(to, ", cancelled in flight {}", s.cancelled);
  if (s.links_filtered) fmt::format_to(to, ", links filtered by allow/deny {}", s.links_filtered);
  if (s.resumed) fmt::format_to(to, ", resumed after {} records of earlier runs", s.resumed);
  out += '\n';
  if (!s.hosts.empty()) {
    auto slowest = std::max_element(s.hosts.begin(), s.hosts.end(),
                                    [](const auto& a, const auto& b) { return a.second.delay_ms < b.second.delay_ms; });
    fmt::format_to(to, "autothrottle: {} host{}, slowest {} at {:.0f} ms between requests (latency {:.0f} ms)\n",
                   s.hosts.size(), s.hosts.size() == 1 ? "" : "s", slowest->first, slowest->second.delay_ms,
                   slowest->second.latency_ms);
  }
  if (s.sitemaps_fetched || s.sitemap_errors)
    fmt::format_to(to, "sitemaps {} read, {} failed: {} URLs queued, {} skipped\n", s.sitemaps_fetched,
                   s.sitemap_errors, s.sitemap_urls, s.sitemap_skipped);
  return out;
}

// ---------------------------------------------------------------- the engine

struct crawler::impl {
  using item = frontier_item;
  using origin = frontier::origin;
  using robots_state = frontier::robots_state;

  struct job {
    enum kind_t { done, robots, page, unreachable, sitemaps } kind = done;
    origin* o = nullptr;
    item it;
    clock::time_point slot{};
    std::shared_ptr<const robots_rules> rules;  // page: o's rules, to match outside the lock
    std::string lastmod;                        // page, unreachable: its sitemap's <lastmod>, if any
  };

  /// The verdict on a redirect target; o and slot are set when it may be
  /// requested.
  struct hop {
    fetch_error error = fetch_error::none;
    std::string message;
    origin* o = nullptr;
    clock::time_point slot{};
  };

  /// One attempt's outcome.
  struct attempt {
    std::optional<weft::http::client_response> resp;
    fetch_error error = fetch_error::none;
    std::string message;
    bool retryable = false;
    std::optional<milliseconds> retry_after;
  };

  impl(crawl_options o, sink s)
      : opt(std::move(o)),
        on_page(std::move(s)),
        token(product_token(opt.user_agent)),
        front(opt.delay, opt.robots),
        parsing(2 * opt.concurrency),
        filter(link_filter_options{opt.allow, opt.deny}) {
    if (opt.autothrottle) {
      throttle_options to;
      to.floor = opt.delay;
      to.max_delay = opt.max_delay > milliseconds::zero() ? opt.max_delay : milliseconds(60000);
      to.target_concurrency = opt.target_concurrency;
      front.init_origin = [to](origin& o) { o.pace.emplace(paced_origin{throttle(to)}); };
    }
  }

  crawl_options opt;
  sink on_page;
  std::string token;
  std::unique_ptr<weft::http::client> client;
  // Sitemap files only (sitemaps): the same settings but a body cap of the
  // protocol's 50 MB, since the client has no per-request cap.
  std::unique_ptr<weft::http::client> sitemap_client;

  // Scheduler state, under mu.
  weft::mutex mu;
  weft::condition_variable cv;
  frontier front;                                         // queues per origin, politeness slots, the seen set
  std::set<std::string> scope;                            // the seeds' origins (same_host)
  std::set<std::string> sitemaps_seen;                    // sitemap URLs read or being read (sitemaps)
  std::unordered_map<std::string, std::string> lastmods;  // queued URL -> its sitemap's <lastmod>
  std::size_t active = 0;                                 // jobs handed out and not finished
  std::size_t started = 0;                                // page fetches started

  std::atomic<bool> stopping{false};
  std::mutex scope_mu;
  weft::task_scope* workers = nullptr;  // set before the first worker starts
  weft::semaphore parsing;              // pages handed to the pool and not yet recorded
  const link_filter filter;             // allow/deny, matched without a lock
  // Pages to the pool in batches (page_batcher.hpp); made in run().
  std::unique_ptr<page_batcher> batcher;

  // Output and statistics, under out_mu.
  std::mutex out_mu;
  crawl_stats stats;
  // A resumable crawl (opt.state): what the next commit applies, and the
  // records written in all (earlier runs included), under out_mu. A page's
  // record, its done mark and its links join the batch together (emit), so
  // a commit never holds one without the others.
  frontier_batch batch;
  std::uint64_t records_total = 0;
  std::atomic<bool> commit_stop{false};

  // Progress counters (relaxed; written under the locks above).
  std::atomic<std::uint64_t> n_done{0}, n_failed{0}, n_queued{0}, n_in_flight{0};
  std::atomic<std::int64_t> start_ns{0};

  // ------------------------------------------------------------ frontier

  origin* origin_for(const std::string& key) { return front.origin_for(key); }

  /// Under mu: queues url at depth if new. Returns whether it was queued.
  bool push(std::string url, std::size_t depth) {
    if (!front.push(std::move(url), depth)) return false;
    n_queued.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard g(out_mu);
      ++stats.queued;
    }
    return true;
  }

  /// Under mu: queues a URL that no page record carries (a seed; a URL of
  /// a sitemap): a resumable crawl records it in the next batch itself.
  /// Links of a page go through push(): emit() records them with the page.
  bool push_found(std::string url, std::size_t depth) {
    if (!opt.state) return push(std::move(url), depth);
    if (!push(url, depth)) return false;
    std::lock_guard g(out_mu);
    batch.found.push_back(frontier_item{std::move(url), depth});
    return true;
  }

  void schedule(origin* o) { front.schedule(o); }
  void unschedule(origin* o) { front.unschedule(o); }
  clock::time_point take_slot(origin* o) { return front.take_slot(o); }

  bool limit_reached() const { return opt.max_pages != 0 && started >= opt.max_pages; }

  /// Under mu: whether links (and sitemaps) of origin key are followed.
  bool in_scope(const std::string& key) const { return !opt.same_host || scope.count(key) != 0; }

  weft::task<job> next_job() {
    auto lk = co_await mu.lock();
    for (;;) {
      if (stopping.load(std::memory_order_relaxed) || limit_reached()) co_return job{};
      if (origin* o = front.next_ready()) {
        if (o->state == robots_state::unknown) {
          unschedule(o);
          o->state = robots_state::fetching;
          ++active;
          job j;
          j.kind = job::robots;
          j.o = o;
          j.slot = take_slot(o);
          co_return j;
        }
        if (opt.sitemaps && !o->sitemaps_read && o->state == robots_state::ready && in_scope(o->key)) {
          // Before its first page: the origin's sitemaps, read by one job.
          o->sitemaps_read = true;
          ++active;
          job j;
          j.kind = job::sitemaps;
          j.o = o;
          j.rules = o->rules;
          j.slot = take_slot(o);
          co_return j;
        }
        job j;
        j.o = o;
        j.it = front.pop(o);
        n_queued.fetch_sub(1, std::memory_order_relaxed);
        if (!lastmods.empty()) {
          if (auto lm = lastmods.find(j.it.url); lm != lastmods.end()) {
            j.lastmod = std::move(lm->second);
            lastmods.erase(lm);
          }
        }
        ++active;
        if (o->state == robots_state::unreachable) {
          j.kind = job::unreachable;
          co_return j;
        }
        // robots.txt is matched by the worker, outside this lock; claim()
        // then starts the fetch.
        j.kind = job::page;
        j.rules = o->rules;
        co_return j;
      }
      if (active == 0) {
        cv.notify_all();  // the frontier is dry and nothing can refill it
        co_return job{};
      }
      co_await cv.wait(lk);
    }
  }

  /// After j's URL passed robots.txt (matched outside the lock): starts
  /// the fetch of j (a page job), reserving its origin's slot. False when
  /// the crawl is stopping or full, or the URL was fetched meanwhile as a
  /// redirect's target.
  weft::task<bool> claim(job& j) {
    auto lk = co_await mu.lock();
    if (stopping.load(std::memory_order_relaxed) || limit_reached()) co_return false;
    if (!front.claim(j.it.url)) co_return false;
    ++started;
    n_in_flight.fetch_add(1, std::memory_order_relaxed);
    j.slot = take_slot(j.o);
    co_return true;
  }

  /// A job that queued nothing ended.
  weft::task<void> end_job() {
    auto lk = co_await mu.lock();
    --active;
    if (active == 0) cv.notify_all();
  }

  weft::task<clock::time_point> reserve_slot(origin* o) {
    auto lk = co_await mu.lock();
    co_return take_slot(o);
  }

  void count_disallowed() {
    std::lock_guard g(out_mu);
    ++stats.robots_disallowed;
  }

  /// Calls f(link) for each link of r the crawl follows: within
  /// max_depth, chosen by the follow XPaths (or all), in scope, passing
  /// allow/deny. Returns how many allow/deny refused. Without the scheduler
  /// lock: scope is only written before the workers start.
  template <class F>
  std::uint64_t for_each_followed(const page_record& r, F&& f) const {
    const bool follow = opt.max_depth < 0 || r.depth + 1 <= static_cast<std::size_t>(opt.max_depth);
    if (!r.page || !follow) return 0;
    std::uint64_t refused = 0;
    for (const std::string& link : r.page->follow_restricted ? r.page->follow : r.page->links) {
      if (opt.same_host && !scope.count(origin_of(link))) continue;
      if (filter.follows(link)) f(link);
      else ++refused;
    }
    return refused;
  }

  /// A page job ended: queue its links, wake idle workers.
  weft::task<void> finish_page(const page_record& r) {
    std::vector<const std::string*> next;
    if (const std::uint64_t refused = for_each_followed(r, [&](const std::string& l) { next.push_back(&l); })) {
      std::lock_guard g(out_mu);
      stats.links_filtered += refused;
    }
    auto lk = co_await mu.lock();
    bool pushed = false;
    for (const std::string* link : next) pushed = push(*link, r.depth + 1) || pushed;
    --active;
    if (pushed || active == 0) cv.notify_all();
  }

  // ------------------------------------------------------------ fetching

  /// One request. `follow`: the client follows redirects (robots.txt);
  /// otherwise a 3xx comes back, for the crawler to check each hop.
  /// `via`: another client than `client` (sitemap files). `range`: ask for
  /// only the first `range` bytes (a Range request; 0: the whole body).
  weft::task<attempt> fetch_once(const std::string& url, bool follow, weft::http::client* via = nullptr,
                                 std::uint64_t range = 0) {
    attempt a;
    weft::http::request_options ro;
    ro.timeout = opt.timeout;
    if (range) ro.headers.add("Range", "bytes=0-" + std::to_string(range - 1));
    if (!follow) ro.max_redirects = 0;
    try {
      a.resp.emplace(co_await (via ? via : client.get())->get(url, ro));
    } catch (const weft::operation_cancelled&) {
      throw;
    } catch (const weft::timeout_error& e) {
      a.error = fetch_error::timeout;
      a.message = e.what();
      a.retryable = true;
    } catch (const weft::http::client_error& e) {
      using weft::http::client_errc;
      a.message = e.what();
      switch (e.code()) {
        case client_errc::bad_url:
        case client_errc::unsupported_scheme: a.error = fetch_error::bad_url; break;
        case client_errc::connect:
          a.error = fetch_error::connect;
          a.retryable = true;
          break;
        case client_errc::connection_closed:
          a.error = fetch_error::connection_closed;
          a.retryable = true;
          break;
        case client_errc::tls: a.error = fetch_error::tls; break;
        case client_errc::protocol:
        case client_errc::bad_encoding: a.error = fetch_error::protocol; break;
        case client_errc::too_many_redirects: a.error = fetch_error::too_many_redirects; break;
        case client_errc::redirect_loop: a.error = fetch_error::redirect_loop; break;
        case client_errc::response_too_large: a.error = fetch_error::too_large; break;
      }
    } catch (const std::system_error& e) {  // name resolution, socket creation
      a.error = fetch_error::connect;
      a.message = e.what();
      a.retryable = true;
    } catch (const std::exception& e) {
      a.error = fetch_error::other;
      a.message = e.what();
    }
    if (a.resp) {
      const int st = a.resp->status;
      if (st >= 500 || st == 429) {
        a.retryable = true;
        a.retry_after = retry_after(*a.resp);
      }
    }
    co_return a;
  }

  void count_retry() {
    std::lock_guard g(out_mu);
    ++stats.retries;
  }

  /// Attempts url until it succeeds, fails for good, or retries run out.
  /// Waits for o's politeness slot before each attempt.
  /// `retried` receives the failure of each attempt that was retried.
  /// `attempts` is incremented per request.
  weft::task<attempt> fetch_with_retries(const std::string& url, bool follow, origin* o, clock::time_point slot,
                                         int& attempts, std::vector<fetch_error>& retried,
                                         weft::http::client* via = nullptr, std::uint64_t range = 0) {
    for (int n = 0;; ++n) {
      if (o->pace) co_await pace_gate(o);  // instead of the slot: the gap may have changed since it was reserved
      else if (slot > clock::now()) co_await weft::sleep_until(slot);
      ++attempts;
      const auto sent = clock::now();
      attempt a = co_await fetch_once(url, follow, via, range);
      if (o->pace) co_await pace_feed(o, a, clock::now() - sent);
      if (!a.retryable || n >= opt.retries || stopping.load(std::memory_order_relaxed)) co_return a;
      count_retry();
      if (a.resp) retried.push_back(a.resp->status >= 500 ? fetch_error::http_5xx : fetch_error::http_4xx);
      else retried.push_back(a.error);
      milliseconds wait = backoff_for(n, opt.backoff_base, opt.backoff_cap);
      if (a.retry_after) wait = std::min(*a.retry_after, opt.backoff_cap);
      co_await weft::sleep_for(wait);
      slot = co_await reserve_slot(o);  // the lock is not held across the sleep for the slot
    }
  }

  // ------------------------------------------------------ autothrottle

  /// Waits until o's next request may start: its current gap after the
  /// last start. Waiters wake one gap apart (not all at each slot), and at
  /// least every max(100 ms, gap / 4) to see a gap that shrank meanwhile.
  weft::task<void> pace_gate(origin* o) {
    auto lk = co_await mu.lock();
    for (;;) {
      paced_origin& p = *o->pace;
      const auto now = clock::now();
      const auto gap = std::chrono::duration_cast<clock::duration>(p.ctl.delay());
      const auto at = p.last_start + gap;
      if (at <= now) {
        p.last_start = now;
        co_return;
      }
      const auto wake =
          std::min(std::max(at, p.promised + gap), now + std::max<clock::duration>(milliseconds(100), gap / 4));
      p.promised = std::max(p.promised, wake);
      lk.unlock();
      co_await weft::sleep_until(wake);
      lk = co_await mu.lock();
    }
  }

  /// Feeds one attempt's outcome to o's throttle (latency: request start
  /// to the whole response) and publishes the new gap.
  weft::task<void> pace_feed(origin* o, const attempt& a, clock::duration took) {
    const int status = a.resp ? a.resp->status : 0;
    if (!a.resp && a.error != fetch_error::timeout) co_return;  // refused, reset...: no measure of load
    auto lk = co_await mu.lock();
    paced_origin& p = *o->pace;
    if (a.resp) p.ctl.on_response(std::chrono::duration_cast<std::chrono::microseconds>(took), status, a.retry_after);
    else p.ctl.on_timeout();
    // After a backoff answer the gap counts from its arrival, so that a
    // Retry-After is honoured from when it was said.
    if (!a.resp || status == 429 || status == 503) p.last_start = std::max(p.last_start, clock::now());
    o->delay = std::chrono::duration_cast<milliseconds>(p.ctl.delay());
  }

  void report_hosts() {  // into stats: under mu and out_mu, after the crawl
    auto ms = [](throttle::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
    front.for_each_origin([&](const std::string& key, const origin* o) {
      if (!o->pace) return;
      const throttle& t = o->pace->ctl;
      host_pace& h = stats.hosts[key];
      h.delay_ms = ms(t.delay());
      h.min_delay_ms = ms(t.min_delay());
      h.max_delay_ms = ms(t.max_delay());
      h.latency_ms = ms(t.mean_latency());
      h.last_latency_ms = ms(t.last_latency());
      h.requests = t.requests();
      h.backoffs = t.backoffs();
    });
  }

  /// The rules a robots.txt response means.
  std::shared_ptr<const robots_rules> rules_from(int status, const std::string& body) const {
    robots_rules parsed;  // 4xx (and odd codes): "unavailable", crawl freely
    if (status >= 200 && status < 300) parsed = robots_rules::parse(body, token);
    else if (status >= 500) parsed = robots_rules::parse("User-agent: *\nDisallow: /\n", token);  // RFC 9309 2.3.1.4
    return std::make_shared<const robots_rules>(std::move(parsed));
  }

  /// Under mu: an origin's robots.txt is known (fetched, or from the
  /// store of a resumed crawl).
  void set_rules(origin* o, std::shared_ptr<const robots_rules> rules) {
    o->rules = std::move(rules);
    o->state = robots_state::ready;
    if (auto cd = o->rules->crawl_delay(); cd && *cd > o->delay) {
      o->next += *cd - o->delay;
      o->delay = *cd;
    }
    if (o->pace) {  // autothrottle: never below --delay and Crawl-delay
      o->pace->ctl.set_floor(std::max(opt.delay, o->rules->crawl_delay().value_or(milliseconds(0))));
      o->delay = std::chrono::duration_cast<milliseconds>(o->pace->ctl.delay());
    }
  }

  weft::task<void> fetch_robots(origin* o, clock::time_point slot) {
    int attempts = 0;
    std::vector<fetch_error> retried;
    const std::string url = o->key + "/robots.txt";
    attempt a = co_await fetch_with_retries(url, true, o, slot, attempts, retried);
    if (!a.resp && a.error == fetch_error::too_large) {
      // Larger than max_bytes. RFC 9309 section 2.5 lets a crawler read
      // only the first 500 KiB (robots_rules::parse reads no more): ask for
      // just those (or max_bytes, if smaller). A server that ignores Range sends it all again, and the
      // origin is then unreachable, as before.
      const clock::time_point again = co_await reserve_slot(o);
      const std::uint64_t first = std::min<std::uint64_t>(robots_max_bytes, opt.max_bytes);
      a = co_await fetch_with_retries(url, true, o, again, attempts, retried, nullptr, first);
      if (!a.resp)
        a.message += " (robots.txt is larger than --max-bytes, and the server ignored a Range request for its first " +
                     std::to_string(first) + " bytes)";
    }
    std::shared_ptr<const robots_rules> rules;
    if (a.resp) {
      {
        std::lock_guard g(out_mu);
        ++stats.robots_fetched;
      }
      // Parsed here, outside the scheduler lock, like every match later.
      rules = rules_from(a.resp->status, a.resp->body);
      if (opt.state) {
        std::lock_guard g(out_mu);
        batch.robots.push_back(robots_entry{o->key, a.resp->status, a.resp->body});
      }
    }
    auto lk = co_await mu.lock();
    if (rules) {
      set_rules(o, std::move(rules));
    } else {
      // Unreachable (network errors after retries): its pages fail with
      // the same error, without trying each of them again.
      o->state = robots_state::unreachable;
      o->down = a.error;
      o->down_message = "robots.txt: " + a.message;
    }
    schedule(o);
    --active;
    cv.notify_all();
  }

  /// A fetched page; `body` is set when it still has to be parsed.
  struct fetched {
    page_record r;
    std::optional<std::string> body;
  };

  /// Checks a redirect's target as a link is checked before it is queued
  /// (scope, robots.txt of its origin, fetched first if not known yet) and
  /// reserves that origin's politeness slot. A refused target is counted;
  /// it is never requested.
  weft::task<hop> check_hop(const std::string& url) {
    hop h;
    const std::string key = origin_of(url);
    std::shared_ptr<const robots_rules> rules;
    {
      auto lk = co_await mu.lock();
      if (opt.same_host && !scope.count(key)) {
        h.error = fetch_error::redirect_out_of_scope;
        h.message = "redirect to " + url + " not followed: another origin (same-host crawl)";
      } else {
        origin* o = origin_for(key);
        while (!rules && h.error == fetch_error::none) {
          switch (o->state) {
            case robots_state::ready: rules = o->rules; break;
            case robots_state::unreachable:
              h.error = o->down;
              h.message = "redirect to " + url + ": " + o->down_message;
              break;
            case robots_state::fetching: co_await cv.wait(lk); break;  // fetch_robots notifies
            case robots_state::unknown: {
              // As before an origin's first page: its robots.txt first. This
              // worker fetches it (the job stays active meanwhile).
              unschedule(o);
              o->state = robots_state::fetching;
              ++active;
              const clock::time_point slot = take_slot(o);
              lk.unlock();
              co_await fetch_robots(o, slot);
              lk = co_await mu.lock();
              break;
            }
          }
        }
        h.o = o;
      }
    }
    if (h.error == fetch_error::none && !rules->allowed(path_and_query(url))) {
      h.error = fetch_error::redirect_disallowed;
      h.message = "redirect to " + url + " not followed: disallowed by robots.txt";
      count_disallowed();
    }
    if (h.error == fetch_error::redirect_out_of_scope || h.error == fetch_error::redirect_disallowed) {
      std::lock_guard g(out_mu);
      ++stats.redirects_refused;
    }
    if (h.error == fetch_error::none) h.slot = co_await reserve_slot(h.o);
    co_return h;
  }

  /// Fetches j's URL, following redirects hop by hop (see check_hop).
  weft::task<fetched> fetch_page(const job& j) {
    fetched f;
    page_record& r = f.r;
    r.url = j.it.url;
    r.depth = j.it.depth;
    r.lastmod = j.lastmod;
    const auto t0 = clock::now();
    std::string url = r.url;
    origin* o = j.o;
    clock::time_point slot = j.slot;
    std::optional<attempt> last;
    for (;;) {
      attempt a = co_await fetch_with_retries(url, false, o, slot, r.attempts, r.retried);
      if (!a.resp) {
        r.error = a.error;
        r.message = std::move(a.message);
        break;
      }
      auto location = a.resp->headers.get("location");
      if (!is_redirect(a.resp->status) || !location || opt.max_redirects == 0) {
        last = std::move(a);
        break;
      }
      r.redirects.push_back(url);
      std::optional<std::string> next = resolve_link(url, *location);
      if (!next) {
        r.error = fetch_error::bad_url;
        r.message = "redirect from " + url + " to an unusable Location \"" + std::string(*location) + "\"";
        break;
      }
      if (std::find(r.redirects.begin(), r.redirects.end(), *next) != r.redirects.end()) {
        r.error = fetch_error::redirect_loop;
        r.message = "redirect loop: " + url + " -> " + *next + " was visited before";
        break;
      }
      if (r.redirects.size() > static_cast<std::size_t>(opt.max_redirects)) {
        r.error = fetch_error::too_many_redirects;
        r.message = "more than " + std::to_string(opt.max_redirects) + " redirects (last to " + *next + ")";
        break;
      }
      hop h = co_await check_hop(*next);
      if (h.error != fetch_error::none) {
        r.error = h.error;
        r.message = std::move(h.message);
        break;
      }
      url = std::move(*next);
      o = h.o;
      slot = h.slot;
    }
    r.ms = ms_since(t0);
    if (!last) co_return f;  // no final response: a failed request or a redirect error
    weft::http::client_response& resp = *last->resp;
    r.status = resp.status;
    r.final_url = std::move(url);
    if (auto ct = resp.headers.get("content-type")) r.content_type = std::string(*ct);
    r.bytes = resp.body.size();
    if (r.status >= 500) {
      r.error = fetch_error::http_5xx;
    } else if (r.status >= 400) {
      r.error = fetch_error::http_4xx;
    } else if (r.status >= 200 && r.status < 300) {
      if (r.final_url != r.url) {
        auto lk = co_await mu.lock();
        r.duplicate = front.reached(r.final_url);
      }
      if (!r.duplicate && is_html(r.content_type) && opt.analyze) f.body = std::move(resp.body);
    }
    co_return f;
  }

  /// Parses in the process pool, then records the page and queues its
  /// links. Runs as a task of its own so that the worker that fetched the
  /// page goes on fetching meanwhile: parsing never holds a fetch slot.
  weft::task<void> analyze(page_record r, std::string body) {
    try {
      try {
        r.page = co_await batcher->analyze(r.final_url, std::move(body), opt.rules);
      } catch (const weft::operation_cancelled&) {
        throw;
      } catch (const std::exception& e) {
        r.error = fetch_error::parse_failed;
        r.message = e.what();
      }
      parsing.release();
      emit(r, false);
      co_await finish_page(r);
    } catch (const weft::operation_cancelled&) {
      if (!stopping.load(std::memory_order_relaxed)) throw;
      std::lock_guard g(out_mu);
      ++stats.cancelled;
    }
  }

  void emit(page_record& r, bool not_html) {
    std::lock_guard g(out_mu);
    ++stats.pages;
    stats.bytes += r.bytes;
    if (r.error == fetch_error::none) ++stats.pages_ok;
    else ++stats.errors[std::string(to_string(r.error))];
    if (r.page) {
      ++stats.parsed;
      stats.links += r.page->links.size();
      if (!r.page->html_ok) ++stats.broken_html;
    }
    if (not_html) ++stats.not_html;
    if (!r.final_url.empty() && r.final_url != r.url) ++stats.redirected;
    if (r.duplicate) ++stats.duplicates;
    n_done.fetch_add(1, std::memory_order_relaxed);
    if (r.error != fetch_error::none) n_failed.fetch_add(1, std::memory_order_relaxed);
    if (on_page) on_page(r);
    if (opt.state) {
      ++records_total;
      batch.done.push_back(r.url);
      // A redirect's target is done with this record unless it is a
      // duplicate: then the target's own fetch records it (and if that
      // fetch is cut short, the target must stay pending).
      if (r.status >= 200 && r.status < 300 && !r.duplicate && !r.final_url.empty() && r.final_url != r.url)
        batch.done.push_back(r.final_url);
      for_each_followed(r, [&](const std::string& link) { batch.found.push_back(frontier_item{link, r.depth + 1}); });
    }
  }

  /// A resumable crawl: url will never be fetched (robots.txt refused it).
  void note_done(const std::string& url) {
    if (!opt.state) return;
    std::lock_guard g(out_mu);
    batch.done.push_back(url);
  }

  // ------------------------------------------------------------ state

  /// Resumes from opt.state: done URLs are seen, pending ones queued (in
  /// the order found), robots.txt responses known.
  weft::task<void> resume() {
    frontier_snapshot snap = co_await opt.state->load();
    auto lk = co_await mu.lock();
    // robots.txt first: set_rules moves an origin's slot, which must not
    // happen while the origin is in the ready set.
    for (const auto& r : snap.robots) {
      origin* o = origin_for(r.origin);
      if (o->state == robots_state::unknown) set_rules(o, rules_from(r.status, r.body));
    }
    for (const auto& key : snap.sitemaps_read) origin_for(key)->sitemaps_read = true;
    for (auto& u : snap.done) front.mark_seen(std::move(u));
    for (auto& p : snap.pending) push(std::move(p.url), p.depth);
    started = static_cast<std::size_t>(snap.records);  // max_pages counts the earlier runs' records
    std::lock_guard g(out_mu);
    records_total = snap.records;
    stats.resumed = snap.records;
  }

  /// One commit: the batch so far, with the output's size holding exactly
  /// its records (checkpoint runs while no record goes to the sink).
  weft::task<void> commit_once() {
    auto take = [this] {
      std::lock_guard g(out_mu);
      frontier_batch out = std::move(batch);
      batch = frontier_batch{};
      out.records = records_total;
      out.output_offset = opt.checkpoint ? opt.checkpoint() : 0;
      return out;
    };
    auto h = weft::spawn_blocking(take);
    frontier_batch b = co_await h;
    co_await opt.state->commit(std::move(b));
  }

  /// Commits every commit_interval until commit_stop. A failed commit
  /// stops the crawl (the error ends run()).
  weft::task<void> committer(std::exception_ptr& failed) {
    try {
      while (!commit_stop.load(std::memory_order_relaxed)) {
        co_await weft::sleep_for(opt.commit_interval);
        co_await commit_once();
      }
    } catch (...) {
      failed = std::current_exception();
      stopping.store(true, std::memory_order_relaxed);
      std::lock_guard g(scope_mu);
      if (workers) workers->cancel();
    }
  }

  // ------------------------------------------------------------ sitemaps

  /// A sitemap file's record: counted apart from pages, then to the sink.
  void emit_sitemap(const page_record& r, std::uint64_t queued, std::uint64_t skipped) {
    std::lock_guard g(out_mu);
    if (r.error != fetch_error::none) ++stats.sitemap_errors;
    stats.sitemap_urls += queued;
    stats.sitemap_skipped += skipped;
    if (on_page) on_page(r);
  }

  /// Reads j.o's sitemaps (a sitemaps job): those its robots.txt lists,
  /// else /sitemap.xml, and the children of indexes, breadth-first, each
  /// file once per crawl. Queues their URLs in scope at depth 0. Returns
  /// whether it read them all (false: the crawl stopped or hit its limit).
  weft::task<bool> read_sitemaps(const job& j) {
    struct file {
      std::string url;
      int level = 0;  // 0: listed in robots.txt (or /sitemap.xml); n: n indexes above it
    };
    std::deque<file> todo;
    for (const std::string& s : j.rules->sitemaps())
      if (auto u = normalize_url(s)) todo.push_back(file{std::move(*u), 0});
    if (todo.empty()) todo.push_back(file{j.o->key + "/sitemap.xml", 0});
    bool first = true;  // j.slot is reserved for the first request to j.o
    while (!todo.empty() && !stopping.load(std::memory_order_relaxed)) {
      file f = std::move(todo.front());
      todo.pop_front();
      page_record r;
      r.url = f.url;
      r.sitemap = true;
      origin* o = nullptr;
      clock::time_point slot{};
      std::shared_ptr<const robots_rules> rules;
      {
        auto lk = co_await mu.lock();
        if (limit_reached()) co_return false;  // no page could be fetched from what it lists
        if (!sitemaps_seen.insert(f.url).second) continue;
        const std::string key = origin_of(f.url);
        if (in_scope(key)) {
          o = origin_for(key);
          if (o->state == robots_state::ready) rules = o->rules;
          slot = first && o == j.o ? j.slot : take_slot(o);
          first = first && o != j.o;
        }
      }
      if (!o) {
        r.error = fetch_error::other;
        r.message = "sitemap " + f.url + " not read: another origin (same-host crawl)";
        emit_sitemap(r, 0, 0);
        continue;
      }
      if (rules && !rules->allowed(path_and_query(f.url))) {
        count_disallowed();
        r.error = fetch_error::other;
        r.message = "sitemap " + f.url + " not read: disallowed by robots.txt";
        emit_sitemap(r, 0, 0);
        continue;
      }
      const auto t0 = clock::now();
      attempt a = co_await fetch_with_retries(f.url, false, o, slot, r.attempts, r.retried, sitemap_client.get());
      r.ms = ms_since(t0);
      if (!a.resp) {
        r.error = a.error;
        r.message = "sitemap " + f.url + ": " + a.message;
        if (a.error == fetch_error::too_large)
          r.message = "sitemap " + f.url + ": more than the protocol's " + std::to_string(sitemap_max_bytes) +
                      " bytes per sitemap (" + a.message + ")";
        emit_sitemap(r, 0, 0);
        continue;
      }
      weft::http::client_response& resp = *a.resp;
      r.status = resp.status;
      r.final_url = f.url;
      r.bytes = resp.body.size();
      if (auto ct = resp.headers.get("content-type")) r.content_type = std::string(*ct);
      if (is_redirect(r.status)) {
        // Its target is read as a sitemap of its own: once, in scope,
        // allowed by robots.txt, in its origin's slot.
        auto location = resp.headers.get("location");
        std::optional<std::string> next = location ? resolve_link(f.url, *location) : std::nullopt;
        if (next) {
          r.message = "sitemap redirected to " + *next;
          todo.push_front(file{std::move(*next), f.level});
        } else {
          r.error = fetch_error::bad_url;
          r.message = "sitemap " + f.url + " redirected to an unusable Location";
        }
        emit_sitemap(r, 0, 0);
        continue;
      }
      if (r.status < 200 || r.status >= 300) {
        r.error = r.status >= 500 ? fetch_error::http_5xx : fetch_error::http_4xx;
        r.message = "sitemap " + f.url + ": HTTP " + std::to_string(r.status);
        emit_sitemap(r, 0, 0);
        continue;
      }
      {
        std::lock_guard g(out_mu);
        ++stats.sitemaps_fetched;
      }
      if (!is_gzip(resp.body) && resp.body.size() > sitemap_max_bytes) {  // not worth shipping to the pool
        r.error = fetch_error::too_large;
        r.message = "sitemap " + f.url + ": too_large: " + std::to_string(resp.body.size()) +
                    " bytes, more than the protocol's " + std::to_string(sitemap_max_bytes) + " per sitemap";
        emit_sitemap(r, 0, 0);
        continue;
      }
      sitemap sm;
      try {
        sm = co_await weft::spawn_process(parse_sitemap, std::move(resp.body));
      } catch (const weft::operation_cancelled&) {
        throw;
      } catch (const std::exception& e) {
        r.error = fetch_error::parse_failed;
        r.message = "sitemap " + f.url + ": " + e.what();
        emit_sitemap(r, 0, 0);
        continue;
      }
      r.entries = sm.entries.size();
      if (sm.error != sitemap_error::none) {
        const bool limit = sm.error == sitemap_error::too_many_urls || sm.error == sitemap_error::too_large;
        r.error = limit ? fetch_error::too_large : fetch_error::parse_failed;
        r.message = "sitemap " + f.url + ": " + std::string(to_string(sm.error)) + ": " + sm.message;
      }
      std::uint64_t queued = 0, skipped = sm.invalid;
      if (sm.index) {
        if (f.level + 1 >= sitemap_max_levels) {
          if (!sm.entries.empty()) {
            r.error = fetch_error::other;
            r.message = "sitemap index " + f.url + " has " + std::to_string(f.level) + " indexes above it: its " +
                        std::to_string(sm.entries.size()) + " child sitemaps not read (at most " +
                        std::to_string(sitemap_max_levels) + " levels of sitemap files)";
          }
        } else {
          for (auto& e : sm.entries) todo.push_back(file{std::move(e.loc), f.level + 1});
        }
      } else if (!sm.entries.empty()) {
        auto lk = co_await mu.lock();
        for (auto& e : sm.entries) {
          if (!in_scope(origin_of(e.loc))) ++skipped;  // the protocol: a sitemap lists its own site's URLs
          else if (push_found(e.loc, 0)) {
            ++queued;
            if (!e.lastmod.empty()) lastmods.emplace(std::move(e.loc), std::move(e.lastmod));
          }
        }
        if (queued) cv.notify_all();
      }
      emit_sitemap(r, queued, skipped);
    }
    co_return todo.empty();  // false: stopped before the end
  }

  weft::task<void> worker() {
    bool in_page = false;
    try {
      for (;;) {
        job j = co_await next_job();
        switch (j.kind) {
          case job::done: co_return;
          case job::robots: co_await fetch_robots(j.o, j.slot); break;
          case job::sitemaps:
            if (co_await read_sitemaps(j) && opt.state) {  // after the URLs found joined the batch: never without them
              std::lock_guard g(out_mu);
              batch.sitemaps_read.push_back(j.o->key);
            }
            co_await end_job();
            break;
          case job::unreachable: {
            page_record r;
            r.url = j.it.url;
            r.depth = j.it.depth;
            r.lastmod = j.lastmod;
            r.error = j.o->down;
            r.message = j.o->down_message;
            emit(r, false);
            co_await end_job();
            break;
          }
          case job::page: {
            if (!j.rules->allowed(path_and_query(j.it.url))) {  // outside the scheduler lock
              count_disallowed();
              note_done(j.it.url);
              co_await end_job();
              break;
            }
            if (!co_await claim(j)) {
              co_await end_job();
              break;
            }
            in_page = true;
            fetched f = co_await fetch_page(j);
            n_in_flight.fetch_sub(1, std::memory_order_relaxed);
            if (f.body) {
              // Bounded: when the pool falls behind, fetching waits.
              co_await parsing.acquire();
              in_page = false;
              workers->spawn(analyze(std::move(f.r), std::move(*f.body)));
              break;
            }
            in_page = false;
            const page_record& r = f.r;
            const bool not_html = r.error == fetch_error::none && !r.duplicate && r.status >= 200 && r.status < 300 &&
                                  !is_html(r.content_type);
            emit(f.r, not_html);
            co_await finish_page(f.r);
            break;
          }
        }
      }
    } catch (const weft::operation_cancelled&) {
      if (!stopping.load(std::memory_order_relaxed)) throw;
      if (in_page) {
        std::lock_guard g(out_mu);
        ++stats.cancelled;
      }
    }
  }
};

crawler::crawler(crawl_options options, sink on_page) {
  if (options.seeds.empty()) throw std::invalid_argument("crawler: no seed URL");
  if (options.concurrency == 0) throw std::invalid_argument("crawler: concurrency must be at least 1");
  if (options.per_host == 0) throw std::invalid_argument("crawler: per_host must be at least 1");
  if (options.retries < 0) throw std::invalid_argument("crawler: retries must not be negative");
  if (options.max_redirects < 0) throw std::invalid_argument("crawler: max_redirects must not be negative");
  if (options.timeout <= milliseconds::zero()) throw std::invalid_argument("crawler: timeout must be positive");
  if (!(options.target_concurrency > 0) || !std::isfinite(options.target_concurrency))
    throw std::invalid_argument("crawler: target_concurrency must be a positive number");
  if (options.max_delay < milliseconds::zero()) throw std::invalid_argument("crawler: max_delay must not be negative");
  for (const auto& s : options.seeds)
    if (!normalize_url(s)) throw std::invalid_argument("crawler: seed '" + s + "' is not an absolute http(s) URL");
  try {
    check_rules(options.rules);
    link_filter check(link_filter_options{options.allow, options.deny});
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("crawler: ") + e.what());
  }
  impl_ = std::make_unique<impl>(std::move(options), std::move(on_page));
}

crawler::~crawler() = default;

void crawler::stop() noexcept {
  impl_->stopping.store(true, std::memory_order_relaxed);
  std::lock_guard g(impl_->scope_mu);
  if (impl_->workers) impl_->workers->cancel();
}

crawl_progress crawler::progress() const noexcept {
  crawl_progress p;
  p.done = impl_->n_done.load(std::memory_order_relaxed);
  p.failed = impl_->n_failed.load(std::memory_order_relaxed);
  p.queued = impl_->n_queued.load(std::memory_order_relaxed);
  p.in_flight = impl_->n_in_flight.load(std::memory_order_relaxed);
  const auto start = impl_->start_ns.load(std::memory_order_relaxed);
  if (start != 0) {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
    p.seconds = static_cast<double>(now - start) / 1e9;
  }
  return p;
}

weft::task<crawl_stats> crawler::run() {
  impl& m = *impl_;
  const auto t0 = clock::now();
  m.start_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count(),
                   std::memory_order_relaxed);
  weft::http::client_options co;
  co.max_connections_per_host = m.opt.per_host;
  co.max_idle_per_host = m.opt.per_host;
  co.connect_timeout = m.opt.timeout;
  co.request_timeout = m.opt.timeout;
  co.read_timeout = m.opt.timeout;
  co.max_redirects = m.opt.max_redirects;  // robots.txt only: page fetches ask for 0 and check each hop
  co.max_response_bytes = m.opt.max_bytes;
  co.user_agent = m.opt.user_agent;
  m.client = std::make_unique<weft::http::client>(co);
  if (m.opt.sitemaps) {
    co.max_connections_per_host = co.max_idle_per_host = 1;  // one sitemaps job per origin
    co.max_response_bytes = sitemap_max_bytes;
    m.sitemap_client = std::make_unique<weft::http::client>(co);
  }
  if (m.opt.state) co_await m.resume();
  {
    auto lk = co_await m.mu.lock();
    for (const auto& s : m.opt.seeds) {
      std::string u = *normalize_url(s);
      m.scope.insert(origin_of(u));
      m.push_found(std::move(u), 0);
    }
  }
  m.batcher = std::make_unique<page_batcher>(m.opt.batching);
  std::exception_ptr failed, commit_failed;
  std::optional<weft::join_handle<void>> committer;
  if (m.opt.state) committer.emplace(weft::spawn(m.committer(commit_failed)));
  try {
    co_await weft::task_scope::run([&m](weft::task_scope& scope) -> weft::task<void> {
      {
        std::lock_guard g(m.scope_mu);
        m.workers = &scope;
      }
      for (std::size_t i = 0; i < m.opt.concurrency; ++i) scope.spawn(m.worker());
      if (m.stopping.load()) scope.cancel();  // stop() came before the workers existed
      co_return;
    });
  } catch (const weft::operation_cancelled&) {
    if (!m.stopping.load()) failed = std::current_exception();
  } catch (...) {
    failed = std::current_exception();
  }
  {
    std::lock_guard g(m.scope_mu);
    m.workers = nullptr;
  }
  co_await m.batcher->close();
  m.client->close_idle();
  m.client.reset();
  if (m.sitemap_client) {
    m.sitemap_client->close_idle();
    m.sitemap_client.reset();
  }
  if (committer) {
    // The last commit: every record written, and every URL not finished
    // (cancelled in flight) left pending, to be fetched by the next run.
    m.commit_stop.store(true, std::memory_order_relaxed);
    co_await *committer;
    if (!commit_failed) {
      try {
        co_await m.commit_once();
      } catch (...) {
        commit_failed = std::current_exception();
      }
    }
  }
  if (failed) std::rethrow_exception(failed);
  if (commit_failed) std::rethrow_exception(commit_failed);
  auto lk = co_await m.mu.lock();
  std::lock_guard g(m.out_mu);
  m.report_hosts();
  m.stats.seconds = std::chrono::duration<double>(clock::now() - t0).count();
  m.stats.stopped = m.stopping.load();
  co_return m.stats;
}

}  // namespace scraper
