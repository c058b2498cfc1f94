// libFuzzer target for the Redis reply parser (redis/src/reply_reader.cpp:
// hiredis' reader building weft::redis::reply values, with a size bound).
//
// Input: one flags byte, then the byte stream a server would send. The
// flags pick a small reply limit (bit 0: 64 bytes, else 1 MiB) and seed
// the split points (bits 1-7). The stream is fed whole and in
// pseudo-random pieces; the runs must return the same replies (the split
// run may fail earlier: see below), every failure is reply_stream_error,
// no incomplete reply may hold more than the limit without failing, and a reply's rendering
// (to_string, used in messages) must not throw.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "reply_reader.hpp"

namespace redis = weft::redis;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "redis_reply_fuzz: %s\n", what);
  std::abort();
}

struct outcome {
  std::vector<redis::reply> replies;
  bool failed = false;
  bool operator==(const outcome&) const = default;
};

outcome parse(const char* data, std::size_t size, std::size_t limit, unsigned seed) {
  outcome r;
  redis::detail::reply_reader reader(limit);
  try {
    std::size_t pos = 0;
    while (pos < size) {
      std::size_t n = size - pos;
      if (seed != 0) {
        seed = seed * 1103515245u + 12345u;
        n = std::min<std::size_t>(n, 1 + (seed >> 16) % 7);
      }
      reader.feed(data + pos, n);
      pos += n;
      while (std::optional<redis::reply> rep = reader.next()) {
        (void)rep->to_string();
        r.replies.push_back(std::move(*rep));
      }
      if (reader.buffered() > limit) fail("more than the limit buffered without an error");
    }
  } catch (const redis::detail::reply_stream_error&) {
    r.failed = true;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned flags = data[0];
  const std::size_t limit = (flags & 1) ? 64 : (1 << 20);
  const char* stream = reinterpret_cast<const char*>(data + 1);
  const outcome whole = parse(stream, size - 1, limit, 0);
  const outcome pieces = parse(stream, size - 1, limit, (flags >> 1) | 1);
  // Split feeding may fail where whole feeding does not (a long reply
  // arriving in pieces passes the limit before it is complete), never the
  // other way round, and the replies it returned are the first of whole's.
  if (whole.failed && !pieces.failed) fail("whole feeding failed where split feeding did not");
  if (pieces.replies.size() > whole.replies.size()) fail("split feeding returned more replies");
  for (std::size_t i = 0; i < pieces.replies.size(); ++i)
    if (!(pieces.replies[i] == whole.replies[i])) fail("whole and split feeding disagree");
  if (!pieces.failed && pieces.replies.size() != whole.replies.size()) fail("whole and split feeding disagree");
  return 0;
}
