// tcp_chat: a multi-client line chat; one broadcaster task fans messages
// out through a bounded weft::channel per client (see chat.hpp).
//
//   tcp_chat [--host IP] [--port P] [--workers N] [--io uring|epoll|auto]
//   tcp_chat --demo [...]      server + scripted clients in-process; prints
//                              the transcript and exits 0
//
// The first stdout line is "listening on HOST:PORT". Try it with
// `nc 127.0.0.1 PORT` in two terminals. SIGINT/SIGTERM stop the server
// (exit code 128 + the signal number: 130, 143).
#include <fmt/core.h>

#include <exception>

#include "../common/cli.hpp"
#include "../common/server_cli.hpp"
#include "chat.hpp"
#include "weft/weft.hpp"

namespace {

weft::task<int> serve_until_signal(chat::server& room, weft::io::tcp_listener& listener,
                                   example::stop_signals& signals) {
  auto r = co_await weft::when_any(room.run(listener), signals.wait());
  co_return std::get<1>(r.value);
}

weft::task<std::vector<std::string>> demo(chat::server& room, weft::io::tcp_listener& listener) {
  auto server = weft::spawn(room.run(listener));
  std::vector<std::string> transcript;
  std::exception_ptr failed;
  try {
    transcript = co_await chat::run_demo(listener.local_address());
  } catch (...) {
    failed = std::current_exception();
  }
  server.cancel();
  try {
    co_await server;
  } catch (const weft::operation_cancelled&) {
  }
  if (failed) std::rethrow_exception(failed);
  co_return transcript;
}

}  // namespace

int main(int argc, char** argv) {
  example::stop_signals signals;  // before the runtime's threads exist
  CLI::App app{
      "A multi-client line chat server on weft. Prints \"listening on HOST:PORT\" first; try it with\n"
      "`nc 127.0.0.1 PORT` in two terminals.",
      "tcp_chat"};
  example::server_flags flags;
  bool run_demo = false;
  example::add_server_flags(app, flags);
  app.add_flag("--demo", run_demo, "run scripted clients against the server, print the transcript, exit");
  example::add_version_flag(app);
  if (auto rc = example::parse(app, argc, argv)) return *rc;

  try {
    auto listener = weft::io::tcp_listener::bind(example::listen_address(flags.host, flags.port));
    weft::runtime rt{flags.runtime_options()};
    example::print_listening(listener);
    chat::server room;
    if (run_demo) {
      for (const auto& line : rt.block_on(demo(room, listener))) fmt::print("{}\n", line);
      return 0;
    }
    int sig = rt.block_on(serve_until_signal(room, listener, signals));
    fmt::print("tcp_chat: {}: stopped after {} clients\n", example::signal_name(sig), room.clients_served());
    return 128 + sig;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tcp_chat: {}\n", e.what());
    return example::exit_error;
  }
}
