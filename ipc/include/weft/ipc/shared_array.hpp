// weft::ipc::shared_array<T>: a fixed-size array shared by processes
// (multiprocessing.Array, without the lock).
//
//   weft::ipc::shared_array<double> out(1000);   // zeros; or (n, value), or from a span
//   out[i] = f(i);                               // plain access: each worker its own slice
//   out.atomic(0).fetch_add(1.0);                // atomic access to one element
//   for (double x : out.span()) ...
//
// A handle: copies (in any process, or sent to a worker) name the same
// array, which lives in the shared heap; the last handle dropped, in
// whichever process, frees it. T must be trivially copyable. Plain element
// access is not synchronized: give each process its own elements, use
// atomic(i) (T's std::atomic_ref must then be lock-free, with T aligned to
// its size, since the others lock a table private to each process), or
// hold an ipc::mutex. Nothing here waits, so cancellation and deadlines do
// not apply.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "weft/ipc/detail/shared_block.hpp"

namespace weft::ipc {

template <class T>
class shared_array {
  static_assert(std::is_trivially_copyable_v<T>, "weft::ipc::shared_array<T>: T must be trivially copyable");

  static constexpr std::size_t elem_align = std::max(alignof(T), std::atomic_ref<T>::required_alignment);
  static constexpr std::size_t data_offset = (sizeof(std::uint64_t) + elem_align - 1) / elem_align * elem_align;
  // The block's object: the length, then the elements.
  struct alignas(std::max(elem_align, alignof(std::uint64_t))) head {
    std::uint64_t size;
  };

 public:
  using value_type = T;
  using iterator = T*;

  /// n value-initialized elements (zeros for arithmetic types).
  explicit shared_array(std::size_t n) : shared_array(n, T{}) {}
  /// n copies of `value`.
  shared_array(std::size_t n, const T& value) : ref_(make(n)) { std::fill_n(data(), n, value); }
  /// A copy of `values`.
  explicit shared_array(std::span<const T> values) : ref_(make(values.size())) {
    std::copy(values.begin(), values.end(), data());
  }

  std::size_t size() const noexcept { return static_cast<std::size_t>(ref_.object<head>()->size); }
  bool empty() const noexcept { return size() == 0; }
  T* data() const noexcept { return reinterpret_cast<T*>(reinterpret_cast<char*>(ref_.object<head>()) + data_offset); }
  /// Unchecked, like std::span.
  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  /// Checked: throws std::out_of_range.
  T& at(std::size_t i) const { return data()[check(i, "at")]; }
  std::span<T> span() const noexcept { return {data(), size()}; }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + size(); }

  /// Element i as a std::atomic_ref (checked: throws std::out_of_range).
  std::atomic_ref<T> atomic(std::size_t i) const {
    static_assert(std::atomic_ref<T>::is_always_lock_free,
                  "weft::ipc::shared_array<T>::atomic: std::atomic_ref<T> must be lock-free (a T of 1, 2, 4 or 8 "
                  "bytes): other atomics lock a table private to each process");
    static_assert(alignof(T) >= std::atomic_ref<T>::required_alignment,
                  "weft::ipc::shared_array<T>::atomic: T must be aligned to its size (declare it "
                  "alignas(sizeof(T))), or compilers call libatomic instead of emitting lock-free instructions");
    return std::atomic_ref<T>(data()[check(i, "atomic")]);
  }

  /// False only for a moved-from handle.
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  /// Handles to this array, in all processes together.
  std::uint32_t use_count() const noexcept { return ref_.use_count(); }

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::array;
  static constexpr const char* type_name = "weft::ipc::shared_array";
  static std::uint64_t type_tag() noexcept { return detail::type_tag_of<T>(); }
  explicit shared_array(detail::shared_ref r) noexcept : ref_(std::move(r)) {}

  static detail::shared_ref make(std::size_t n) {
    if (n > (std::numeric_limits<std::size_t>::max() - data_offset) / sizeof(T))
      throw std::length_error("weft::ipc::shared_array: " + std::to_string(n) + " elements of " +
                              std::to_string(sizeof(T)) + " bytes do not fit in memory");
    detail::shared_ref r(detail::allocate_block(kind, type_tag(), data_offset + n * sizeof(T), alignof(head)));
    r.object<head>()->size = n;
    return r;
  }
  std::size_t check(std::size_t i, const char* what) const {
    if (i >= size())
      throw std::out_of_range(std::string("weft::ipc::shared_array::") + what + ": index " + std::to_string(i) +
                              " out of range for size " + std::to_string(size()));
    return i;
  }

  detail::shared_ref ref_;
};

template <class T>
struct serializer<shared_array<T>> : detail::handle_serializer<shared_array<T>> {};

}  // namespace weft::ipc
