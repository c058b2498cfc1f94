// libFuzzer target for weft::http::content_decoder (gzip and deflate).
//
// Input: one flags byte, then the encoded body. The flags pick the coding
// (bit 0: deflate, else gzip), a small output bound (bit 1: 4 KiB, else
// 1 MiB) and seed the split points (bits 2-7). The body is decoded whole
// and in pseudo-random pieces; both runs must agree on the output and on
// the error (none, bad_encoding, response_too_large), the output must
// never pass the bound, and every failure must be a client_error.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "weft/http/client_error.hpp"
#include "weft/http/content_decoder.hpp"

namespace http = weft::http;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "content_decoder_fuzz: %s\n", what);
  std::abort();
}

struct outcome {
  std::string out;
  int error = -1;  // -1: none, else the client_errc
  bool operator==(const outcome&) const = default;
};

outcome decode(http::content_coding coding, std::uint64_t bound, std::span<const std::byte> in, unsigned seed) {
  outcome r;
  http::content_decoder d{coding, bound};
  try {
    std::size_t pos = 0;
    while (pos < in.size()) {
      std::size_t n = in.size() - pos;
      if (seed != 0) {
        seed = seed * 1103515245u + 12345u;
        n = std::min<std::size_t>(n, 1 + (seed >> 16) % 97);
      }
      d.feed(in.subspan(pos, n), r.out);
      pos += n;
    }
    d.finish();
  } catch (const http::client_error& e) {
    if (e.code() != http::client_errc::bad_encoding && e.code() != http::client_errc::response_too_large)
      fail("unexpected client_errc");
    r.error = static_cast<int>(e.code());
  }
  if (r.out.size() > bound) fail("output passed the bound");
  if (d.total_out() != r.out.size() && r.error == -1) fail("total_out differs from the output");
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const auto coding = (flags & 1) ? http::content_coding::deflate : http::content_coding::gzip;
  const std::uint64_t bound = (flags & 2) ? 4096 : (1u << 20);
  const std::span<const std::byte> body{reinterpret_cast<const std::byte*>(data + 1), size - 1};
  const outcome whole = decode(coding, bound, body, 0);
  const outcome split = decode(coding, bound, body, 1u + (flags >> 2));
  // Past the bound the two runs may stop at different points of the output;
  // otherwise they must agree byte for byte.
  if (whole.error != split.error) fail("whole and split decoding disagree on the error");
  if (whole.error == -1 && whole.out != split.out) fail("whole and split decoding disagree on the output");
  return 0;
}
