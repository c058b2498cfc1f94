// Helpers for the io fault tests: classify an operation's outcome (value,
// errno, timeout, cancellation) so that tasks record it and the test
// asserts after block_on, and make connected pairs of sockets.
//
//   auto [c, s] = co_await tcp_pair(AF_INET);
//   outcome o = co_await outcome_of(s.read_some(buf, 10s));
//   CHECK(o.err == ECONNRESET);
//
// fill_accept_queue() makes a listener's connects hang (for deadlines and
// cancellation of a pending connect).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "io_test_support.hpp"

namespace weft_test {

/// How an awaited operation ended.
struct outcome {
  enum kind_t { value, system_error, timeout, cancelled, other } kind = other;
  long result = 0;   // the value, when it is a number
  int err = 0;       // the errno of a std::system_error
  std::string what;  // the exception's message

  bool ok() const { return kind == value; }
  friend std::ostream& operator<<(std::ostream& os, const outcome& o) {
    static const char* names[] = {"value", "system_error", "timeout", "cancelled", "other"};
    return os << names[o.kind] << " result=" << o.result << " errno=" << o.err << " '" << o.what << "'";
  }
};

inline outcome classify(std::exception_ptr e) {
  outcome o;
  try {
    std::rethrow_exception(e);
  } catch (const std::system_error& x) {
    o.kind = outcome::system_error;
    o.err = x.code().value();
    o.what = x.what();
  } catch (const weft::timeout_error& x) {
    o.kind = outcome::timeout;
    o.what = x.what();
  } catch (const weft::operation_cancelled& x) {
    o.kind = outcome::cancelled;
    o.what = x.what();
  } catch (const std::exception& x) {
    o.what = x.what();
  } catch (...) {
  }
  return o;
}

/// Awaits `a`, turning its result or exception into an outcome.
template <class Awaitable>
weft::task<outcome> outcome_of(Awaitable a) {
  using R = weft::detail::await_result_t<Awaitable>;
  std::exception_ptr error;
  outcome o;
  try {
    if constexpr (std::is_void_v<R>) {
      co_await std::move(a);
    } else if constexpr (std::is_integral_v<R>) {
      o.result = static_cast<long>(co_await std::move(a));
    } else {
      (void)co_await std::move(a);
    }
    o.kind = outcome::value;
  } catch (...) {
    error = std::current_exception();
  }
  if (error) co_return classify(error);
  co_return o;
}

inline weft::io::address loopback(int family, std::uint16_t port = 0) {
  return family == AF_INET6 ? weft::io::address::loopback_v6(port) : weft::io::address::loopback_v4(port);
}

struct tcp_pair_t {
  weft::io::tcp_stream client;
  weft::io::tcp_stream server;
};

/// A connected pair of TCP streams on loopback (the listener is closed).
inline weft::task<tcp_pair_t> tcp_pair(int family = AF_INET) {
  using namespace std::chrono_literals;
  auto l = weft::io::tcp_listener::bind(loopback(family));
  auto c = co_await weft::io::tcp_stream::connect(l.local_address(), 20s);
  auto s = co_await l.accept(20s);
  co_return tcp_pair_t{std::move(c), std::move(s)};
}

/// Fills the accept queue of the listener at `at` (listen backlog 0: one
/// connection) so that further SYNs are dropped. Returns the connections
/// that got through.
inline weft::task<std::vector<weft::io::tcp_stream>> fill_accept_queue(const weft::io::address& at) {
  using namespace std::chrono_literals;
  std::vector<weft::io::tcp_stream> queued;
  for (int i = 0; i < 64; ++i) {
    std::optional<weft::io::tcp_stream> s;
    try {
      s.emplace(co_await weft::io::tcp_stream::connect(at, 300ms));
    } catch (const weft::timeout_error&) {
      co_return queued;  // the queue is full: SYNs are dropped now
    }
    queued.push_back(std::move(*s));
  }
  throw std::runtime_error("the accept queue never filled up");
}

/// Lets tasks spawned on this worker run up to their next suspension.
inline weft::task<void> settle() {
  using namespace std::chrono_literals;
  co_await weft::sleep_for(50ms);
}

}  // namespace weft_test
