// Cooperative cancellation: a stop scope with one callback slot.
//
// A task is suspended in at most one place at a time, so a scope needs only one
// callback: the one its current suspension point registered. request_stop()
// runs that callback (on the requesting thread); remove() waits while it runs,
// so the awaiter that owns the callback can be destroyed safely afterwards.
// Scopes nest: with_timeout opens a child scope and forwards the parent's stop
// to it through the parent's slot.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// A callback run when stop is requested. Must not resume the waiting task
/// inline: it may only make it runnable (schedule it) or post work.
struct stop_callback {
  void (*invoke)(stop_callback*) noexcept;
};

class stop_scope {
 public:
  stop_scope() = default;
  stop_scope(const stop_scope&) = delete;
  stop_scope& operator=(const stop_scope&) = delete;

  bool stop_requested() const noexcept { return bits_.load(std::memory_order_acquire) & requested; }

  /// Registers cb as this scope's callback. Returns false, registering
  /// nothing, if stop was already requested.
  bool add(stop_callback* cb) noexcept {
    lock();
    if (bits_.load(std::memory_order_relaxed) & requested) {
      unlock();
      return false;
    }
    cb_ = cb;
    unlock();
    return true;
  }

  /// Unregisters cb. If request_stop() has taken it and is running it on
  /// another thread, waits until it has returned.
  void remove(stop_callback* cb) noexcept {
    lock();
    if (cb_ == cb) {
      cb_ = nullptr;
      unlock();
      return;
    }
    unlock();
    while (bits_.load(std::memory_order_acquire) & running) cpu_relax();
  }

  /// Requests stop once; runs the registered callback, if any.
  void request_stop() noexcept {
    lock();
    if (bits_.load(std::memory_order_relaxed) & requested) {
      unlock();
      return;
    }
    stop_callback* cb = cb_;
    cb_ = nullptr;
    bits_.fetch_or(requested | (cb ? running : 0u), std::memory_order_relaxed);
    unlock();
    if (cb) {
      cb->invoke(cb);
      bits_.fetch_and(~running, std::memory_order_release);
    }
  }

 private:
  static constexpr std::uint32_t requested = 1, locked = 2, running = 4;

  void lock() noexcept {
    for (;;) {
      std::uint32_t b = bits_.load(std::memory_order_relaxed);
      if (!(b & locked) &&
          bits_.compare_exchange_weak(b, b | locked, std::memory_order_acquire))
        return;
      cpu_relax();
    }
  }
  void unlock() noexcept { bits_.fetch_and(~locked, std::memory_order_release); }

  std::atomic<std::uint32_t> bits_{0};
  stop_callback* cb_ = nullptr;
};

}  // namespace weft::detail
