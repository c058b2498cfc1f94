// weft::channel<T>: a bounded multi-producer multi-consumer queue (Go's
// channels, Python's queue.Queue) for tasks and threads.
//
//   weft::channel<job> jobs{64};
//   // producers:
//   co_await jobs.send(make_job());        // waits while the channel is full
//   jobs.close();                          // no more jobs: instead of a poison pill
//   // consumers:
//   while (auto j = co_await jobs.recv())  // empty optional: closed and drained
//     run(*j);
//
// Capacity 0 makes a rendezvous channel: send() waits for a receiver and
// hands the value over directly. Values are delivered in send order, to
// receivers in arrival order (FIFO on both sides).
// After close(), recv() drains what is buffered and then returns an empty
// optional to everyone; send() throws weft::channel_closed (also to senders
// waiting in a full channel when it closes: their values are not sent).
// try_send()/try_recv() never wait; blocking_send()/blocking_recv() are for
// plain threads.
// Cancellation: a task cancelled in send() throws operation_cancelled and
// its value was not sent; cancelled in recv(), it throws and took nothing.
// A value already handed to it is kept: the operation completed anyway.
#pragma once

#include <coroutine>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "weft/runtime/sync/detail/wait_queue.hpp"

namespace weft {

namespace detail {

template <class T>
struct channel_state : wait_target {
  static constexpr std::uint8_t sender = 0, receiver = 1;

  explicit channel_state(std::size_t cap)
      : wait_target(&cancel), capacity(cap), ring(cap ? std::make_unique<std::optional<T>[]>(cap) : nullptr) {}

  void push(T&& v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    ring[(head + size) % capacity].emplace(std::move(v));
    ++size;
  }
  T pop() {
    std::optional<T>& cell = ring[head];
    T v = std::move(*cell);
    cell.reset();
    head = (head + 1) % capacity;
    --size;
    return v;
  }

  /// Under the lock: delivers v now (to a waiting receiver or the buffer),
  /// or reports the channel closed (w.closed), both returning true; or
  /// queues w with v as its payload.
  bool send_or_enqueue(waiter& w, T& v, wake_batch& wake) {
    if (closed) {
      w.closed = true;
      return true;
    }
    if (waiter* r = receivers.pop_front()) {  // only when the buffer is empty
      static_cast<std::optional<T>*>(r->slot)->emplace(std::move(v));
      wake.grant(r);
      return true;
    }
    if (size < capacity) {
      push(std::move(v));
      return true;
    }
    w.kind = sender;
    w.slot = &v;
    senders.push_back(&w);
    return false;
  }

  /// Under the lock: takes a value into `out` (empty once closed and
  /// drained) and returns true, or queues w to receive into `out`.
  bool recv_or_enqueue(waiter& w, std::optional<T>& out, wake_batch& wake) {
    if (size > 0) {
      out.emplace(pop());
      if (waiter* s = senders.pop_front()) {  // its value takes the freed slot
        push(std::move(*static_cast<T*>(s->slot)));
        wake.grant(s);
      }
      return true;
    }
    if (waiter* s = senders.pop_front()) {  // rendezvous: straight from the sender
      out.emplace(std::move(*static_cast<T*>(s->slot)));
      wake.grant(s);
      return true;
    }
    if (closed) return true;
    w.kind = receiver;
    w.slot = &out;
    receivers.push_back(&w);
    return false;
  }

  void close(wake_batch& wake) noexcept {
    closed = true;
    while (waiter* r = receivers.pop_front()) wake.grant(r);
    while (waiter* s = senders.pop_front()) {
      s->closed = true;
      wake.grant(s);
    }
  }

  static void cancel(wait_target* t, waiter* w, wake_batch&) noexcept {
    auto* st = static_cast<channel_state*>(t);
    (w->kind == sender ? st->senders : st->receivers).remove(w);
  }

