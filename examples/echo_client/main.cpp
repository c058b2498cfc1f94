// echo_client: a closed-loop load generator for echo servers, on weft.
//
//   echo_client [--host IP] [--port P] [--connections C] [--size S]
//               [--duration 5s] [--warmup 1s] [--workers N] [--io uring|epoll|auto]
//
// Without --port it starts weft's echo server in-process on a free port
// (same runtime), so it runs out of the box. Prints messages/s, MB/s, the
// latency percentiles and the error count, then a machine-readable
// "RESULT echo_client ..." line. Exit code 1 if a connection failed.
#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "../common/cli.hpp"
#include "../echo_server/echo_handler.hpp"
#include "echo_load.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

weft::task<example::load_result> run(example::load_options o, bool in_process) {
  if (!in_process) co_return co_await example::run_load(std::move(o));
  auto listener = weft::io::tcp_listener::bind(o.to);
  o.to = listener.local_address();
  fmt::print("in-process echo server on {}\n", o.to);
  example::echo_stats stats;
  auto server = weft::spawn(
      weft::io::serve(listener, [&stats](weft::io::tcp_stream s) { return example::echo(std::move(s), stats); }));
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
  CLI::App app{
      "A closed-loop load generator for echo servers, on weft. Without --port it starts weft's echo\n"
      "server in-process on a free port.",
      "echo_client"};
  example::load_options o;
  std::string host = "127.0.0.1";
  std::optional<std::uint16_t> port;  // none: start a server in-process
  unsigned workers = 0;
  weft::io_backend io = weft::io_backend::automatic;
  app.add_option("--host", host, "numeric IPv4/IPv6 address of the server")
      ->check(example::numeric_ip())
      ->type_name("IP");
  app.add_option("--port", port, "server port; without it an in-process weft echo server is started")
      ->check(CLI::Range(std::uint16_t{1}, std::uint16_t{65535}));
  app.add_option("--connections", o.connections, "concurrent connections, one message in flight each")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  app.add_option("--size", o.size, "message size in bytes")->check(CLI::Range(std::size_t{1}, std::size_t{16} << 20));
  example::add_duration(app, "--duration", o.duration, "measured time")->check(example::duration_range(1ms, 24h));
  example::add_duration(app, "--warmup", o.warmup, "time before measuring")->check(example::duration_range(0s, 1h));
  example::add_runtime_flags(app, workers, io);
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error (a connection failed), 2 usage error, 130 on SIGINT, 143 on SIGTERM.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  o.to = weft::io::address::parse(host, port.value_or(0));  // checked by numeric_ip()

  try {
    weft::runtime rt{{.workers = workers, .io = io}};
    fmt::print("echo_client: {} connections x {} B, {} (+{} warm-up), {} workers, {}\n", o.connections, o.size,
               example::format_duration(o.duration), example::format_duration(o.warmup), rt.worker_count(),
               rt.io_backend());
    std::fflush(stdout);
    const std::size_t size = o.size, conns = o.connections;
    example::load_result r = rt.block_on(run(std::move(o), !port.has_value()));
    const double us = 1e3;
    fmt::print("messages/s: {:.0f}  ({} in {:.2f} s)\n", r.messages_per_s(), r.messages, r.seconds);
    fmt::print("MB/s:       {:.2f} each way\n", r.messages_per_s() * static_cast<double>(size) / 1e6);
    fmt::print("latency us: p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  p99.9 {:.1f}  max {:.1f}\n",
               r.latency.percentile(0.50) / us, r.latency.percentile(0.90) / us, r.latency.percentile(0.99) / us,
               r.latency.percentile(0.999) / us, static_cast<double>(r.latency.max()) / us);
    fmt::print("errors:     {}{}\n", r.errors, r.errors ? " (first: " + r.first_error + ")" : "");
    fmt::print("RESULT echo_client conns={} size={} msgs_per_s={:.0f} p50_us={:.1f} p99_us={:.1f} errors={}\n", conns,
               size, r.messages_per_s(), r.latency.percentile(0.50) / us, r.latency.percentile(0.99) / us, r.errors);
    return r.errors ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "echo_client: {}\n", e.what());
    return example::exit_error;
  }
}
