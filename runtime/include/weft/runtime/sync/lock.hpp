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

template <class Mutex>
class [[nodiscard]] unique_lock {
 public:
  using mutex_type = Mutex;

  unique_lock() noexcept = default;
  /// Takes over a lock the caller already holds.
  unique_lock(Mutex& m, std::adopt_lock_t) noexcept : m_(&m) {}
  unique_lock(unique_lock&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  unique_lock& operator=(unique_lock&& o) noexcept {
    if (this != &o) {
      reset();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  ~unique_lock() { reset(); }

  bool owns_lock() const noexcept { return m_ != nullptr; }
  explicit operator bool() const noexcept { return owns_lock(); }
  Mutex* mutex() const noexcept { return m_; }

  /// Unlocks now (no effect if nothing is owned).
  void unlock() noexcept { reset(); }
  /// Gives up ownership without unlocking; returns the mutex.
  Mutex* release() noexcept { return std::exchange(m_, nullptr); }

 private:
  void reset() noexcept {
    if (Mutex* m = std::exchange(m_, nullptr)) m->unlock();
  }
  Mutex* m_ = nullptr;
};

template <class Mutex>
class [[nodiscard]] shared_lock {
 public:
  using mutex_type = Mutex;

  shared_lock() noexcept = default;
  shared_lock(Mutex& m, std::adopt_lock_t) noexcept : m_(&m) {}
  shared_lock(shared_lock&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  shared_lock& operator=(shared_lock&& o) noexcept {
    if (this != &o) {
      reset();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  ~shared_lock() { reset(); }

  bool owns_lock() const noexcept { return m_ != nullptr; }
  explicit operator bool() const noexcept { return owns_lock(); }
  Mutex* mutex() const noexcept { return m_; }
  void unlock() noexcept { reset(); }
  Mutex* release() noexcept { return std::exchange(m_, nullptr); }

 private:
  void reset() noexcept {
    if (Mutex* m = std::exchange(m_, nullptr)) m->unlock_shared();
  }
  Mutex* m_ = nullptr;
};

}  // namespace weft
