// The byte sinks and source the serializer runs on (weft/ipc/byte_stream.hpp):
// size_counter, byte_writer and byte_reader, alone and under encode/decode:
// exact sizes, overflow refused before touching the buffer, truncation
// reported with what was missing.
#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "weft/ipc/byte_stream.hpp"
#include "weft/ipc/serialize.hpp"

namespace ipc = weft::ipc;

TEST_CASE("serialize: the reader reports what was missing", "[ipc][serialize]") {
  std::array<std::byte, 3> three{};
  ipc::byte_reader r(three.data(), three.size());
  CHECK_THROWS_WITH(ipc::decode<std::uint64_t>(r), Catch::StartsWith("truncated: need 8 bytes, 3 left"));
  CHECK(r.remaining() == 3);
  CHECK(r.take(2) == three.data());
  CHECK(r.remaining() == 1);
  CHECK_THROWS_AS(r.take(2), ipc::serialization_error);
  std::byte b;
  r.read(&b, 1);
  CHECK(r.remaining() == 0);
  ipc::byte_reader empty(nullptr, 0);
  CHECK(empty.remaining() == 0);
  CHECK_THROWS_AS(ipc::decode<char>(empty), ipc::serialization_error);
}

TEST_CASE("serialize: byte_writer refuses to overflow and leaves the rest of the buffer alone", "[ipc][serialize]") {
  std::array<std::byte, 16> buf;
  buf.fill(std::byte{0xEE});
  ipc::byte_writer w(buf.data(), 12);
  std::uint64_t x = 1;
  w.write(&x, 8);
  CHECK(w.written() == 8);
  CHECK_THROWS_WITH(w.write(&x, 8),
                    "weft::ipc: encoded data does not fit: writing 8 bytes at offset 8 of a 12-byte buffer");
  CHECK(w.written() == 8);
  for (std::size_t i = 8; i < buf.size(); ++i) CHECK(buf[i] == std::byte{0xEE});
  w.write(nullptr, 0);
  CHECK(w.written() == 8);

  std::string s(100, 'a');
  std::vector<std::byte> small(ipc::encoded_size(s) - 1);
  ipc::byte_writer w2(small.data(), small.size());
  CHECK_THROWS_AS(ipc::encode(w2, s), ipc::serialization_error);

  ipc::size_counter c;
  c.write(nullptr, 5);
  c.write(nullptr, 0);
  CHECK(c.size() == 5);
}

TEST_CASE("byte_stream: count, write into exactly that much, read back in order", "[ipc][serialize]") {
  const std::uint32_t word = 0xA1B2C3D4;
  const char text[] = "weft";
  const std::uint16_t half = 7;
  auto put_all = [&](auto& sink) {
    sink.write(&word, sizeof word);
    sink.write(text, 4);
    sink.write(nullptr, 0);
    sink.write(&half, sizeof half);
  };
  ipc::size_counter n;
  put_all(n);
  REQUIRE(n.size() == 10);

  std::vector<std::byte> buf(n.size());
  ipc::byte_writer w(buf.data(), buf.size());
  put_all(w);
  CHECK(w.written() == 10);
  CHECK(std::memcmp(buf.data() + 4, "weft", 4) == 0);

  ipc::byte_reader r(buf.data(), buf.size());
  CHECK(r.remaining() == 10);
  std::uint32_t word_back = 0;
  r.read(&word_back, sizeof word_back);
  CHECK(word_back == 0xA1B2C3D4);
  const std::byte* in_place = r.take(4);
  CHECK(in_place == buf.data() + 4);
  CHECK(r.take(0) == buf.data() + 8);
  std::uint16_t half_back = 0;
  r.read(&half_back, sizeof half_back);
  CHECK(half_back == 7);
  CHECK(r.remaining() == 0);
  r.read(nullptr, 0);  // reading nothing at the end is fine
  CHECK_THROWS_WITH(r.read(&half_back, 1), "truncated: need 1 byte, 0 left (at offset 10)");
  CHECK(half_back == 7);
}
