// weft::oneshot<T>(): a channel for exactly one value (a promise/future
// pair, Tokio's oneshot).
//
//   auto [tx, rx] = weft::oneshot<int>();
//   weft::spawn(compute(std::move(tx)));   // ... tx.send(42);
//   int v = co_await rx;                   // 42
//
// send() never waits; it returns false if the receiver is gone. If the
// sender is destroyed without sending, the receiver's co_await throws
// weft::channel_closed. Cancellation: a task cancelled while awaiting the
// receiver throws operation_cancelled; the receiver stays usable.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "weft/runtime/sync/channel.hpp"

namespace weft {

template <class T>
class oneshot_sender {
 public:
  oneshot_sender() noexcept = default;
  explicit oneshot_sender(std::shared_ptr<channel<T>> ch) noexcept : ch_(std::move(ch)) {}
  oneshot_sender(oneshot_sender&&) noexcept = default;
  oneshot_sender& operator=(oneshot_sender&& o) noexcept {
    if (this != &o) {
      reset();
      ch_ = std::move(o.ch_);
    }
    return *this;
  }
  ~oneshot_sender() { reset(); }

  /// Delivers v; false if the receiver was dropped. Throws std::logic_error
  /// if this sender was already used.
  bool send(T v) {
    if (!ch_) throw std::logic_error("weft::oneshot_sender: already sent or empty");
    const bool ok = ch_->try_send(v);
    reset();
    return ok;
  }
  bool valid() const noexcept { return ch_ != nullptr; }

 private:
  void reset() noexcept {
    if (auto ch = std::move(ch_)) ch->close();
  }
  std::shared_ptr<channel<T>> ch_;
};

template <class T>
class oneshot_receiver {
 public:
  oneshot_receiver() noexcept = default;
  explicit oneshot_receiver(std::shared_ptr<channel<T>> ch) noexcept : ch_(std::move(ch)) {}
  oneshot_receiver(oneshot_receiver&&) noexcept = default;
  oneshot_receiver& operator=(oneshot_receiver&& o) noexcept {
    if (this != &o) {
      reset();
      ch_ = std::move(o.ch_);
    }
    return *this;
  }
  ~oneshot_receiver() { reset(); }

  class [[nodiscard]] awaiter {
   public:
    explicit awaiter(channel<T>& ch) noexcept : inner_(ch.recv()) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) { return inner_.await_suspend(h); }
    T await_resume() { return value_or_throw(inner_.await_resume()); }

   private:
    typename channel<T>::recv_awaiter inner_;
  };

  /// Waits for the value. Throws channel_closed if the sender was dropped
  /// without sending.
  awaiter operator co_await() {
    check();
    return awaiter(*ch_);
  }
  /// The value if it has been sent; nullopt while it has not.
  std::optional<T> try_recv() {
    check();
    return ch_->try_recv();
  }
  /// For a plain thread: blocks it until the value comes.
  T blocking_recv() {
    check();
    return value_or_throw(ch_->blocking_recv());
  }

 private:
  static T value_or_throw(std::optional<T>&& v) {
    if (!v) throw channel_closed("weft: oneshot sender dropped without sending");
    return std::move(*v);
  }
  void check() const {
    if (!ch_) throw std::logic_error("weft::oneshot_receiver: empty");
  }
  void reset() noexcept {
    if (auto ch = std::move(ch_)) ch->close();
  }
  std::shared_ptr<channel<T>> ch_;
};

/// A connected sender/receiver pair.
template <class T>
std::pair<oneshot_sender<T>, oneshot_receiver<T>> oneshot() {
  auto ch = std::make_shared<channel<T>>(1);
  return {oneshot_sender<T>(ch), oneshot_receiver<T>(ch)};
}

}  // namespace weft
