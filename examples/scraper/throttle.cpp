// The AutoThrottle rule and its backoff (see throttle.hpp).
#include "throttle.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace scraper {

throttle::throttle(throttle_options o) : opt_(o) {
  if (!(opt_.target_concurrency > 0) || !std::isfinite(opt_.target_concurrency))
    throw std::invalid_argument("throttle: target_concurrency must be a positive number");
  if (opt_.floor < duration::zero()) throw std::invalid_argument("throttle: floor must not be negative");
  if (opt_.max_delay < duration::zero()) throw std::invalid_argument("throttle: max_delay must not be negative");
  if (opt_.min_backoff < duration::zero()) throw std::invalid_argument("throttle: min_backoff must not be negative");
  // Before any response nothing is known: start at the floor. The crawler's
  // first request to an origin is its robots.txt, alone, so the pages
  // already go at a measured pace.
  delay_ = lowest();
  min_delay_ = max_delay_ = delay_;
}

throttle::duration throttle::lowest() const noexcept {
  return hold_left_ > 0 ? std::max(opt_.floor, retry_floor_) : opt_.floor;
}

void throttle::set(duration d) {
  const duration lo = lowest();
  // The floor wins over max_delay: a Crawl-delay or Retry-After above it is
  // the site's explicit wish.
  delay_ = std::max(std::min(d, opt_.max_delay), lo);
  min_delay_ = std::min(min_delay_, delay_);
  max_delay_ = std::max(max_delay_, delay_);
}

void throttle::back_off() {
  ++backoffs_;
  set(std::max(2 * delay_, opt_.min_backoff));
}

throttle::duration throttle::mean_latency() const noexcept {
  if (responses_ == 0) return duration::zero();
  return duration(static_cast<duration::rep>(std::llround(latency_sum_us_ / static_cast<double>(responses_))));
}

void throttle::on_response(duration latency, int status, std::optional<duration> retry_after) {
  latency = std::max(latency, duration::zero());
  ++requests_;
  ++responses_;
  last_latency_ = latency;
  latency_sum_us_ += static_cast<double>(latency.count());
  if (status == 429 || status == 503) {
    if (retry_after && *retry_after > duration::zero()) {
      retry_floor_ = std::min(*retry_after, opt_.max_delay);
      hold_left_ = std::max(opt_.retry_after_hold, 1);
    }
    back_off();
    return;
  }
  const bool ok = status >= 200 && status < 400;
  const auto target = duration(
      static_cast<duration::rep>(std::llround(static_cast<double>(latency.count()) / opt_.target_concurrency)));
  const duration next = std::max(target, (delay_ + target) / 2);
  if (!ok && next < delay_) return;  // an error may raise the delay, never lower it
  set(next);
  // The server answers again: after retry_after_hold such gaps the
  // Retry-After floor wears off and the delay comes down from there.
  if (ok && hold_left_ > 0) --hold_left_;
}

void throttle::on_timeout() {
  ++requests_;
  back_off();
}

void throttle::set_floor(duration floor) {
  opt_.floor = std::max(floor, duration::zero());
  set(delay_);
}

}  // namespace scraper
