// The RESP2 reply parser: hiredis' reader (redisReader, nothing else of
// hiredis), building weft::redis::reply values directly through its
// object callbacks, with a bound on the bytes a reply may take. Private:
// the public headers do not include hiredis.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>

#include "weft/redis/reply.hpp"

struct redisReader;

namespace weft::redis::detail {

/// The byte stream is not RESP, or a reply exceeds the limit; the reader
/// is then unusable (the connection must be closed).
class reply_stream_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class reply_reader {
 public:
  /// max_reply_bytes: the most bytes one reply may take on the wire.
  explicit reply_reader(std::size_t max_reply_bytes);
  ~reply_reader();
  reply_reader(const reply_reader&) = delete;
  reply_reader& operator=(const reply_reader&) = delete;

  /// Hands over bytes received.
  void feed(const char* data, std::size_t n);
  /// The next complete reply, or nullopt until more bytes come; throws
  /// reply_stream_error.
  std::optional<reply> next();
  /// Bytes received and not yet part of a returned reply.
  std::size_t buffered() const noexcept;

 private:
  redisReader* r_;
  std::size_t max_reply_bytes_;
  const char* failure_ = nullptr;  // set by the callbacks
};

}  // namespace weft::redis::detail
