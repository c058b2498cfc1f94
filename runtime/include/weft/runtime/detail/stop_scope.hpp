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

  bool stop_requested() const noexcept { return word_.load(std::memory_order_acquire) & requested; }

  /// Registers cb as this scope's callback. Returns false, registering
  /// nothing, if stop was already requested.
  bool add(stop_callback* cb) noexcept {
    std::uintptr_t w = word_.load(std::memory_order_relaxed);
    do {
      if (w & requested) return false;
    } while (!word_.compare_exchange_weak(w, reinterpret_cast<std::uintptr_t>(cb), std::memory_order_acq_rel,
                                          std::memory_order_relaxed));
    return true;
  }

  /// Unregisters cb. If request_stop() has taken it and is running it on
  /// another thread, waits until it has returned.
  void remove(stop_callback* cb) noexcept {
    const auto mine = reinterpret_cast<std::uintptr_t>(cb);
    std::uintptr_t w = word_.load(std::memory_order_acquire);
    while ((w & ~flag_bits) == mine)
      if (word_.compare_exchange_weak(w, w & flag_bits, std::memory_order_acq_rel, std::memory_order_acquire)) return;
    while (word_.load(std::memory_order_acquire) & running) cpu_relax();
  }

  /// Marks stop as requested and forgets the callback without running it:
  /// for a scope whose frame was destroyed (runtime shutdown), so that a
  /// later request_stop() through a handle does nothing. Single-threaded use.
  void abandon() noexcept { word_.store(requested, std::memory_order_release); }

  /// Requests stop once; runs the registered callback, if any.
  void request_stop() noexcept {
    std::uintptr_t w = word_.load(std::memory_order_acquire);
    std::uintptr_t desired;
    do {
      if (w & requested) return;
      desired = requested | ((w & ~flag_bits) ? running : 0);
    } while (!word_.compare_exchange_weak(w, desired, std::memory_order_acq_rel, std::memory_order_acquire));
    if (auto* cb = reinterpret_cast<stop_callback*>(w & ~flag_bits)) {
      cb->invoke(cb);
      word_.fetch_and(~running, std::memory_order_release);
    }
  }

 private:
  // One word: the callback's address, with the two low bits as flags
  // (callbacks are pointer-aligned).
  static constexpr std::uintptr_t requested = 1, running = 2, flag_bits = 3;
  std::atomic<std::uintptr_t> word_{0};
};

}  // namespace weft::detail
