// weft::ipc::event: a flag processes wait on (multiprocessing.Event).
//
//   weft::ipc::event ready;                // in the parent, then pass it to workers
//   co_await ready.wait();                 // in a task: until some process calls set()
//   ready.blocking_wait();                 // in a worker process or a plain thread
//   if (!ready.blocking_wait_for(2s)) ...  // false: still not set after 2 s
//   ready.set();                           // wakes every waiter, in every process
//   ready.clear();  ready.is_set();
//
// A handle: copies (in any process, or sent to a worker) name the same
// event, which lives in the shared heap. set() wakes every waiter at once;
// the flag stays set (later waits pass straight through) until clear().
// A wait that began before a set() ends even if clear() follows at once: a
// set() then clear() pulse is never missed. A process that dies, waiting
// or not, leaves the event as it was.
//
// Cancellation and deadlines: wait() waits on the runtime's blocking pool
// (a thread sleeps on the event's futex word, not a worker). A task
// cancelled while waiting — with_timeout, when_any, cancel() — throws
// operation_cancelled (timeout_error under with_timeout) at once; there is
// nothing to give back. wait_for(d) in a task and blocking_wait_for(d)
// return false instead when d passes first (Python's wait(timeout)). A
// wait() that finds the flag set returns with no pool hop. A runtime
// shutting down waits a quarter second at most for a pool thread waiting.
#pragma once

#include <chrono>
#include <cstdint>

#include "weft/ipc/detail/shared_block.hpp"
#include "weft/runtime/task.hpp"

namespace weft::ipc {

namespace detail {
struct event_state;
}

class event {
 public:
  /// A new event in the shared heap, clear unless `initially_set`.
  explicit event(bool initially_set = false);

  /// Sets the flag and wakes every waiter.
  void set() const;
  /// Clears the flag.
  void clear() const;
  /// Whether the flag is set right now.
  bool is_set() const;

  /// Waits in a task until the flag is set.
  weft::task<void> wait() const;
  /// wait() that gives up after `timeout`: true if the flag was set, false
  /// if the time passed first (no timeout_error).
  template <class Rep, class Period>
  weft::task<bool> wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return wait_until_(std::chrono::steady_clock::now() +
                       std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }
  /// Blocks the calling thread until the flag is set: for worker processes
  /// and plain threads. Throws std::logic_error on a runtime worker thread
  /// (co_await wait() there).
  void blocking_wait() const;
  /// blocking_wait() that gives up after `timeout`: true if the flag was
  /// set, false if the time passed first.
  template <class Rep, class Period>
  bool blocking_wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return blocking_wait_until_(std::chrono::steady_clock::now() +
                                std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::event;
  static constexpr const char* type_name = "weft::ipc::event";
  static std::uint64_t type_tag() noexcept { return 0; }

  explicit event(detail::shared_ref r) noexcept : ref_(std::move(r)) {}
  static weft::task<bool> wait_task_(detail::shared_ref ref, std::chrono::steady_clock::time_point deadline);
  static weft::task<void> wait_forever_task_(detail::shared_ref ref);
  weft::task<bool> wait_until_(std::chrono::steady_clock::time_point deadline) const;
  bool blocking_wait_until_(std::chrono::steady_clock::time_point deadline) const;
  detail::event_state& state() const;

  detail::shared_ref ref_;
};

template <>
struct serializer<event> : detail::handle_serializer<event> {};

}  // namespace weft::ipc
