// The byte sinks and the byte source the serializer (serialize.hpp) runs on.
//
//   weft::ipc::size_counter n;  weft::ipc::encode(n, value);        // pass 1: exact size
//   weft::ipc::byte_writer w(slot, n.size());  weft::ipc::encode(w, value);  // pass 2
//   weft::ipc::byte_reader r(slot, n.size());  auto v = weft::ipc::decode<T>(r);
//
// Arguments and results are written straight into shared memory (a ring
// slot or an arena block), so encoding is two passes over the value: one
// that only counts and one that copies into a buffer of exactly that size.
// A writer is anything with `void write(const void* p, std::size_t n)`.
// Nothing here suspends, so cancellation and deadlines do not apply; a
// write past the end or a read past the end throws serialization_error and
// leaves the buffer's earlier bytes as they were.
#pragma once

#include <cstddef>
#include <cstring>

#include "weft/ipc/errors.hpp"

namespace weft::ipc {

namespace detail::ser {
[[noreturn]] void throw_overflow(std::size_t offset, std::size_t n, std::size_t capacity);
[[noreturn]] void throw_truncated(std::size_t need, std::size_t left, std::size_t offset);
}  // namespace detail::ser

/// The first pass: counts the bytes an encoding would write.
class size_counter {
 public:
  void write(const void*, std::size_t n) noexcept { size_ += n; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_ = 0;
};

/// The second pass: copies into [dst, dst + capacity). A write that would
/// overflow throws serialization_error before touching the buffer.
class byte_writer {
 public:
  byte_writer(std::byte* dst, std::size_t capacity) noexcept : dst_(dst), capacity_(capacity) {}

  void write(const void* p, std::size_t n) {
    if (n > capacity_ - written_) detail::ser::throw_overflow(written_, n, capacity_);
    // memcpy from a null pointer is undefined even for 0 bytes, and an
    // empty vector's data() may be null.
    if (n != 0) std::memcpy(dst_ + written_, p, n);
    written_ += n;
  }
  std::size_t written() const noexcept { return written_; }

 private:
  std::byte* dst_;
  std::size_t capacity_;
  std::size_t written_ = 0;
};

/// Reads an encoding back. Reading past the end throws serialization_error
/// ("truncated: need 8 bytes, 3 left (at offset 16)").
class byte_reader {
 public:
  byte_reader(const std::byte* src, std::size_t n) noexcept : begin_(src), cur_(src), end_(src + n) {}

  void read(void* p, std::size_t n) {
    if (n > remaining()) detail::ser::throw_truncated(n, remaining(), offset());
    if (n != 0) std::memcpy(p, cur_, n);
    cur_ += n;
  }
  /// The next n bytes in place (for bulk copies); advances past them.
  const std::byte* take(std::size_t n) {
    if (n > remaining()) detail::ser::throw_truncated(n, remaining(), offset());
    const std::byte* p = cur_;
    cur_ += n;
    return p;
  }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - cur_); }

 private:
  std::size_t offset() const noexcept { return static_cast<std::size_t>(cur_ - begin_); }

  const std::byte* begin_;
  const std::byte* cur_;
  const std::byte* end_;
};

}  // namespace weft::ipc
