// weft::ipc::process_queue<T>: a bounded multi-producer, multi-consumer
// queue between processes (multiprocessing.Queue).
//
//   weft::ipc::process_queue<job> q{64};           // 64 items, 1 MiB of payload
//   co_await q.push(j);                            // parent task: waits for room
//   while (auto j = co_await q.pop()) handle(*j);  // nullopt once closed and drained
//   q.blocking_push(j);  auto j = q.blocking_pop();  // worker processes, plain threads
//   auto j = q.blocking_pop(2s);                   // ... giving up after 2 s: timeout_error
//   auto k = q.blocking_pop_for(2s);  q.blocking_push_for(j, 2s);   // the same, by other names
//   q.try_push(j);  q.try_pop();  q.close();  q.size();
//
// A handle: copies (in any process, or sent to a worker) name the same
// queue, which lives in the shared heap. Items are serialized (see
// weft/ipc/serialize.hpp) into a byte ring bounded both in items and in
// payload bytes; push() serializes before it waits, so an item larger than
// capacity_bytes fails at once with serialization_error, and a push waits
// while the queue holds capacity_items items or lacks the room. close()
// lets the items already queued be popped; pushing to a closed queue
// throws weft::channel_closed. Not fair.
//
// A process that dies while it holds the queue's internal lock (for the
// few microseconds of a copy into or out of the ring) may leave the ring
// half-written: from then on every operation on the queue throws
// owner_died_error. A process killed anywhere else loses nothing queued.
// try_push, try_pop and close never wait for room or items, but may wait
// the moment another process holds that lock.
//
// Cancellation and deadlines: push() and pop() in a task wait on the
// runtime's blocking pool (a thread sleeps on a futex word, not a worker);
// the item is moved on the task's own thread, never by the pool thread. A
// task cancelled while waiting — with_timeout, when_any, cancel() — throws
// operation_cancelled (timeout_error under with_timeout) at once, having
// pushed or popped nothing. A push that finds room, or a pop that finds an
// item, makes no pool hop. A runtime shutting down waits a quarter second
// at most for a pool thread waiting. blocking_push(v, d) and
// blocking_pop(d) give up after d with weft::timeout_error, having pushed or
// popped nothing (multiprocessing's put/get with a timeout, which raise
// queue.Full / queue.Empty).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weft/ipc/detail/shared_block.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft::ipc {

namespace detail {

using item_bytes = std::vector<std::byte>;

/// The untyped queue that process_queue<T> serializes into.
struct queue_core {
  static shared_ref create(std::size_t capacity_items, std::size_t capacity_bytes, std::uint64_t type_tag);
  /// Rethrows `error` (the item's serialization failed) when awaited.
  static weft::task<void> push(shared_ref q, item_bytes item, std::exception_ptr error);
  static weft::task<std::optional<item_bytes>> pop(shared_ref q);
  /// Throw weft::timeout_error once `deadline` passes (time_point::max():
  /// never); `timeout` only words the message.
  static void blocking_push(const shared_ref& q, const item_bytes& item, weft::clock::time_point deadline,
                            weft::clock::duration timeout);
  static std::optional<item_bytes> blocking_pop(const shared_ref& q, weft::clock::time_point deadline,
                                                weft::clock::duration timeout);
  static bool try_push(const shared_ref& q, const item_bytes& item);
  static std::optional<item_bytes> try_pop(const shared_ref& q);
  static void close(const shared_ref& q);
  static bool closed(const shared_ref& q);
  static std::size_t size(const shared_ref& q);
  static std::size_t capacity_items(const shared_ref& q);
  static std::size_t capacity_bytes(const shared_ref& q);
};

}  // namespace detail

template <class T>
class process_queue {
 public:
  using value_type = T;

  /// A new, empty queue holding at most `capacity_items` items and
  /// `capacity_bytes` bytes of serialized items. Throws
  /// std::invalid_argument if either is 0.
  explicit process_queue(std::size_t capacity_items, std::size_t capacity_bytes = std::size_t{1} << 20)
      : ref_(detail::queue_core::create(capacity_items, capacity_bytes, type_tag())) {}

  /// Waits in a task for room, then appends `value` (serialized at the
  /// call). Throws serialization_error, without waiting, if it does not
  /// fit even in an empty queue; weft::channel_closed if the queue is closed.
  weft::task<void> push(const T& value) const {
    // Serialized now, so the task holds bytes, not a reference to `value`;
    // a failure is thrown where the task is awaited, as any other.
    detail::item_bytes bytes;
    std::exception_ptr error;
    try {
      bytes = encode_item(value);
    } catch (...) {
      error = std::current_exception();
    }
    return detail::queue_core::push(ref_, std::move(bytes), std::move(error));
  }
  /// Waits in a task for an item and takes it; nullopt once the queue is
  /// closed and empty.
  weft::task<std::optional<T>> pop() const { return pop_task_(ref_); }

