// The first argument of the I/O benchmarks: which driver to measure.
#pragma once

#include <cstdio>
#include <cstring>

#include "weft/runtime/runtime_options.hpp"

/// argv[1] as "uring" or "epoll" (io_uring when absent); prints `usage`
/// and returns false on anything else.
inline bool backend_arg(int argc, char** argv, weft::io_backend& io, const char* usage) {
  io = weft::io_backend::io_uring;
  if (argc <= 1 || std::strcmp(argv[1], "uring") == 0) return true;
  if (std::strcmp(argv[1], "epoll") == 0) {
    io = weft::io_backend::epoll;
    return true;
  }
  std::fprintf(stderr, "usage: %s\n", usage);
  return false;
}
