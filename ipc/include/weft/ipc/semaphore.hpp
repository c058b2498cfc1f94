// weft::ipc::semaphore: a counting semaphore shared by processes
// (multiprocessing.Semaphore).
//
//   weft::ipc::semaphore slots{4};       // at most 4 holders, over all processes
//   co_await slots.acquire();            // in a task
//   slots.blocking_acquire();            // in a worker process or a plain thread
//   ...
//   slots.release();
//
// A handle: copies (in any process, or sent to a worker) name the same
// semaphore, which lives in the shared heap. Not fair. A process that dies
// between acquire and release takes its permit with it (as with POSIX
// semaphores: a semaphore has no owner to check on).
//
// Cancellation and deadlines: acquire() waits on the runtime's blocking
// pool (a thread sleeps on the count's futex word, not a worker). A task
// cancelled while waiting — with_timeout, when_any, cancel() — throws
// operation_cancelled (timeout_error under with_timeout) at once, and no
// permit is lost: one the pool thread took meanwhile is released. An
// acquire() that finds a permit free takes it with no pool hop. A runtime
// shutting down waits a quarter second at most for a pool thread waiting.
#pragma once

#include <chrono>
#include <cstdint>

#include "weft/ipc/detail/shared_block.hpp"
#include "weft/runtime/task.hpp"

namespace weft::ipc {

namespace detail {
struct semaphore_state;
}

class semaphore {
 public:
  /// The most permits a semaphore can count.
  static constexpr std::uint32_t max_value = 0x7fffffff;

  /// A new semaphore holding `initial` permits. Throws
  /// std::invalid_argument above max_value.
  explicit semaphore(std::uint64_t initial);

  /// Waits for a permit in a task and takes it.
  weft::task<void> acquire() const;
  /// Blocks the calling thread until it takes a permit: for worker
  /// processes and plain threads. Throws std::logic_error on a runtime
  /// worker thread (co_await acquire() there).
  void blocking_acquire() const;
  /// blocking_acquire() that gives up after `timeout`; true if it took one.
  template <class Rep, class Period>
  bool try_acquire_for(std::chrono::duration<Rep, Period> timeout) const {
    return try_acquire_until_(std::chrono::steady_clock::now() +
                              std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }
  /// Takes a permit if one is free right now. Never waits.
  bool try_acquire() const;
  /// Returns n permits. Throws std::overflow_error (returning none) if the
  /// count would pass max_value.
  void release(std::uint32_t n = 1) const;
  /// Permits free right now.
  std::uint32_t value() const;

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::semaphore;
  static constexpr const char* type_name = "weft::ipc::semaphore";
  static std::uint64_t type_tag() noexcept { return 0; }

  explicit semaphore(detail::shared_ref r) noexcept : ref_(std::move(r)) {}
  static weft::task<void> acquire_task_(detail::shared_ref ref);
  bool try_acquire_until_(std::chrono::steady_clock::time_point deadline) const;
  detail::semaphore_state& state() const;

  detail::shared_ref ref_;
};

template <>
struct serializer<semaphore> : detail::handle_serializer<semaphore> {};

}  // namespace weft::ipc
