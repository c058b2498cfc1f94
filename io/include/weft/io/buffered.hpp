// weft::io::buffered_reader and buffered_writer: buffering over any stream
// (tcp_stream, unix_stream, a TLS stream, your own type; see io/stream.hpp).
//
//   weft::io::buffered_reader in{std::move(conn)};          // owns the stream
//   while (auto line = co_await in.read_line(1024, 30s)) handle(*line);
//
//   weft::io::buffered_reader in{conn};                     // refers to conn (S = tcp_stream&)
//   weft::io::buffered_writer out{conn};
//   co_await out.write("HTTP/1.1 200 OK\r\n");
//   co_await out.write(body);
//   co_await out.flush();                                  // nothing is sent before
//
// Ownership: buffered_reader<S> holds S by value, so an rvalue stream is
// moved in and owned; S may be a reference type (deduced from an lvalue),
// and then the stream must outlive the reader. inner() reaches the stream.
// Layers compose: buffered_reader<buffered_writer<tcp_stream>> is a fully
// buffered duplex stream; each forwards the other direction (read_some /
// write_some) to its inner stream, so both are io::stream when S is.
//
// Parsers (HTTP) use the buffer without copying: fill() reads more into it
// (growing it past the capacity when it is full), buffered() shows the
// bytes, consume(n) drops the first n. A line or record longer than the
// limit given throws io::line_too_long and stays in the buffer.
//
// Deadlines and cancellation: every operation takes an io::deadline; when
// it passes it throws weft::timeout_error, when the task is cancelled
// weft::operation_cancelled. Either way nothing already read is lost: a
// read_line/read_until/read_exact consumes only when it completes, so the
// bytes it had gathered are still in the buffer for the next call. A
// cancelled flush() leaves the bytes not yet sent in the writer's buffer;
// a large write that bypasses the buffer may have been partly sent (close
// the stream). A reader or writer runs one operation at a time. The writer
// does not flush on destruction (that needs co_await): flush() first.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "weft/io/deadline.hpp"
#include "weft/io/stream.hpp"
#include "weft/runtime/task.hpp"

namespace weft::io {

/// A line (read_line) or record (read_until) longer than the limit given.
class line_too_long : public std::runtime_error {
 public:
  explicit line_too_long(std::size_t max_len);
  std::size_t max_length() const noexcept { return max_len_; }

 private:
  std::size_t max_len_;
};

namespace detail {

/// The bytes [begin, end) of a heap block, with room to append after end.
/// Allocated on first use; a moved-from window is empty.
class byte_window {
 public:
  byte_window() noexcept = default;
  byte_window(byte_window&& o) noexcept
      : data_(std::move(o.data_)),
        storage_(std::exchange(o.storage_, 0)),
        begin_(std::exchange(o.begin_, 0)),
        end_(std::exchange(o.end_, 0)) {}
  byte_window& operator=(byte_window&& o) noexcept {
    data_ = std::move(o.data_);
    storage_ = std::exchange(o.storage_, 0);
    begin_ = std::exchange(o.begin_, 0);
    end_ = std::exchange(o.end_, 0);
    return *this;
  }

  std::span<const std::byte> bytes() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
  std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(data_.get()) + begin_, end_ - begin_};
  }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t storage() const noexcept { return storage_; }

