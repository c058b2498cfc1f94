// serialize: the process backend's serializer on the payload spawn_process
// moves most, a 1 MiB std::vector<double>, against plain memcpy of the same
// bytes. One iteration encodes it (size pass, then byte_writer into a
// buffer the size of a shared-memory slot) and decodes it into a fresh
// vector; the baseline copies 1 MiB twice (in, then out), which is the
// least a round trip through shared memory can do. Also times a
// std::vector<std::string> of 16,384 strings of 64 bytes (1 MiB of text).
//
// ratio = roundtrip_ns / (2 * memcpy_ns): 1 is memcpy speed; the target is
// <= 2 (half memcpy speed).
//
//   bench_serialize [iterations]     (default 2,000)
//   -> RESULT weft.serialize bytes=1048576 iterations=... encode_gbps=... decode_gbps=... memcpy_gbps=...
//      roundtrip_ns=... memcpy_ns=... ratio=... strings_roundtrip_ns=...
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "weft/ipc/serialize.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;

double seconds_since(bench_clock::time_point t0) {
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

// Keeps the optimizer from dropping a result.
volatile double sink = 0;

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  const std::size_t iterations = arg > 0 ? static_cast<std::size_t>(arg) : 2000;
  constexpr std::size_t bytes = 1 << 20;

  std::vector<double> payload(bytes / sizeof(double));
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<double>(i) * 1.5;
  const std::size_t slot_size = weft::ipc::encoded_size(payload);
  // 64-byte aligned, like a ring slot or an arena block.
  auto slot = std::unique_ptr<std::byte[], void (*)(void*)>(
      static_cast<std::byte*>(std::aligned_alloc(64, (slot_size + 63) / 64 * 64)), std::free);
  auto out =
      std::unique_ptr<std::byte[], void (*)(void*)>(static_cast<std::byte*>(std::aligned_alloc(64, bytes)), std::free);

  // Warm up both paths (page faults, allocator state).
  for (int i = 0; i < 20; ++i) {
    weft::ipc::byte_writer w(slot.get(), slot_size);
    weft::ipc::encode(w, payload);
    weft::ipc::byte_reader r(slot.get(), slot_size);
    sink = sink + weft::ipc::decode<std::vector<double>>(r).back();
    std::memcpy(out.get(), payload.data(), bytes);
  }

  double encode_s = 0, decode_s = 0;
  for (std::size_t i = 0; i < iterations; ++i) {
    auto t0 = bench_clock::now();
    const std::size_t n = weft::ipc::encoded_size(payload);
    weft::ipc::byte_writer w(slot.get(), n);
    weft::ipc::encode(w, payload);
    encode_s += seconds_since(t0);
    t0 = bench_clock::now();
    weft::ipc::byte_reader r(slot.get(), n);
    auto v = weft::ipc::decode<std::vector<double>>(r);
    decode_s += seconds_since(t0);
    if (v.size() != payload.size() || v[12345] != payload[12345]) {
      std::fprintf(stderr, "serialize: bad round trip\n");
      return 1;
    }
    sink = sink + v.back();
  }

  auto t0 = bench_clock::now();
  for (std::size_t i = 0; i < iterations; ++i) {
    std::memcpy(slot.get(), payload.data(), bytes);
    sink = sink + static_cast<double>(std::to_integer<int>(slot[i % bytes]));
  }
  const double memcpy_s = seconds_since(t0);

  std::vector<std::string> strings(bytes / 64, std::string(64, 's'));
  std::vector<std::byte> text_slot(weft::ipc::encoded_size(strings));
  t0 = bench_clock::now();
  const std::size_t string_iterations = iterations / 10 + 1;
  for (std::size_t i = 0; i < string_iterations; ++i) {
    weft::ipc::byte_writer w(text_slot.data(), weft::ipc::encoded_size(strings));
    weft::ipc::encode(w, strings);
    weft::ipc::byte_reader r(text_slot.data(), text_slot.size());
    sink = sink + static_cast<double>(weft::ipc::decode<std::vector<std::string>>(r).size());
  }
  const double strings_s = seconds_since(t0);

  const double n = static_cast<double>(iterations);
  const double gb = static_cast<double>(bytes) / 1e9;
  const double roundtrip_ns = (encode_s + decode_s) / n * 1e9;
  const double memcpy_ns = memcpy_s / n * 1e9;
  std::printf(
      "RESULT weft.serialize bytes=%zu iterations=%zu encode_gbps=%.2f decode_gbps=%.2f memcpy_gbps=%.2f "
      "roundtrip_ns=%.0f memcpy_ns=%.0f ratio=%.2f strings_roundtrip_ns=%.0f\n",
      bytes, iterations, gb * n / encode_s, gb * n / decode_s, gb * n / memcpy_s, roundtrip_ns, memcpy_ns,
      roundtrip_ns / (2 * memcpy_ns), strings_s / static_cast<double>(string_iterations) * 1e9);
  return 0;
}
