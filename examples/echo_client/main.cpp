// echo_client: a closed-loop load generator for echo servers, on weft.
//
//   echo_client [--host H] [--port P] [--connections C] [--size S]
//               [--duration D] [--warmup W] [--workers N] [--io uring|epoll|auto]
//
// Without --port it starts weft's echo server in-process on a free port
// (same runtime), so it runs out of the box. Prints messages/s, MB/s, the
// latency percentiles and the error count, then a machine-readable
// "RESULT echo_client ..." line. Exit code 1 if a connection failed.
#include <chrono>
#include <cstdio>
#include <optional>

#include "../common/server_cli.hpp"
#include "../echo_server/echo_handler.hpp"
#include "echo_load.hpp"
#include "weft/weft.hpp"

namespace {

constexpr const char* usage =
    "usage: echo_client [--host H] [--port P] [--connections C] [--size S] [--duration D]\n"
    "                   [--warmup W] [--workers N] [--io uring|epoll|auto]\n"
    "  --host H             numeric address of the server (default 127.0.0.1)\n"
    "  --port P             server port; without it an in-process weft echo server is started\n"
    "  --connections C      concurrent connections, one message in flight each (default 100)\n"
    "  --size S             message size in bytes (default 64)\n"
    "  --duration D         measured seconds (default 5)\n"
    "  --warmup W           seconds before measuring (default 1)\n"
    "  --workers N          worker threads, 0 = one per core (default 0)\n"
    "  --io uring|epoll|auto  I/O driver (default auto)\n";

weft::task<example::load_result> run(example::load_options o, bool in_process) {
  if (!in_process) co_return co_await example::run_load(std::move(o));
  auto listener = weft::io::tcp_listener::bind(o.to);
  o.to = listener.local_address();
  std::printf("in-process echo server on %s\n", o.to.to_string().c_str());
  example::echo_stats stats;
  auto server = weft::spawn(weft::io::serve(
      listener, [&stats](weft::io::tcp_stream s) { return example::echo(std::move(s), stats); }));
  std::optional<example::load_result> r;
  std::exception_ptr failed;
  try {
    r.emplace(co_await example::run_load(std::move(o)));
  } catch (...) {
    failed = std::current_exception();
  }
  server.cancel();
  try {
    co_await server;
  } catch (const weft::operation_cancelled&) {
  }
  if (failed) std::rethrow_exception(failed);
  co_return std::move(*r);
}

}  // namespace

int main(int argc, char** argv) {
  example::load_options o;
  example::server_flags flags;
  bool in_process = false;
  try {
    example::cli_args args(argc, argv);
    if (args.help()) {
      std::printf("%s", usage);
      return 0;
    }
    in_process = !args.has("--port");
    flags = example::take_server_flags(args);
    o.connections = args.take_int<std::size_t>("--connections", 100, 1, 100'000);
    o.size = args.take_int<std::size_t>("--size", 64, 1, 16u << 20);
    o.duration = std::chrono::seconds(args.take_int<int>("--duration", 5, 1, 86'400));
    o.warmup = std::chrono::seconds(args.take_int<int>("--warmup", 1, 0, 3'600));
    args.finish();
    o.to = example::listen_address(flags.host, flags.port);
  } catch (const example::usage_error& e) {
    std::fprintf(stderr, "echo_client: %s\n%s", e.what(), usage);
    return 2;
  }

  try {
    weft::runtime rt{flags.runtime_options()};
    std::printf("echo_client: %zu connections x %zu B, %lld s (+%lld s warm-up), %u workers, %s\n", o.connections,
                o.size, static_cast<long long>(o.duration.count() / 1000),
                static_cast<long long>(o.warmup.count() / 1000), rt.worker_count(), weft::to_string(rt.io_backend()));
    std::fflush(stdout);
    const std::size_t size = o.size, conns = o.connections;
    example::load_result r = rt.block_on(run(std::move(o), in_process));
    const double us = 1e3;
    std::printf("messages/s: %.0f  (%llu in %.2f s)\n", r.messages_per_s(), static_cast<unsigned long long>(r.messages),
                r.seconds);
    std::printf("MB/s:       %.2f each way\n", r.messages_per_s() * static_cast<double>(size) / 1e6);
    std::printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", r.latency.percentile(0.50) / us,
                r.latency.percentile(0.90) / us, r.latency.percentile(0.99) / us, r.latency.percentile(0.999) / us,
                static_cast<double>(r.latency.max()) / us);
    std::printf("errors:     %llu%s%s\n", static_cast<unsigned long long>(r.errors), r.errors ? " (first: " : "",
                r.errors ? (r.first_error + ")").c_str() : "");
    std::printf("RESULT echo_client conns=%zu size=%zu msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f errors=%llu\n", conns,
                size, r.messages_per_s(), r.latency.percentile(0.50) / us, r.latency.percentile(0.99) / us,
                static_cast<unsigned long long>(r.errors));
    return r.errors ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_client: %s\n", e.what());
    return 1;
  }
}
