// The command line of the server benchmarks (bench_echo, bench_http_hello):
// `[uring|epoll] [SECONDS]`, positional as the bench scripts pass them,
// parsed with the examples' CLI11 conventions (examples/common/cli.hpp).
//
//   weft::io_backend io = weft::io_backend::io_uring;
//   std::chrono::seconds seconds{10};
//   if (auto rc = bench::parse_driver_and_seconds(argc, argv, "bench_echo", about, exit_codes, io, seconds))
//     return *rc;
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "../examples/common/cli.hpp"

namespace bench {

/// SECONDS is a duration (a bare number is seconds), rounded up to whole
/// seconds. Returns an exit code when the program should stop (--help,
/// --version, a usage error).
inline std::optional<int> parse_driver_and_seconds(int argc, char** argv, const char* name, const char* about,
                                                   const char* exit_codes, weft::io_backend& io,
                                                   std::chrono::seconds& seconds) {
  CLI::App app{about, name};
  std::string driver = "uring";
  app.add_option("IO", driver, "I/O driver of the server")->check(CLI::IsMember({"uring", "epoll"}));
  example::add_duration(app, "SECONDS", seconds, "measured time, whole seconds (rounded up)")
      ->check(example::duration_at_least(std::chrono::milliseconds(1)));
  example::add_version_flag(app);
  app.footer(exit_codes);
  if (auto rc = example::parse(app, argc, argv)) return rc;
  io = driver == "epoll" ? weft::io_backend::epoll : weft::io_backend::io_uring;
  return std::nullopt;
}

}  // namespace bench
