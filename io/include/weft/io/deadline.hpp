// weft::io::deadline: the optional time limit every I/O operation takes.
//
//   co_await s.read_some(buf, 5s);                      // relative
//   co_await s.write_all(data, weft::clock::now() + 1s); // absolute
//   co_await s.read_some(buf);                          // no limit
//
// When it passes first, the operation is cancelled and throws
// weft::timeout_error; data already transferred by a partial write_all is
// not taken back (the stream is then in an unknown state: close it).
#pragma once

#include <chrono>
#include <optional>

#include "weft/runtime/time.hpp"

namespace weft::io {

class deadline {
 public:
  /// No limit.
  constexpr deadline() noexcept = default;
  constexpr deadline(std::nullopt_t) noexcept {}
  deadline(clock::time_point at) noexcept : at_(at) {}
  template <class Rep, class Period>
  deadline(std::chrono::duration<Rep, Period> d) noexcept : at_(detail::deadline_after(d)) {}

  explicit operator bool() const noexcept { return at_.has_value(); }
  clock::time_point at() const noexcept { return *at_; }
  /// The earlier of two deadlines.
  friend deadline earliest(deadline a, deadline b) noexcept {
    if (!a) return b;
    if (!b) return a;
    return a.at() < b.at() ? a : b;
  }

 private:
  std::optional<clock::time_point> at_;
};

/// Awaits `op`, under `d` if it is set (throws weft::timeout_error when it passes).
template <class Awaitable>
task<detail::await_result_t<Awaitable>> within(deadline d, Awaitable op) {
  if (!d) co_return co_await std::move(op);
  co_return co_await with_deadline(d.at(), std::move(op));
}

}  // namespace weft::io
