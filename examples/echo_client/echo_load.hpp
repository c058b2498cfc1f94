// A closed-loop echo load generator on weft, shared by the echo_client
// example and bench/echo.cpp.
//
//   example::load_options o{.to = addr, .connections = 100, .size = 64};
//   example::load_result r = co_await example::run_load(o);
//   fmt::print("{:.0f} msgs/s, p99 {:.0f} us\n", r.messages_per_s(), r.latency.percentile(0.99) / 1e3);
//
// Every connection sends `size` bytes, reads the `size` echoed bytes back,
// checks them, and repeats. Round trips that complete during the warm-up
// are not counted; afterwards each one's latency (send started -> last
// byte back) goes into a log-linear histogram (1.6% resolution, fixed
// size), one per connection so no two workers share one.
//
// Connecting fails fast: the first connection that cannot be established
// throws its std::system_error ("connect to 127.0.0.1:9: Connection
// refused"). Errors after that (a reset, a wrong payload, a server that
// stops answering) end only that connection and are counted in the result.
// Cancelling run_load cancels every connection task.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace example {

/// Nanosecond latencies in log-linear buckets: exact below 128 ns, then 64
/// buckets per power of two (relative error below 1/64). 18 KiB, no
/// allocation per sample.
class latency_histogram {
 public:
  void record(std::uint64_t ns) noexcept {
    ++counts_[index(ns)];
    ++count_;
    max_ = std::max(max_, ns);
  }
  void merge(const latency_histogram& o) noexcept {
    for (std::size_t i = 0; i < buckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    max_ = std::max(max_, o.max_);
  }
  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  /// The q-quantile (0 < q <= 1) in ns: the middle of its bucket.
  double percentile(double q) const noexcept {
    if (count_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::max(1.0, q * static_cast<double>(count_) + 0.5));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        auto [lo, width] = bucket_range(i);
        return std::min(static_cast<double>(lo) + static_cast<double>(width - 1) / 2, static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr unsigned sub_bits = 6;  // 64 buckets per octave
  static constexpr std::size_t buckets = (64 - sub_bits) << sub_bits;

  static std::size_t index(std::uint64_t v) noexcept {
    if (v < (2u << sub_bits)) return static_cast<std::size_t>(v);
    const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - sub_bits;
    return std::min<std::size_t>((std::size_t{shift} << sub_bits) + static_cast<std::size_t>(v >> shift), buckets - 1);
  }
  /// Smallest value and width of bucket i (the inverse of index()).
  static std::pair<std::uint64_t, std::uint64_t> bucket_range(std::size_t i) noexcept {
    if (i < (2u << sub_bits)) return {i, 1};
    const std::size_t shift = (i >> sub_bits) - 1;
    const std::uint64_t top = (i & ((1u << sub_bits) - 1)) | (1u << sub_bits);
    return {top << shift, std::uint64_t{1} << shift};
  }

  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t count_ = 0, max_ = 0;
};

struct load_options {
  weft::io::address to;
  std::size_t connections = 100;
  std::size_t size = 64;
  std::chrono::milliseconds warmup{1000};
  std::chrono::milliseconds duration{5000};  // at least: stretched until one round trip completed
  /// Called on a worker right as the measured window opens and closes
  /// (bench/echo.cpp samples the server's CPU time there).
  std::function<void()> on_window_start{}, on_window_end{};
};

struct load_result {
  std::uint64_t messages = 0;  // round trips completed in the window
  double seconds = 0;          // length of the window
  latency_histogram latency;
  std::uint64_t errors = 0;  // connections that ended with an error
  std::string first_error;

  double messages_per_s() const noexcept { return seconds > 0 ? static_cast<double>(messages) / seconds : 0; }
};

namespace detail {

enum phase : int { warming, measuring, stopping };

struct conn_state {
  latency_histogram latency;
  std::uint64_t messages = 0;
  std::string error;
};

inline weft::task<void> echo_loop(weft::io::tcp_stream s, std::size_t size, std::uint64_t id,
                                  const std::atomic<int>& phase, std::atomic<std::uint64_t>& measured,
                                  conn_state& out) {
  using clock = std::chrono::steady_clock;
  std::vector<std::byte> sent(size), got(size);
  for (std::size_t i = 0; i < size; ++i) sent[i] = static_cast<std::byte>('a' + (id + i) % 26);
  try {
    for (std::uint64_t seq = 0; phase.load(std::memory_order_relaxed) != stopping; ++seq) {
      // A sequence number in the payload, so an echo of an older message
      // (or of another connection's) is caught, not just a wrong length.
      if (size >= sizeof seq) std::memcpy(sent.data(), &seq, sizeof seq);
      const auto t0 = clock::now();
      co_await s.write_all(sent);
      co_await weft::io::read_exact(s, got);
      const auto t1 = clock::now();
      if (std::memcmp(sent.data(), got.data(), size) != 0) {
        out.error = "echoed payload differs from what was sent";
        co_return;
      }
      if (phase.load(std::memory_order_relaxed) == measuring) {
        out.latency.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(t1 - t0).count()));
        ++out.messages;
        measured.fetch_add(1, std::memory_order_relaxed);
      }
    }
  } catch (const weft::operation_cancelled&) {
    throw;
  } catch (const weft::io::unexpected_eof&) {
    out.error = "the server closed the connection";
  } catch (const std::exception& e) {
    out.error = e.what();
  }
}

}  // namespace detail

inline weft::task<load_result> run_load(load_options o) {
  using namespace std::chrono_literals;
  using clock = std::chrono::steady_clock;
  if (o.connections == 0 || o.size == 0) throw std::invalid_argument("run_load: connections and size must be > 0");

  // All connections first, so the measurement does not include the handshakes.
  std::vector<weft::io::tcp_stream> streams;
  streams.reserve(o.connections);
  for (std::size_t i = 0; i < o.connections; ++i) {
    streams.push_back(co_await weft::io::tcp_stream::connect(o.to, 10s));
    streams.back().set_nodelay(true);
  }

  std::atomic<int> phase{detail::warming};
  std::atomic<std::uint64_t> measured{0};
  std::vector<std::unique_ptr<detail::conn_state>> states;
  std::vector<weft::join_handle<void>> loops;
  for (std::size_t i = 0; i < o.connections; ++i) {
    states.push_back(std::make_unique<detail::conn_state>());
    loops.push_back(weft::spawn(detail::echo_loop(std::move(streams[i]), o.size, i, phase, measured, *states.back())));
  }

  co_await weft::sleep_for(o.warmup);
  if (o.on_window_start) o.on_window_start();
  const auto start = clock::now();
  phase.store(detail::measuring, std::memory_order_relaxed);
  co_await weft::sleep_for(o.duration);
  // On a starved machine a short window can pass before the first round
  // trip completes: stretch it (up to 10 s) until one did, so the rate is
  // never a meaningless 0.
  for (const auto cap = clock::now() + 10s; measured.load(std::memory_order_relaxed) == 0 && clock::now() < cap;)
    co_await weft::sleep_for(5ms);
  phase.store(detail::stopping, std::memory_order_relaxed);
  const auto end = clock::now();
  if (o.on_window_end) o.on_window_end();

  // Each loop stops after its round trip in progress; one whose server
  // stopped answering is cancelled after a grace period.
  load_result r;
  const auto grace = clock::now() + 5s;
  for (std::size_t i = 0; i < loops.size(); ++i) {
    bool stuck = false;
    try {
      // Awaited through a reference, so that on timeout the handle is still
      // ours to cancel.
      co_await weft::with_deadline(std::max(grace, clock::now()),
                                   [](weft::join_handle<void>& h) -> weft::task<void> { co_await h; }(loops[i]));
      continue;
    } catch (const weft::timeout_error&) {
      stuck = true;
    }
    if (stuck) {
      loops[i].cancel();
      try {
        co_await loops[i];
      } catch (const weft::operation_cancelled&) {
      }
      if (states[i]->error.empty()) states[i]->error = "no echo within 5 s after the end of the run";
    }
  }
  r.seconds = std::chrono::duration<double>(end - start).count();
  for (auto& st : states) {
    r.messages += st->messages;
    r.latency.merge(st->latency);
    if (!st->error.empty()) {
      if (r.errors++ == 0) r.first_error = st->error;
    }
  }
  co_return r;
}

}  // namespace example
