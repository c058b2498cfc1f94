// The stream concepts that buffered readers, TLS and HTTP plug into, and
// the helpers every stream gets from them.
//
// A readable stream has  task<std::size_t> read_some(std::span<std::byte>, deadline)
//   (0 means end of stream, never an exception);
// a writable stream has  task<std::size_t> write_some(std::span<const std::byte>, deadline).
// tcp_stream, unix_stream, io::buffered_reader and tls_stream are streams.
//
//   std::byte head[4];
//   co_await weft::io::read_exact(s, head);       // throws io::unexpected_eof
//   co_await weft::io::write_all(s, weft::io::as_bytes("hello"));
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string_view>

#include "weft/io/deadline.hpp"
#include "weft/runtime/task.hpp"

namespace weft::io {

template <class S>
concept readable_stream = requires(S& s, std::span<std::byte> buf, deadline d) {
  {s.read_some(buf, d)};
};

template <class S>
concept writable_stream = requires(S& s, std::span<const std::byte> buf, deadline d) {
  {s.write_some(buf, d)};
};

template <class S>
concept stream = readable_stream<S> && writable_stream<S>;

/// The stream ended before the bytes a read_exact needed arrived.
class unexpected_eof : public std::runtime_error {
 public:
  unexpected_eof() : std::runtime_error("unexpected end of stream") {}
};

inline std::span<const std::byte> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::span<std::byte> as_writable_bytes(std::span<char> s) noexcept {
  return {reinterpret_cast<std::byte*>(s.data()), s.size()};
}

/// Writes every byte of `buf` (several write_some calls if need be).
template <writable_stream S>
task<void> write_all(S& s, std::span<const std::byte> buf, deadline d = {}) {
  while (!buf.empty()) {
    std::size_t n = co_await s.write_some(buf, d);
    buf = buf.subspan(n);
  }
}

/// Fills `buf` completely; throws unexpected_eof if the stream ends first.
template <readable_stream S>
task<void> read_exact(S& s, std::span<std::byte> buf, deadline d = {}) {
  while (!buf.empty()) {
    std::size_t n = co_await s.read_some(buf, d);
    if (n == 0) throw unexpected_eof{};
    buf = buf.subspan(n);
  }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
template <readable_stream S>
task<std::size_t> read_full(S& s, std::span<std::byte> buf, deadline d = {}) {
  std::size_t total = 0;
  while (total < buf.size()) {
    std::size_t n = co_await s.read_some(buf.subspan(total), d);
    if (n == 0) break;
    total += n;
  }
  co_return total;
}

}  // namespace weft::io
