// weft::ipc::shared_value<T>: one value shared by processes
// (multiprocessing.Value, without the lock: use atomics or an ipc::mutex).
//
//   weft::ipc::shared_value<long> hits{0};   // in the parent, then pass it to workers
//   hits.fetch_add(1);                       // atomic, in any process
//   long n = hits.load();
//   hits.unsafe_ref() += 1;                  // plain, racy access: only under a lock
//
// A handle: copies (in any process, or sent to a worker) name the same
// value, which lives in the shared heap; the last handle dropped, in
// whichever process, frees it. T must be trivially copyable, and every
// operation goes through std::atomic_ref<T>, which must be lock-free
// (T of 1, 2, 4 or 8 bytes, aligned to its size): the other atomics take
// a lock from a table private to each process, so they would not exclude
// another process. Nothing here waits, so
// cancellation and deadlines do not apply.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "weft/ipc/detail/shared_block.hpp"

namespace weft::ipc {

template <class T>
class shared_value {
  static_assert(std::is_trivially_copyable_v<T>, "weft::ipc::shared_value<T>: T must be trivially copyable");
  static_assert(std::atomic_ref<T>::is_always_lock_free,
                "weft::ipc::shared_value<T>: std::atomic_ref<T> must be lock-free (a T of 1, 2, 4 or 8 bytes): "
                "other atomics lock a table private to each process; use a shared_array and an ipc::mutex");
  static_assert(alignof(T) >= std::atomic_ref<T>::required_alignment,
                "weft::ipc::shared_value<T>: T must be aligned to its size (declare it alignas(sizeof(T))), or "
                "compilers call libatomic instead of emitting lock-free instructions");

  // The value alone in its block, aligned as atomic_ref wants it.
  struct alignas(std::atomic_ref<T>::required_alignment) cell {
    T value;
  };

 public:
  using value_type = T;
  using order = std::memory_order;

  /// A new shared T{}.
  shared_value() : shared_value(T{}) {}
  /// A new shared value holding `initial`.
  explicit shared_value(const T& initial)
      : ref_(detail::allocate_block(kind, type_tag(), sizeof(cell), alignof(cell))) {
    ::new (static_cast<void*>(ref_.object<cell>())) cell{initial};
  }

  T load(order o = std::memory_order_seq_cst) const noexcept { return atomic().load(o); }
  void store(T v, order o = std::memory_order_seq_cst) const noexcept { atomic().store(v, o); }
  T exchange(T v, order o = std::memory_order_seq_cst) const noexcept { return atomic().exchange(v, o); }
  bool compare_exchange_strong(T& expected, T desired, order o = std::memory_order_seq_cst) const noexcept {
    return atomic().compare_exchange_strong(expected, desired, o);
  }
  bool compare_exchange_weak(T& expected, T desired, order o = std::memory_order_seq_cst) const noexcept {
    return atomic().compare_exchange_weak(expected, desired, o);
  }
  T fetch_add(T v, order o = std::memory_order_seq_cst) const noexcept
      requires(std::is_integral_v<T> || std::is_floating_point_v<T>) &&
      (!std::is_same_v<T, bool>) {
    return atomic().fetch_add(v, o);
  }
  T fetch_sub(T v, order o = std::memory_order_seq_cst) const noexcept
      requires(std::is_integral_v<T> || std::is_floating_point_v<T>) &&
      (!std::is_same_v<T, bool>) {
    return atomic().fetch_sub(v, o);
  }
  T fetch_and(T v, order o = std::memory_order_seq_cst) const noexcept requires std::is_integral_v<T> &&
      (!std::is_same_v<T, bool>) {
    return atomic().fetch_and(v, o);
  }
  T fetch_or(T v, order o = std::memory_order_seq_cst) const noexcept requires std::is_integral_v<T> &&
      (!std::is_same_v<T, bool>) {
    return atomic().fetch_or(v, o);
  }
  T fetch_xor(T v, order o = std::memory_order_seq_cst) const noexcept requires std::is_integral_v<T> &&
      (!std::is_same_v<T, bool>) {
    return atomic().fetch_xor(v, o);
  }

  /// The value as a std::atomic_ref, for what the members above lack.
  std::atomic_ref<T> atomic() const noexcept { return std::atomic_ref<T>(ref_.object<cell>()->value); }

  /// The value itself, for deliberately non-atomic access: racy (lost
  /// updates, torn reads) unless every process that touches it holds the
  /// same ipc::mutex, or only one process is left.
  T& unsafe_ref() const noexcept { return ref_.object<cell>()->value; }

  /// False only for a moved-from handle.
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  /// Handles to this value, in all processes together.
  std::uint32_t use_count() const noexcept { return ref_.use_count(); }

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::value;
  static constexpr const char* type_name = "weft::ipc::shared_value";
  static std::uint64_t type_tag() noexcept { return detail::type_tag_of<T>(); }
  explicit shared_value(detail::shared_ref r) noexcept : ref_(std::move(r)) {}

  detail::shared_ref ref_;
};

template <class T>
struct serializer<shared_value<T>> : detail::handle_serializer<shared_value<T>> {};

}  // namespace weft::ipc
