// weft::unique_lock<M> and weft::shared_lock<M>: the scoped guards that
// co_await m.lock() and co_await m.lock_shared() return.
//
//   auto guard = co_await m.lock();   // unlocked when `guard` goes away
//   guard.unlock();                   // or earlier, by hand
//
// They are movable, not copyable; a default-constructed or moved-from
// guard owns nothing. try_lock() returns a guard that may not own the
// mutex: test it with `if (auto g = m.try_lock())`.
#pragma once

#include <mutex>
#include <utility>

namespace weft {

namespace detail {

/// The one guard behind unique_lock and shared_lock: owns a lock on a
/// mutex (exclusive or shared) and releases it when it goes away.
template <class Mutex, bool Shared>
class [[nodiscard]] basic_lock {
 public:
  using mutex_type = Mutex;

  basic_lock() noexcept = default;
  /// Takes over a lock the caller already holds.
  basic_lock(Mutex& m, std::adopt_lock_t) noexcept : m_(&m) {}
  basic_lock(basic_lock&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  basic_lock& operator=(basic_lock&& o) noexcept {
    if (this != &o) {
      reset();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  ~basic_lock() { reset(); }

  bool owns_lock() const noexcept { return m_ != nullptr; }
  explicit operator bool() const noexcept { return owns_lock(); }
  Mutex* mutex() const noexcept { return m_; }

  /// Unlocks now (no effect if nothing is owned).
  void unlock() noexcept { reset(); }
  /// Gives up ownership without unlocking; returns the mutex.
  Mutex* release() noexcept { return std::exchange(m_, nullptr); }

 private:
  void reset() noexcept {
    Mutex* m = std::exchange(m_, nullptr);
    if (!m) return;
    if constexpr (Shared) m->unlock_shared();
    else m->unlock();
  }
  Mutex* m_ = nullptr;
};

}  // namespace detail

/// Exclusive ownership: unlock() when it goes away.
template <class Mutex>
using unique_lock = detail::basic_lock<Mutex, false>;

/// Shared ownership: unlock_shared() when it goes away.
template <class Mutex>
using shared_lock = detail::basic_lock<Mutex, true>;

}  // namespace weft
