// What the network examples share besides their flags (cli.hpp): the
// "listening on HOST:PORT" line, and stopping on SIGINT/SIGTERM from
// inside the runtime.
//
//   int main(int argc, char** argv) {
//     example::stop_signals signals;          // first: before any thread exists
//     CLI::App app{"tcp_chat: a line chat server on weft", "tcp_chat"};
//     example::server_flags flags;
//     example::add_server_flags(app, flags);  // --host --port --workers --io, checked by parse()
//     example::add_version_flag(app);
//     if (auto rc = example::parse(app, argc, argv)) return *rc;
//     auto listener = weft::io::tcp_listener::bind(example::listen_address(flags.host, flags.port));
//     ...
//     co_await weft::when_any(serve(...), signals.wait());
//   }
//
// stop_signals::wait() is an ordinary awaitable task: cancelling it
// (when_any's loser) just stops the wait. main() returns 128 + the signal
// number when one stopped the program (130 for SIGINT, 143 for SIGTERM).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <system_error>

#include "cli.hpp"
#include "weft/weft.hpp"

namespace example {

/// host:port as an address. add_server_flags has checked --host already;
/// a host from elsewhere that is not a numeric IP throws
/// CLI::ValidationError, which example::usage_failure reports as a usage
/// error.
inline weft::io::address listen_address(const std::string& host, std::uint16_t port) {
  try {
    return weft::io::address::parse(host, port);
  } catch (const std::invalid_argument&) {
    throw CLI::ValidationError("--host", "'" + host + "' is not a numeric IPv4 or IPv6 address");
  }
}

/// The first stdout line of every server example, flushed at once because
/// scripts wait for it through a pipe.
inline void print_listening(const weft::io::tcp_listener& l) {
  fmt::print("listening on {}\n", l.local_address());
  std::fflush(stdout);
}

/// SIGINT and SIGTERM, delivered to a task instead of a handler.
///
/// Constructed first thing in main(): it blocks both signals in the calling
/// thread, and every thread the runtime starts later inherits that mask,
/// so the signals stay pending for the signalfd instead of killing the
/// process or interrupting a worker.
class stop_signals {
 public:
  stop_signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    if (int e = pthread_sigmask(SIG_BLOCK, &set_, nullptr); e != 0)
      throw std::system_error(e, std::system_category(), "pthread_sigmask");
    fd_ = ::signalfd(-1, &set_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::system_category(), "signalfd");
  }
  ~stop_signals() { ::close(fd_); }
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  /// Waits for SIGINT or SIGTERM and returns its number. Cancellable.
  weft::task<int> wait() {
    for (;;) {
      // Poll, then read: a plain read on a non-blocking signalfd would
      // return EAGAIN on io_uring instead of waiting.
      int ev = co_await weft::ops::poll(fd_, POLLIN);
      if (ev < 0) throw std::system_error(-ev, std::system_category(), "poll signalfd");
      signalfd_siginfo si{};
      ssize_t n = ::read(fd_, &si, sizeof si);
      if (n == static_cast<ssize_t>(sizeof si)) co_return static_cast<int>(si.ssi_signo);
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        throw std::system_error(errno, std::system_category(), "read signalfd");
    }
  }

 private:
  sigset_t set_;
  int fd_ = -1;
};

inline const char* signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal"; }

}  // namespace example
