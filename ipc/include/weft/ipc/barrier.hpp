// weft::ipc::barrier: `parties` processes (or tasks, or threads) wait for
// one another, again and again (multiprocessing.Barrier, std::barrier).
//
//   weft::ipc::barrier step{4};                      // in the parent, then pass it to workers
//   auto i = co_await step.arrive_and_wait();        // in a task
//   auto j = step.blocking_arrive_and_wait();        // in a worker process or a plain thread
//   auto k = step.blocking_wait_for(2s);             // ... giving up after 2 s: broken_barrier
//   if (i == 0) ...                                  // one of them: 0 .. parties-1, all different
//
// A handle: copies (in any process, or sent to a worker) name the same
// barrier, which lives in the shared heap. Each call arrives and waits
// until `parties` arrivals have been made, then all of them return, each
// with its arrival index (0 for the first to arrive, parties-1 for the
// last, as Python's wait() returns), and the barrier is ready for the next
// round (a generation). Whoever arrives after a round filled belongs to
// the next one.
//
// Broken, as in Python: abort(), a waiter that gives up (its deadline, a
// cancellation) or a party that dies while it waits breaks the barrier.
// Every wait in that round, and every later arrival, then throws
// broken_barrier, which says why, until reset(). reset() empties the
// barrier and mends it; the waiters of the round it ends throw
// broken_barrier too. A party killed (crash, SIGKILL) while it waits does
// not hang the others: within about 100 ms one of them notices that the
// process is gone and breaks the barrier for all (a party that dies before
// it arrives cannot be told from a late one: give the waits deadlines).
// Waiters hold no lock, so a process killed anywhere leaves the barrier
// consistent: at worst broken, until reset(). As in Python, reset() while
// parties wait breaks their round: call it once they are known to have
// left, or to break them out on purpose.
//
// Cancellation and deadlines: arrive_and_wait() arrives at once, then
// waits on the runtime's blocking pool (a thread sleeps on the barrier's
// futex word, not a worker). A task cancelled while waiting —
// with_timeout, when_any, cancel() — throws operation_cancelled
// (timeout_error under with_timeout) at once and breaks the barrier for
// the others (its arrival cannot be taken back), unless the round had
// already filled. blocking_wait_for(d) gives up after d the same way,
// throwing broken_barrier ("timed out after 200 ms; the barrier is now
// broken"), as Python's wait(timeout) raises BrokenBarrierError. The last
// arrival returns with no pool hop. A runtime shutting down waits a quarter
// second at most for a pool thread waiting.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "weft/ipc/detail/shared_block.hpp"
#include "weft/runtime/task.hpp"

namespace weft::ipc {

namespace detail {
struct barrier_state;
}

/// Thrown by a wait on a broken barrier (Python's BrokenBarrierError).
class broken_barrier : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class barrier {
 public:
  /// The most parties a barrier can have.
  static constexpr std::uint32_t max_parties = 0xffff;

  /// A new barrier for `parties` arrivals a round. Throws
  /// std::invalid_argument for 0 or more than max_parties.
  explicit barrier(std::uint32_t parties);

  /// Arrives and waits in a task for the round to fill; the arrival index.
  /// Throws broken_barrier if the barrier is or becomes broken.
  weft::task<std::uint32_t> arrive_and_wait() const;
  /// Arrives and blocks the calling thread until the round fills: for
  /// worker processes and plain threads. Throws std::logic_error on a
  /// runtime worker thread (co_await arrive_and_wait() there).
  std::uint32_t blocking_arrive_and_wait() const;
  /// blocking_arrive_and_wait() that gives up after `timeout`: it breaks
  /// the barrier then, and throws broken_barrier.
  template <class Rep, class Period>
  std::uint32_t blocking_wait_for(std::chrono::duration<Rep, Period> timeout) const {
    using steady = std::chrono::steady_clock;
    const auto now = steady::now();
    using wide = std::chrono::duration<long double>;
    const steady::time_point deadline = timeout <= timeout.zero() ? now
                                        : wide(timeout) >= wide(steady::time_point::max() - now)
                                            ? steady::time_point::max()
                                            : now + std::chrono::ceil<steady::duration>(timeout);
    return blocking_wait_until_(deadline, std::chrono::duration<long double, std::milli>(timeout).count());
  }

  /// Breaks the barrier: every wait now and to come throws broken_barrier,
  /// until reset().
  void abort() const;
  /// Empties the barrier and mends it. Waiters of the round it ends throw
  /// broken_barrier.
  void reset() const;

  std::uint32_t parties() const;
  /// Arrivals waiting in the current round.
  std::uint32_t n_waiting() const;
  bool broken() const;

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::barrier;
  static constexpr const char* type_name = "weft::ipc::barrier";
  static std::uint64_t type_tag() noexcept { return 0; }

  explicit barrier(detail::shared_ref r) noexcept : ref_(std::move(r)) {}
  static weft::task<std::uint32_t> arrive_task_(detail::shared_ref ref);
  std::uint32_t blocking_wait_until_(std::chrono::steady_clock::time_point deadline, long double timeout_ms) const;
  detail::barrier_state& state() const;

  detail::shared_ref ref_;
};

template <>
struct serializer<barrier> : detail::handle_serializer<barrier> {};

}  // namespace weft::ipc