  const std::size_t capacity;
  std::unique_ptr<std::optional<T>[]> ring;
  std::size_t head = 0, size = 0;
  bool closed = false;
  wait_list senders, receivers;
};

}  // namespace detail

template <class T>
class channel {
 public:
  /// capacity 0: rendezvous (every send waits for its receiver).
  explicit channel(std::size_t capacity) : st_(capacity) {}
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  class [[nodiscard]] send_awaiter : detail::task_wait {
   public:
    send_awaiter(channel& c, T v) : task_wait(c.st_), c_(c), value_(std::move(v)) {}
    send_awaiter(send_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
        : task_wait(std::move(o)), c_(o.c_), value_(std::move(o.value_)) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      detail::wake_batch wake;  // woken receivers, after the lock is released
      return suspend_task(h, "weft::channel::send",
                          [&](detail::waiter& w) { return c_.st_.send_or_enqueue(w, value_, wake); });
    }
    void await_resume() {
      finish_wait();
      if (w_.closed) throw channel_closed{};
    }

   private:
    channel& c_;
    T value_;
  };

  class [[nodiscard]] recv_awaiter : detail::task_wait {
   public:
    explicit recv_awaiter(channel& c) noexcept : task_wait(c.st_), c_(c) {}
    recv_awaiter(recv_awaiter&& o) noexcept : task_wait(std::move(o)), c_(o.c_) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      detail::wake_batch wake;
      return suspend_task(h, "weft::channel::recv",
                          [&](detail::waiter& w) { return c_.st_.recv_or_enqueue(w, out_, wake); });
    }
    std::optional<T> await_resume() {
      finish_wait();
      return std::move(out_);
    }

   private:
    channel& c_;
    std::optional<T> out_;
  };

  /// Sends v, waiting while the channel is full. Throws channel_closed.
  send_awaiter send(T v) { return send_awaiter(*this, std::move(v)); }
  /// The next value, waiting while the channel is empty; an empty optional
  /// once it is closed and drained.
  recv_awaiter recv() noexcept { return recv_awaiter(*this); }

  /// Sends v if that needs no waiting; false (v untouched) if the channel is
  /// full or closed.
  bool try_send(T& v) {
    detail::wake_batch wake;
    std::lock_guard lock(st_.lock);
    if (st_.closed || (st_.receivers.empty() && st_.size == st_.capacity)) return false;
    detail::waiter unused;
    st_.send_or_enqueue(unused, v, wake);
    return true;
  }
  bool try_send(T&& v) { return try_send(v); }
  /// A value if one is ready right now.
  std::optional<T> try_recv() {
    detail::wake_batch wake;
    std::lock_guard lock(st_.lock);
    std::optional<T> out;
    if (st_.size == 0 && st_.senders.empty()) return out;
    detail::waiter unused;
    st_.recv_or_enqueue(unused, out, wake);
    return out;
  }

  /// send() for a plain thread: blocks it. Throws channel_closed, and
  /// std::logic_error on a runtime worker thread.
  void blocking_send(T v) {
    detail::waiter w;
    {
      detail::wake_batch wake;
      detail::block_thread(w, st_.lock, "weft::channel::blocking_send",
                           [&](detail::waiter& me) { return st_.send_or_enqueue(me, v, wake); });
    }
    if (w.closed) throw channel_closed{};
  }
  /// recv() for a plain thread.
  std::optional<T> blocking_recv() {
    detail::waiter w;
    std::optional<T> out;
    detail::wake_batch wake;
    detail::block_thread(w, st_.lock, "weft::channel::blocking_recv",
                         [&](detail::waiter& me) { return st_.recv_or_enqueue(me, out, wake); });
    return out;
  }

  /// Closes the channel: wakes every waiting receiver (they get what is
  /// buffered, then nothing) and fails every waiting sender. Idempotent.
  void close() noexcept {
    detail::wake_batch wake;
    std::lock_guard lock(st_.lock);
    st_.close(wake);
  }
  bool is_closed() const noexcept {
    std::lock_guard lock(st_.lock);
    return st_.closed;
  }
  /// Values buffered right now.
  std::size_t size() const noexcept {
    std::lock_guard lock(st_.lock);
    return st_.size;
  }
  std::size_t capacity() const noexcept { return st_.capacity; }

 private:
  mutable detail::channel_state<T> st_;
};

}  // namespace weft
