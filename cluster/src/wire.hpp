// The messages between rank 0 and the serving ranks. Each MPI message is a
// batch: a sequence of records, each opening with its type byte, in native
// byte order (every rank runs the same binary, which init() checked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace weft::cluster::detail {

enum class msg : std::uint8_t {
  // rank 0 -> server
  open_pool = 1,      // u32 pool, u32 workers (0: cores), i64 timeout ns, u64 max tasks per worker
  call = 2,           // u32 pool, u64 task, u32 function, u8 kind, blob arguments
  cancel = 3,         // u32 pool, u64 task
  shutdown_pool = 4,  // u32 pool, u8 shutdown_mode
  exit = 5,           // the job ends
  // server -> rank 0
  result = 10,        // u32 pool, u64 task, u8 outcome, u64 ns, then by outcome
  pool_closed = 11,   // u32 pool
  pool_workers = 12,  // u32 pool, u32 workers alive, u64 started, u64 restarted (when they changed)
};

enum class outcome : std::uint8_t {
  ok = 0,             // blob result
  remote_error = 1,   // str type, str message
  crashed = 2,        // i32 pid, i32 wait status, str message
  timed_out = 3,      // str message
  cancelled = 4,      //
  serialization = 5,  // str message
  pool_error = 6,     // str message
};

class wire_out {
 public:
  void u8(std::uint8_t v) { put(&v, 1); }
  void u32(std::uint32_t v) { put(&v, sizeof v); }
  void u64(std::uint64_t v) { put(&v, sizeof v); }
  void i32(std::int32_t v) { put(&v, sizeof v); }
  void i64(std::int64_t v) { put(&v, sizeof v); }
  void blob(const std::vector<std::byte>& b) {
    u64(b.size());
    put(b.data(), b.size());
  }
  void str(const std::string& s) {
    u64(s.size());
    put(s.data(), s.size());
  }
  void append(const wire_out& o) { put(o.buf_.data(), o.buf_.size()); }
  void raw(const std::byte* p, std::size_t n) { put(p, n); }
  bool empty() const noexcept { return buf_.empty(); }
  std::size_t size() const noexcept { return buf_.size(); }
  std::vector<std::byte>& bytes() noexcept { return buf_; }
  void clear() noexcept { buf_.clear(); }

 private:
  void put(const void* p, std::size_t n) {
    if (n == 0) return;
    std::size_t at = buf_.size();
    buf_.resize(at + n);
    std::memcpy(buf_.data() + at, p, n);
  }
  std::vector<std::byte> buf_;
};

/// Reads a batch; a truncated one throws std::runtime_error (it would be
/// a bug: every rank runs the same code).
class wire_in {
 public:
  wire_in(const std::byte* p, std::size_t n) noexcept : p_(p), end_(p + n) {}
  bool done() const noexcept { return p_ == end_; }
  const std::byte* at() const noexcept { return p_; }
  std::uint8_t u8() { return get<std::uint8_t>(); }
  std::uint32_t u32() { return get<std::uint32_t>(); }
  std::uint64_t u64() { return get<std::uint64_t>(); }
  std::int32_t i32() { return get<std::int32_t>(); }
  std::int64_t i64() { return get<std::int64_t>(); }
  std::vector<std::byte> blob() {
    std::size_t n = u64();
    need(n);
    std::vector<std::byte> out(p_, p_ + n);
    p_ += n;
    return out;
  }
  std::string str() {
    std::size_t n = u64();
    need(n);
    std::string out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return out;
  }

 private:
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  void need(std::size_t n) const {
    if (n > static_cast<std::size_t>(end_ - p_)) throw std::runtime_error("weft::cluster: truncated message");
  }
  const std::byte* p_;
  const std::byte* end_;
};

}  // namespace weft::cluster::detail