  /// The free space after the bytes, at least `min_free` long: moves the
  /// bytes to the front if that makes room, else reallocates (at least
  /// `capacity`, at least double the old block).
  std::span<std::byte> prepare(std::size_t min_free, std::size_t capacity);
  /// The first n of the prepared bytes now hold data.
  void commit(std::size_t n) noexcept { end_ += n; }
  void append(std::span<const std::byte> b, std::size_t capacity) {
    if (b.empty()) return;
    std::memcpy(prepare(b.size(), capacity).data(), b.data(), b.size());
    commit(b.size());
  }
  /// Drops the first n bytes (n <= size()).
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  /// Frees a block grown past `capacity` once it is empty again, so that
  /// one long line does not pin a big buffer for the life of a connection.
  void shrink_if_empty(std::size_t capacity) noexcept {
    if (begin_ == end_ && storage_ > capacity) {
      data_.reset();
      storage_ = 0;
    }
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t storage_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace detail

template <class S>
requires readable_stream<std::remove_reference_t<S>>
class buffered_reader {
 public:
  using stream_type = std::remove_reference_t<S>;
  static constexpr std::size_t default_capacity = 8 * 1024;
  static constexpr std::size_t default_max_line = 64 * 1024;

  /// `capacity`: how much one fill() asks the stream for (0 counts as 1).
  /// (type_identity_t keeps this constructor out of class template argument
  /// deduction, so that the guides below decide owning vs referring.)
  explicit buffered_reader(std::type_identity_t<S> inner, std::size_t capacity = default_capacity)
      : inner_(std::forward<S>(inner)), capacity_(std::max<std::size_t>(capacity, 1)) {}

  stream_type& inner() noexcept { return inner_; }
  const stream_type& inner() const noexcept { return inner_; }
  std::size_t capacity() const noexcept { return capacity_; }

  /// The bytes read from the stream and not consumed yet.
  std::span<const std::byte> buffered() const noexcept { return buf_.bytes(); }
  std::string_view buffered_text() const noexcept { return buf_.text(); }
  /// Drops the first n buffered bytes (std::out_of_range if n > buffered().size()).
  void consume(std::size_t n) {
    if (n > buf_.size()) throw std::out_of_range("buffered_reader::consume: more than is buffered");
    buf_.consume(n);
    buf_.shrink_if_empty(capacity_);
  }

  /// One read of the stream appended to the buffer (which grows when
  /// full); returns the bytes added, 0 at end of stream.
  task<std::size_t> fill(deadline d = {}) {
    std::size_t n = co_await inner_.read_some(buf_.prepare(1, capacity_), d);
    buf_.commit(n);
    co_return n;
  }

  /// Buffered bytes first; a read at least `capacity` long with nothing
  /// buffered goes straight to the stream. 0 at end of stream.
  task<std::size_t> read_some(std::span<std::byte> out, deadline d = {}) {
    if (out.empty()) co_return 0;
    if (buf_.empty()) {
      if (out.size() >= capacity_) co_return co_await inner_.read_some(out, d);
      if (co_await fill(d) == 0) co_return 0;
    }
    const std::size_t n = std::min(out.size(), buf_.size());
    std::memcpy(out.data(), buf_.bytes().data(), n);
    consume(n);
    co_return n;
  }

  /// The next line without its "\n" or "\r\n"; a last line without a
  /// newline is returned as is; std::nullopt at end of stream. A line
  /// longer than max_len throws line_too_long (the bytes stay buffered).
  task<std::optional<std::string>> read_line(std::size_t max_len = default_max_line, deadline d = {}) {
    std::size_t scanned = 0;  // bytes known to hold no '\n'
    for (;;) {
      const std::string_view data = buf_.text();
      if (const std::size_t nl = data.find('\n', scanned); nl != std::string_view::npos) {
        const std::size_t len = nl > 0 && data[nl - 1] == '\r' ? nl - 1 : nl;
        if (len > max_len) throw line_too_long(max_len);
        std::string line(data.substr(0, len));
        consume(nl + 1);
        co_return line;
      }
      // max_len + 2 bytes without '\n': too long even if it ends in "\r".
      if (data.size() >= 2 && data.size() - 2 >= max_len) throw line_too_long(max_len);
      scanned = data.size();
      if (co_await fill(d) == 0) {
        if (buf_.empty()) co_return std::nullopt;
        if (buf_.size() > max_len) throw line_too_long(max_len);
        std::string line(buf_.text());
        consume(line.size());
        co_return line;
      }
    }
  }

  /// The bytes up to `delim` (which is consumed, not returned);
  /// std::nullopt at end of stream, io::unexpected_eof if the stream ends
  /// after some bytes but before `delim`. More than max_len bytes before
  /// `delim` throws line_too_long (they stay buffered).
  task<std::optional<std::string>> read_until(std::string delim, std::size_t max_len = default_max_line,
                                              deadline d = {}) {
    if (delim.empty()) throw std::invalid_argument("buffered_reader::read_until: empty delimiter");
    std::size_t scanned = 0;  // no match starts before this offset
    for (;;) {
      const std::string_view data = buf_.text();
      if (const std::size_t at = data.find(delim, scanned); at != std::string_view::npos) {
        if (at > max_len) throw line_too_long(max_len);
        std::string record(data.substr(0, at));
        consume(at + delim.size());
        co_return record;
      }
      // A later match can start no earlier than the last delim.size() - 1 bytes.
      if (data.size() >= delim.size()) {
        scanned = data.size() - delim.size() + 1;
        if (scanned > max_len) throw line_too_long(max_len);
      }
      if (co_await fill(d) == 0) {
        if (buf_.empty()) co_return std::nullopt;
        throw unexpected_eof{};
      }
    }
  }

  /// Exactly n bytes; io::unexpected_eof if the stream ends first (what
  /// arrived stays buffered). The buffer grows to n if need be.
  task<std::string> read_exact(std::size_t n, deadline d = {}) {
    if (buf_.size() < n) buf_.prepare(n - buf_.size(), capacity_);  // one allocation, not doublings
    while (buf_.size() < n) {
      if (co_await fill(d) == 0) throw unexpected_eof{};
    }
    std::string out(buf_.text().substr(0, n));
    consume(n);
    co_return out;
  }

  /// Writes go straight to the stream (so a reader over a duplex stream is
  /// still a duplex stream).
  task<std::size_t> write_some(std::span<const std::byte> b, deadline d = {}) requires writable_stream<stream_type> {
    co_return co_await inner_.write_some(b, d);
  }

 private:
  S inner_;
  std::size_t capacity_;
  detail::byte_window buf_;
};

/// From an lvalue stream: a reader that refers to it; from an rvalue: one that owns it.
template <class S>
buffered_reader(S&&) -> buffered_reader<S>;
template <class S>
buffered_reader(S&&, std::size_t) -> buffered_reader<S>;

template <class S>
requires writable_stream<std::remove_reference_t<S>>
class buffered_writer {
 public:
  using stream_type = std::remove_reference_t<S>;
  static constexpr std::size_t default_capacity = 8 * 1024;

  /// `capacity`: bytes gathered before a write reaches the stream (0 counts as 1).
  explicit buffered_writer(std::type_identity_t<S> inner, std::size_t capacity = default_capacity)
      : inner_(std::forward<S>(inner)), capacity_(std::max<std::size_t>(capacity, 1)) {}

  stream_type& inner() noexcept { return inner_; }
  const stream_type& inner() const noexcept { return inner_; }
  std::size_t capacity() const noexcept { return capacity_; }
  /// The bytes written and not yet sent to the stream.
  std::span<const std::byte> buffered() const noexcept { return buf_.bytes(); }

  /// Buffers `b`; the stream sees it once the buffer is full or at
  /// flush(). A write of at least `capacity` bytes flushes what is
  /// buffered, then goes straight to the stream (no copy).
  task<void> write(std::span<const std::byte> b, deadline d = {}) {
    if (b.size() <= capacity_ - buf_.size()) {
      buf_.append(b, capacity_);
      co_return;
    }
    co_await send_buffered(d);
    if (b.size() >= capacity_) co_await io::write_all(inner_, b, d);
    else buf_.append(b, capacity_);
  }
  task<void> write(std::string_view s, deadline d = {}) { return write(as_bytes(s), d); }

  /// Sends everything buffered (then flushes the inner stream if it has a
  /// flush(), so layered writers flush through).
  task<void> flush(deadline d = {}) {
    co_await send_buffered(d);
    if constexpr (requires { inner_.flush(d); }) co_await inner_.flush(d);
  }

  /// Accepts some of `b` into the buffer (sending the buffer first when it
  /// is full); returns how many bytes it took.
  task<std::size_t> write_some(std::span<const std::byte> b, deadline d = {}) {
    if (b.empty()) co_return 0;
    if (buf_.empty() && b.size() >= capacity_) co_return co_await inner_.write_some(b, d);
    if (buf_.size() == capacity_) co_await send_buffered(d);
    const std::size_t n = std::min(b.size(), capacity_ - buf_.size());
    buf_.append(b.first(n), capacity_);
    co_return n;
  }

  /// Reads go straight to the stream (unflushed writes are not sent first).
  task<std::size_t> read_some(std::span<std::byte> b, deadline d = {}) requires readable_stream<stream_type> {
    co_return co_await inner_.read_some(b, d);
  }

 private:
  /// Sends the buffer; on an error or cancellation what was not sent stays.
  task<void> send_buffered(deadline d) {
    while (!buf_.empty()) {
      std::size_t n = co_await inner_.write_some(buf_.bytes(), d);
      buf_.consume(n);
    }
  }

  S inner_;
  std::size_t capacity_;
  detail::byte_window buf_;
};

/// From an lvalue stream: a writer that refers to it; from an rvalue: one that owns it.
template <class S>
buffered_writer(S&&) -> buffered_writer<S>;
template <class S>
buffered_writer(S&&, std::size_t) -> buffered_writer<S>;

}  // namespace weft::io
