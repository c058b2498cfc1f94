// The echo connection handler shared by echo_server, echo_client's
// in-process server and bench/echo.cpp, so that all three measure the same
// code.
//
//   echo_stats stats;
//   co_await weft::io::serve(listener, [&](weft::io::tcp_stream s) { return echo(std::move(s), stats); });
//
// The loop is deliberately bare (it is what the echo benchmark measures):
// one buffer in the coroutine frame, read_some then write_all, no deadline
// (a deadline arms a timer per operation). Counters are per connection and
// added to the shared totals once, when the connection ends, so the hot
// loop touches no shared cache line. Cancellation (server shutdown) ends
// the handler in whichever operation it waits; its counts are still added.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "weft/weft.hpp"

namespace example {

struct echo_stats {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> bytes{0};
};

inline weft::task<void> echo(weft::io::tcp_stream s, echo_stats& stats) {
  // Adds this connection's counts to the totals however the handler ends.
  struct tally {
    echo_stats& to;
    std::uint64_t reads = 0, bytes = 0;
    ~tally() {
      to.connections.fetch_add(1, std::memory_order_relaxed);
      to.reads.fetch_add(reads, std::memory_order_relaxed);
      to.bytes.fetch_add(bytes, std::memory_order_relaxed);
    }
  } t{stats};
  s.set_nodelay(true);
  std::byte buf[4096];
  for (;;) {
    std::size_t n = co_await s.read_some(buf);
    if (n == 0) break;
    co_await s.write_all({buf, n});
    ++t.reads;
    t.bytes += n;
  }
}

}  // namespace example
