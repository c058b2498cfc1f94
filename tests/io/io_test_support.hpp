// Helpers shared by the io tests: every I/O test runs on both drivers.
//
//   TEST_CASE("...") {
//     auto backend = WEFT_BOTH_BACKENDS();
//     weft::runtime rt{io_options(backend)};
//     rt.block_on(...);
//   }
//
// memory_stream is a scripted in-memory stream, for the code that works on
// any stream (io/stream.hpp, io/buffered.hpp).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "test_support.hpp"
#include "weft/io.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/sync/event.hpp"

/// A Catch2 generator over io_uring and epoll; the chosen one is CAPTUREd.
#define WEFT_BOTH_BACKENDS()                                                \
  [] {                                                                      \
    auto b = GENERATE(weft::io_backend::io_uring, weft::io_backend::epoll); \
    UNSCOPED_INFO("io backend: " << weft::to_string(b));                    \
    return b;                                                               \
  }()

namespace weft_test {

inline weft::runtime_options io_options(weft::io_backend b, unsigned workers = 2) {
  weft::runtime_options o;
  o.workers = workers;
  o.io = b;
  return o;
}

inline std::span<const std::byte> bytes(std::string_view s) { return weft::io::as_bytes(s); }

inline std::string text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

/// An in-memory stream: each read_some returns (part of) the next scripted
/// chunk, then end of stream; writes are recorded, at most max_write bytes
/// each, and wait for `write_gate` when it is set.
struct memory_stream {
  std::deque<std::string> incoming;
  std::size_t reads = 0;
  std::string written;
  std::vector<std::size_t> write_sizes;
  std::size_t max_write = SIZE_MAX;
  weft::event* write_gate = nullptr;

  weft::task<std::size_t> read_some(std::span<std::byte> buf, weft::io::deadline = {}) {
    ++reads;
    if (incoming.empty() || buf.empty()) co_return 0;
    std::string& front = incoming.front();
    const std::size_t n = std::min(buf.size(), front.size());
    std::memcpy(buf.data(), front.data(), n);
    front.erase(0, n);
    if (front.empty()) incoming.pop_front();
    co_return n;
  }

  weft::task<std::size_t> write_some(std::span<const std::byte> buf, weft::io::deadline d = {}) {
    if (write_gate)
      co_await weft::io::within(d, [](weft::event& e) -> weft::task<void> { co_await e.wait(); }(*write_gate));
    const std::size_t n = std::min(buf.size(), max_write);
    written += text(buf.first(n));
    write_sizes.push_back(n);
    co_return n;
  }
};

}  // namespace weft_test
