// The echo connection handler shared by echo_server, echo_client's
// in-process server and bench/echo.cpp, so that all three measure the same
// code.
//
//   echo_stats stats;
//   co_await weft::io::serve(listener, [&](weft::io::tcp_stream s) { return echo(std::move(s), stats); });
//
// The loop is deliberately bare (it is what the echo benchmark measures):
// receive() then write_all, no deadline (a deadline arms a timer per
// operation). receive() takes its buffer from the driver only when data
// arrives (io_uring: a provided-buffer ring), so a connection waiting for
// its next message pins no buffer: 10,000 idle connections cost about
// 1.2 KiB each (bench/idle_conns). Counters are per connection and
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
  while (weft::io::chunk c = co_await s.receive()) {
    co_await s.write_all(c.bytes());
    ++t.reads;
    t.bytes += c.size();
  }
}

}  // namespace example
