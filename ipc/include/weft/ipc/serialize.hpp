// PLACEHOLDER for the serializer's customization point (the real
// weft/ipc/serialize.hpp is written on another branch and replaces this
// file when both are merged). It holds only the declarations the shared
// objects build on, with the smallest definitions that let them link:
//
//   template <> struct weft::ipc::serializer<my_type> {
//     template <class Writer> static void encode(Writer& w, const my_type& v);  // w.write(p, n)
//     static my_type decode(weft::ipc::byte_reader& r);
//   };
//   weft::ipc::size_counter c;  weft::ipc::encode(c, value);     // first pass: the size
//   weft::ipc::byte_writer w(buf, c.size());  weft::ipc::encode(w, value);
//   weft::ipc::byte_reader r(buf, n);  auto v = weft::ipc::decode<my_type>(r);
//
// Reading past the end throws serialization_error; nothing here waits, so
// cancellation and deadlines do not apply.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>

#include "weft/ipc/errors.hpp"

namespace weft::ipc {

/// Reads a serialized value back, front to back.
class byte_reader {
 public:
  byte_reader(const std::byte* src, std::size_t n) noexcept : p_(src), n_(n) {}
  /// Copies the next n bytes to p.
  void read(void* p, std::size_t n) {
    if (n) std::memcpy(p, take(n), n);
  }
  /// The next n bytes, in place.
  const std::byte* take(std::size_t n) {
    if (n > n_)
      throw serialization_error("weft::ipc::byte_reader: " + std::to_string(n) + " bytes wanted, " +
                                std::to_string(n_) + " left");
    const std::byte* p = p_;
    p_ += n;
    n_ -= n;
    return p;
  }
  std::size_t remaining() const noexcept { return n_; }

 private:
  const std::byte* p_;
  std::size_t n_;
};

/// A writer that only counts: the first of the two passes.
class size_counter {
 public:
  void write(const void*, std::size_t n) noexcept { n_ += n; }
  std::size_t size() const noexcept { return n_; }

 private:
  std::size_t n_ = 0;
};

/// A writer into a buffer of known capacity: the second pass.
class byte_writer {
 public:
  byte_writer(std::byte* dst, std::size_t capacity) noexcept : p_(dst), cap_(capacity) {}
  void write(const void* p, std::size_t n) {
    if (n > cap_ - n_)
      throw serialization_error("weft::ipc::byte_writer: " + std::to_string(n) + " more bytes do not fit in " +
                                std::to_string(cap_) + " (" + std::to_string(n_) + " written)");
    if (n) std::memcpy(p_ + n_, p, n);
    n_ += n;
  }
  std::size_t written() const noexcept { return n_; }

 private:
  std::byte* p_;
  std::size_t cap_;
  std::size_t n_ = 0;
};

template <class T, class Enable = void>
struct serializer;

template <class Writer, class T>
void encode(Writer& w, const T& v) {
  serializer<T>::encode(w, v);
}

template <class T>
T decode(byte_reader& r) {
  return serializer<T>::decode(r);
}

}  // namespace weft::ipc
