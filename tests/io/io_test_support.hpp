// Helpers shared by the io tests: every I/O test runs on both drivers.
//
//   TEST_CASE("...") {
//     auto backend = WEFT_BOTH_BACKENDS();
//     weft::runtime rt{io_options(backend)};
//     rt.block_on(...);
//   }
#pragma once

#include <catch2/catch.hpp>

#include "test_support.hpp"
#include "weft/io.hpp"
#include "weft/runtime/runtime.hpp"

/// A Catch2 generator over io_uring and epoll; the chosen one is CAPTUREd.
#define WEFT_BOTH_BACKENDS()                                                                \
  [] {                                                                                      \
    auto b = GENERATE(weft::io_backend::io_uring, weft::io_backend::epoll);                 \
    UNSCOPED_INFO("io backend: " << weft::to_string(b));                                    \
    return b;                                                                               \
  }()

namespace weft_test {

inline weft::runtime_options io_options(weft::io_backend b, unsigned workers = 2) {
  weft::runtime_options o;
  o.workers = workers;
  o.io = b;
  return o;
}

inline std::span<const std::byte> bytes(std::string_view s) { return weft::io::as_bytes(s); }

inline std::string text(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace weft_test
