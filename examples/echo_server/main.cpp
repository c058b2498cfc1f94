// echo_server: a TCP echo server on weft::io::serve.
//
//   echo_server [--host IP] [--port P] [--workers N] [--io uring|epoll|auto]
//
// The first stdout line is "listening on HOST:PORT" (flushed), so scripts
// and benchmarks can start it with --port 0 and read the port. SIGINT or
// SIGTERM stops it: serve() is cancelled, which cancels every connection
// and waits for them, a one-line summary is printed, and the exit code is
// 128 + the signal number (130, 143).
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <exception>

#include "../common/cli.hpp"
#include "../common/server_cli.hpp"
#include "echo_handler.hpp"
#include "weft/weft.hpp"

namespace {

struct server_result {
  int signal = 0;
  std::uint64_t handler_errors = 0;
};

weft::task<server_result> run_server(weft::io::tcp_listener& listener, example::stop_signals& signals,
                                     example::echo_stats& stats) {
  std::atomic<std::uint64_t> errors{0};
  weft::io::serve_options opts;
  // A client resetting its connection is routine under load: report the
  // first few, count the rest.
  opts.on_handler_error = [&errors](std::exception_ptr e) {
    if (errors.fetch_add(1, std::memory_order_relaxed) >= 5) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      fmt::print(stderr, "echo_server: connection ended with an error: {}\n", x.what());
    }
  };
  auto handler = [&stats](weft::io::tcp_stream s) { return example::echo(std::move(s), stats); };
  // Whichever finishes first wins; the other is cancelled and awaited. serve()
  // only finishes on a fatal accept error, which when_any rethrows.
  auto r = co_await weft::when_any(weft::io::serve(listener, handler, opts), signals.wait());
  co_return server_result{std::get<1>(r.value), errors.load()};
}

}  // namespace

int main(int argc, char** argv) {
  example::stop_signals signals;  // before the runtime's threads exist
  CLI::App app{"A TCP echo server on weft::io::serve. Prints \"listening on HOST:PORT\" first.", "echo_server"};
  example::server_flags flags;
  example::add_server_flags(app, flags);
  example::add_version_flag(app);
  if (auto rc = example::parse(app, argc, argv)) return *rc;

  try {
    weft::io::tcp_listener listener = weft::io::tcp_listener::bind(example::listen_address(flags.host, flags.port));
    weft::runtime rt{flags.runtime_options()};
    example::print_listening(listener);
    example::echo_stats stats;
    const auto t0 = std::chrono::steady_clock::now();
    server_result r = rt.block_on(run_server(listener, signals, stats));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print(
        "echo_server: {} after {:.1f} s: {} connections, {} reads, {:.1f} MB echoed, "
        "{} handler errors ({}, {} workers)\n",
        example::signal_name(r.signal), secs, stats.connections.load(), stats.reads.load(),
        static_cast<double>(stats.bytes.load()) / 1e6, r.handler_errors, rt.io_backend(), rt.worker_count());
    return 128 + r.signal;
  } catch (const std::exception& e) {
    fmt::print(stderr, "echo_server: {}\n", e.what());
    return example::exit_error;
  }
}