  /// push() for worker processes and plain threads: blocks the thread.
  /// Throws std::logic_error on a runtime worker thread.
  void blocking_push(const T& value) const {
    detail::queue_core::blocking_push(ref_, encode_item(value), weft::clock::time_point::max(), {});
  }
  /// pop() for worker processes and plain threads: blocks the thread.
  /// Throws std::logic_error on a runtime worker thread.
  std::optional<T> blocking_pop() const {
    return decode_item(detail::queue_core::blocking_pop(ref_, weft::clock::time_point::max(), {}));
  }
  /// blocking_push() that gives up after `timeout`: throws
  /// weft::timeout_error, and the value is not queued.
  template <class Rep, class Period>
  void blocking_push(const T& value, std::chrono::duration<Rep, Period> timeout) const {
    detail::queue_core::blocking_push(ref_, encode_item(value), weft::detail::deadline_after(timeout),
                                      std::chrono::duration_cast<weft::clock::duration>(timeout));
  }
  /// blocking_pop() that gives up after `timeout`: throws
  /// weft::timeout_error if no item came (nullopt still means closed and
  /// drained).
  template <class Rep, class Period>
  std::optional<T> blocking_pop(std::chrono::duration<Rep, Period> timeout) const {
    return decode_item(detail::queue_core::blocking_pop(ref_, weft::detail::deadline_after(timeout),
                                                        std::chrono::duration_cast<weft::clock::duration>(timeout)));
  }

  /// The same as blocking_push(value, timeout) and blocking_pop(timeout),
  /// under the names of std::timed_mutex's try_lock_for.
  template <class Rep, class Period>
  void blocking_push_for(const T& value, std::chrono::duration<Rep, Period> timeout) const {
    blocking_push(value, timeout);
  }
  template <class Rep, class Period>
  std::optional<T> blocking_pop_for(std::chrono::duration<Rep, Period> timeout) const {
    return blocking_pop(timeout);
  }

  /// Appends if there is room right now; false if full. Throws as push().
  bool try_push(const T& value) const { return detail::queue_core::try_push(ref_, encode_item(value)); }
  /// Takes an item if there is one right now (nullopt: empty, or closed
  /// and drained: see closed()).
  std::optional<T> try_pop() const { return decode_item(detail::queue_core::try_pop(ref_)); }

  /// No more pushes; the items queued can still be popped. Wakes every
  /// waiter. Idempotent.
  void close() const { detail::queue_core::close(ref_); }
  bool closed() const { return detail::queue_core::closed(ref_); }
  /// Items queued right now (already stale when it returns, as
  /// multiprocessing.Queue.qsize()).
  std::size_t size() const { return detail::queue_core::size(ref_); }
  std::size_t capacity_items() const { return detail::queue_core::capacity_items(ref_); }
  std::size_t capacity_bytes() const { return detail::queue_core::capacity_bytes(ref_); }

  /// False only for a moved-from handle.
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::queue;
  static constexpr const char* type_name = "weft::ipc::process_queue";
  static std::uint64_t type_tag() noexcept { return detail::type_tag_of<T>(); }
  explicit process_queue(detail::shared_ref r) noexcept : ref_(std::move(r)) {}

  detail::item_bytes encode_item(const T& value) const {
    size_counter counter;
    ipc::encode(counter, value);
    const std::size_t n = counter.size();
    if (n > capacity_bytes())
      throw serialization_error("weft::ipc::process_queue: an item of " + std::to_string(n) +
                                " bytes (serialized) does not fit in the queue's capacity_bytes (" +
                                std::to_string(capacity_bytes()) + ")");
    detail::item_bytes bytes(n);
    byte_writer writer(bytes.data(), n);
    ipc::encode(writer, value);
    if (writer.written() != n)
      throw serialization_error("weft::ipc::process_queue: the serializer wrote " + std::to_string(writer.written()) +
                                " bytes after counting " + std::to_string(n));
    return bytes;
  }
  static std::optional<T> decode_item(const std::optional<detail::item_bytes>& bytes) {
    if (!bytes) return std::nullopt;
    byte_reader reader(bytes->data(), bytes->size());
    std::optional<T> value(ipc::decode<T>(reader));
    if (reader.remaining() != 0)
      throw serialization_error("weft::ipc::process_queue: the serializer left " + std::to_string(reader.remaining()) +
                                " of an item's " + std::to_string(bytes->size()) + " bytes unread");
    return value;
  }
  static weft::task<std::optional<T>> pop_task_(detail::shared_ref q) {
    std::optional<detail::item_bytes> bytes = co_await detail::queue_core::pop(std::move(q));
    co_return decode_item(bytes);
  }

  detail::shared_ref ref_;
};

template <class T>
struct serializer<process_queue<T>> : detail::handle_serializer<process_queue<T>> {};

}  // namespace weft::ipc
