// weft::ipc::pipe<T>(): two connected ends that pass T values between
// processes — Python's multiprocessing.Pipe.
//
//   auto [parent_end, child_end] = weft::ipc::pipe<std::string>();
//   auto p = weft::ipc::process::start(pong, child_end);   // the child gets its end
//   child_end.close();                                      // ours is not needed here
//   co_await parent_end.send("ping");
//   std::optional<std::string> reply = co_await parent_end.recv();  // nullopt: the other end is gone
//
//   void pong(weft::ipc::connection<std::string> c) {      // in the process
//     while (auto msg = c.blocking_recv()) c.blocking_send("pong: " + *msg);
//   }
//
// A duplex pipe (the default) sends both ways; pipe<T>(false) gives a
// receive-only first end and a send-only second end, as Pipe(False). Each
// direction is a process_queue<T> (weft/ipc/process_queue.hpp) in the
// shared heap: values are serialized, a send waits while the direction
// holds capacity_items values or lacks capacity_bytes, and order is kept.
//
// Ends and end of file: a connection is a handle; copies (in any process,
// or sent to one as an argument) name the same end. An end is closed when
// its last handle goes away in every process — dropped, or close()d, or
// its process exiting normally (the handles in a function's arguments go
// when it returns). Then the other end's recv() returns what is still
// queued and then std::nullopt (Python raises EOFError), and its send()
// throws weft::channel_closed (Python's BrokenPipeError). As with OS pipes,
// keep no copy of an end you gave away, or the other side never sees the
// end of file. A process killed by a signal never drops its handles:
// watch it with process::join, or recv with a timeout.
//
// Cancellation and deadlines: send() and recv() in a task wait as
// process_queue's push() and pop() do — on the runtime's blocking pool,
// and a task cancelled while waiting (with_timeout, when_any, cancel())
// throws operation_cancelled (timeout_error under with_timeout) having sent
// or received nothing. blocking_recv(d) and blocking_send(v, d) give up
// after d with weft::timeout_error.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>

#include "weft/ipc/detail/shared_block.hpp"
#include "weft/ipc/process_queue.hpp"
#include "weft/runtime/task.hpp"

namespace weft::ipc {

struct pipe_options {
  /// Values one direction holds before send() waits.
  std::size_t capacity_items = 64;
  /// Serialized bytes one direction holds; a larger value cannot be sent
  /// (serialization_error).
  std::size_t capacity_bytes = std::size_t{1} << 20;
};

namespace detail {
/// A new end holding references to its sending and receiving queues
/// (either may be empty, for a one-way pipe).
shared_ref make_pipe_end(const shared_ref& send, const shared_ref& recv, std::uint64_t type_tag);
/// A new reference to an end's sending (or receiving) queue; empty if the
/// end has none.
shared_ref pipe_queue(const shared_ref& end, bool sending);
[[noreturn]] void throw_pipe_direction(const char* operation);
}  // namespace detail

template <class T>
class connection;

/// A connected pair of ends (see the top of this file).
template <class T>
std::pair<connection<T>, connection<T>> pipe(bool duplex = true, pipe_options options = {});

template <class T>
class connection {
 public:
  /// An empty handle (for a connection assigned later).
  connection() = default;

  /// Sends a value (serialized at the call); waits in a task while the
  /// direction is full. Throws weft::channel_closed once the other end is
  /// closed, std::logic_error on the receiving end of a one-way pipe.
  weft::task<void> send(const T& value) const { return sending("send").push(value); }
  /// The next value; std::nullopt once the other end is closed and every
  /// value it sent was received.
  weft::task<std::optional<T>> recv() const { return receiving("recv").pop(); }

  /// send() for worker processes and plain threads: blocks the thread.
  void blocking_send(const T& value) const { sending("blocking_send").blocking_push(value); }
  template <class Rep, class Period>
  void blocking_send(const T& value, std::chrono::duration<Rep, Period> timeout) const {
    sending("blocking_send").blocking_push(value, timeout);
  }
  /// recv() for worker processes and plain threads: blocks the thread.
  std::optional<T> blocking_recv() const { return receiving("blocking_recv").blocking_pop(); }
  /// Gives up after `timeout` with weft::timeout_error.
  template <class Rep, class Period>
  std::optional<T> blocking_recv(std::chrono::duration<Rep, Period> timeout) const {
    return receiving("blocking_recv").blocking_pop(timeout);
  }
  /// A value if one is waiting right now.
  std::optional<T> try_recv() const { return receiving("try_recv").try_pop(); }
  /// Whether recv() would return at once: a value waits, or the other end
  /// is closed (Python's poll() with no timeout).
  bool poll() const {
    const process_queue<T>& q = receiving("poll");
    return q.size() > 0 || q.closed();
  }

  bool can_send() const noexcept { return send_.has_value(); }
  bool can_recv() const noexcept { return recv_.has_value(); }
  /// Drops this handle (Python's close()): once no handle of this end is
  /// left in any process, the other end sees the end of file.
  void close() noexcept {
    send_.reset();
    recv_.reset();
    ref_.reset();
  }
  /// False once closed (or for an empty handle).
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }

 private:
  friend struct detail::handle_access;
  friend std::pair<connection<T>, connection<T>> pipe<T>(bool, pipe_options);
  static constexpr detail::block_kind kind = detail::block_kind::pipe_end;
  static constexpr const char* type_name = "weft::ipc::connection";
  static std::uint64_t type_tag() noexcept { return detail::type_tag_of<T>(); }

  explicit connection(detail::shared_ref end) : ref_(std::move(end)) {
    if (auto s = detail::pipe_queue(ref_, true))
      send_.emplace(detail::handle_access::make<process_queue<T>>(std::move(s)));
    if (auto r = detail::pipe_queue(ref_, false))
      recv_.emplace(detail::handle_access::make<process_queue<T>>(std::move(r)));
  }

  const process_queue<T>& sending(const char* operation) const {
    if (!send_) detail::throw_pipe_direction(operation);
    return *send_;
  }
  const process_queue<T>& receiving(const char* operation) const {
    if (!recv_) detail::throw_pipe_direction(operation);
    return *recv_;
  }

  detail::shared_ref ref_;
  std::optional<process_queue<T>> send_;
  std::optional<process_queue<T>> recv_;
};

template <class T>
struct serializer<connection<T>> : detail::handle_serializer<connection<T>> {};

template <class T>
std::pair<connection<T>, connection<T>> pipe(bool duplex, pipe_options options) {
  using detail::handle_access;
  process_queue<T> a_to_b(options.capacity_items, options.capacity_bytes);
  const detail::shared_ref& ab = handle_access::ref(a_to_b);
  const std::uint64_t tag = detail::type_tag_of<T>();
  if (!duplex) {
    // Pipe(False): the first end receives, the second sends.
    connection<T> reader(detail::make_pipe_end({}, ab, tag));
    connection<T> writer(detail::make_pipe_end(ab, {}, tag));
    return {std::move(reader), std::move(writer)};
  }
  process_queue<T> b_to_a(options.capacity_items, options.capacity_bytes);
  const detail::shared_ref& ba = handle_access::ref(b_to_a);
  connection<T> a(detail::make_pipe_end(ab, ba, tag));
  connection<T> b(detail::make_pipe_end(ba, ab, tag));
  return {std::move(a), std::move(b)};
}

}  // namespace weft::ipc
