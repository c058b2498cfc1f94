// scraper::throttle: the per-origin politeness controller of --autothrottle
// (Scrapy's AutoThrottle, plus backoff): it turns the latencies and
// statuses of the responses from one origin into the gap to keep between
// the starts of two requests to it. Pure logic: it reads no clock; the
// crawler measures each attempt and feeds it in.
//
//   scraper::throttle_options to;
//   to.floor = std::chrono::milliseconds(200);  // --delay, or robots.txt Crawl-delay
//   scraper::throttle t(to);
//   t.on_response(std::chrono::milliseconds(80), 200);  // 80 ms to answer
//   t.on_response(std::chrono::milliseconds(900), 503, std::chrono::seconds(5));
//   t.on_timeout();
//   auto gap = t.delay();  // between two request starts to this origin
//
// The rule, per response (latency = the time the whole response took):
//   target = latency / target_concurrency
//   delay  = max(target, (delay + target) / 2)
// so the delay rises to a slower server's latency at once and comes back
// down by halving its distance to the target per response (slow
// recovery). A response that is not 2xx/3xx may raise the delay, never
// lower it (an error page is often fast and says nothing about load).
// 429 and 503 double the delay (at least min_backoff) and a Retry-After
// becomes a floor for the next retry_after_hold successful responses; a
// timeout doubles it too. The delay stays within [floor, max_delay], the
// floor winning when the two cross (Crawl-delay is a site's wish).
//
// Cancellation: none; a cancelled attempt is simply not fed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace scraper {

struct throttle_options {
  using duration = std::chrono::microseconds;
  duration floor{0};                // never below: max(--delay, Crawl-delay)
  duration max_delay{60'000'000};   // never above (60 s, Scrapy's AUTOTHROTTLE_MAX_DELAY)
  double target_concurrency = 1.0;  // requests in flight wanted per origin (> 0)
  duration min_backoff{100'000};    // a backoff from a delay near 0 goes at least here
  int retry_after_hold = 3;         // successful responses a Retry-After stays a floor for
};

class throttle {
 public:
  using duration = throttle_options::duration;

  /// Throws std::invalid_argument for a target_concurrency that is not a
  /// positive number or a negative floor, max_delay or min_backoff.
  explicit throttle(throttle_options o = {});

  /// A response arrived after `latency` (request start to last body byte).
  /// `retry_after`: its Retry-After, if any (used for 429 and 503 only).
  void on_response(duration latency, int status, std::optional<duration> retry_after = std::nullopt);
  /// An attempt timed out: back off.
  void on_timeout();
  /// Raises or lowers the floor (robots.txt Crawl-delay arrives after the
  /// first request); the delay is clamped to it at once.
  void set_floor(duration floor);

  /// The gap to keep between two request starts now.
  duration delay() const noexcept { return delay_; }
  duration floor() const noexcept { return opt_.floor; }

  // For --stats.
  std::uint64_t requests() const noexcept { return requests_; }  // responses and timeouts fed in
  std::uint64_t backoffs() const noexcept { return backoffs_; }  // 429, 503 and timeouts
  duration last_latency() const noexcept { return last_latency_; }
  duration mean_latency() const noexcept;                     // of the responses (0 before one)
  duration min_delay() const noexcept { return min_delay_; }  // seen, the initial one included
  duration max_delay() const noexcept { return max_delay_; }

 private:
  void set(duration d);
  void back_off();
  duration lowest() const noexcept;  // the floor, raised by a held Retry-After

  throttle_options opt_;
  duration delay_{0};
  duration retry_floor_{0};
  int hold_left_ = 0;
  std::uint64_t requests_ = 0, backoffs_ = 0, responses_ = 0;
  duration last_latency_{0};
  double latency_sum_us_ = 0;
  duration min_delay_{0}, max_delay_{0};
};

/// An origin's autothrottle as the crawler keeps it (frontier::origin::pace,
/// under the crawler's scheduler lock): the controller, when the last request
/// to the origin started (or its last backoff answer arrived), and the
/// latest wake-up handed to a waiting request.
struct paced_origin {
  throttle ctl;
  std::chrono::steady_clock::time_point last_start{};
  std::chrono::steady_clock::time_point promised{};
};

}  // namespace scraper
