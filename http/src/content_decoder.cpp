// gzip/deflate decoding with zlib, output bounded (see content_decoder.hpp).
#include "weft/http/content_decoder.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "weft/http/parser.hpp"

namespace weft::http {

std::optional<content_coding> parse_content_coding(std::string_view value) noexcept {
  std::optional<content_coding> found;
  bool any = false;
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view tok = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
    while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
    if (tok.empty() || iequals(tok, "identity")) continue;
    if (any) return std::nullopt;  // stacked codings: not decoded
    any = true;
    if (iequals(tok, "gzip") || iequals(tok, "x-gzip")) found = content_coding::gzip;
    else if (iequals(tok, "deflate")) found = content_coding::deflate;
    else return std::nullopt;
  }
  return any ? found : content_coding::identity;
}

struct content_decoder::impl {
  content_coding coding;
  std::uint64_t max_output;
  std::uint64_t out_total = 0;
  z_stream zs{};
  bool initialized = false;  // inflateInit2 done (deflate waits for 2 bytes)
  bool ended = false;        // Z_STREAM_END seen for the current member
  bool any_input = false;
  unsigned char head[2]{};  // deflate: the first bytes, to tell zlib from raw
  std::size_t head_len = 0;

  impl(content_coding c, std::uint64_t max) : coding(c), max_output(max) {}
  ~impl() {
    if (initialized) inflateEnd(&zs);
  }

  [[noreturn]] void bad(const std::string& why) {
    throw client_error(client_errc::bad_encoding, {},
                       std::string(coding == content_coding::gzip ? "gzip" : "deflate") + " body: " + why);
  }

  void init(int window_bits) {
    if (inflateInit2(&zs, window_bits) != Z_OK) throw std::bad_alloc();
    initialized = true;
  }

  void inflate_some(const unsigned char* in, std::size_t n, std::string& out) {
    zs.next_in = const_cast<unsigned char*>(in);  // zlib's API is not const-correct
    zs.avail_in = static_cast<uInt>(n);
    unsigned char buf[16 * 1024];
    while (zs.avail_in > 0 || !ended) {
      if (ended) {
        // Bytes after the end of a member: gzip allows another member,
        // deflate allows nothing.
        if (coding != content_coding::gzip) bad("data after the end of the stream");
        if (inflateReset(&zs) != Z_OK) bad("cannot restart for the next member");
        ended = false;
      }
      zs.next_out = buf;
      zs.avail_out = sizeof buf;
      int rc = inflate(&zs, Z_NO_FLUSH);
      std::size_t produced = sizeof buf - zs.avail_out;
      if (produced > max_output - out_total)
        throw client_error(client_errc::response_too_large, {},
                           "decoded body exceeds max_response_bytes (" + std::to_string(max_output) + ")");
      out.append(reinterpret_cast<const char*>(buf), produced);
      out_total += produced;
      if (rc == Z_STREAM_END) {
        ended = true;
        continue;
      }
      if (rc == Z_BUF_ERROR) break;  // needs more input (none was usable)
      if (rc != Z_OK) bad(zs.msg ? zs.msg : "corrupt data (zlib error " + std::to_string(rc) + ")");
      if (zs.avail_in == 0 && zs.avail_out != 0) break;  // all input used, output drained
    }
  }
};

content_decoder::content_decoder(content_coding coding, std::uint64_t max_output)
    : impl_(std::make_unique<impl>(coding, max_output)) {
  if (coding == content_coding::gzip) impl_->init(15 + 16);
}
content_decoder::content_decoder(content_decoder&&) noexcept = default;
content_decoder& content_decoder::operator=(content_decoder&&) noexcept = default;
content_decoder::~content_decoder() = default;

std::uint64_t content_decoder::total_out() const noexcept { return impl_->out_total; }

void content_decoder::feed(std::span<const std::byte> in, std::string& out) {
  impl& d = *impl_;
  if (in.empty()) return;
  d.any_input = true;
  auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size();
  if (d.coding == content_coding::identity) {
    if (n > d.max_output - d.out_total)
      throw client_error(client_errc::response_too_large, {},
                         "body exceeds max_response_bytes (" + std::to_string(d.max_output) + ")");
    out.append(reinterpret_cast<const char*>(p), n);
    d.out_total += n;
    return;
  }
  if (!d.initialized) {
    // deflate: a zlib header is CMF FLG with CM = 8 and (CMF*256+FLG) % 31
    // == 0; anything else is taken for raw deflate. Gather two bytes first.
    while (d.head_len < 2 && n > 0) {
      d.head[d.head_len++] = *p++;
      --n;
    }
    if (d.head_len < 2) return;
    bool zlib_wrapped = (d.head[0] & 0x0f) == 8 && ((d.head[0] << 8) | d.head[1]) % 31 == 0;
    d.init(zlib_wrapped ? 15 : -15);
    d.inflate_some(d.head, 2, out);
  }
  d.inflate_some(p, n, out);
}

void content_decoder::finish() {
  impl& d = *impl_;
  if (d.coding == content_coding::identity || !d.any_input) return;
  if (!d.initialized || !d.ended) d.bad("truncated (the stream did not end)");
}

}  // namespace weft::http
