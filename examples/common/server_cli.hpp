// What the network examples share: their command-line flags (--host,
// --port, --workers, --io and friends), the "listening on HOST:PORT" line,
// and stopping on SIGINT/SIGTERM from inside the runtime.
//
//   int main(int argc, char** argv) {
//     example::stop_signals signals;          // first: before any thread exists
//     example::cli_args args(argc, argv, {"--demo"});
//     auto common = example::take_server_flags(args);
//     args.finish();                          // unknown flags -> usage_error
//     ...
//     co_await weft::when_any(serve(...), signals.wait());
//   }
//
// Bad flags throw example::usage_error, which main() turns into the usage
// text and exit code 2. stop_signals::wait() is an ordinary awaitable
// task: cancelling it (when_any's loser) just stops the wait.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "weft/weft.hpp"

namespace example {

/// A bad command line; main() prints the message and the usage, exits 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// "--name value", "--name=value" and value-less boolean flags. Each flag
/// is taken once by the example; finish() rejects what nobody took.
class cli_args {
 public:
  cli_args(int argc, char** argv, std::initializer_list<std::string_view> booleans = {}) {
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if (a == "-h" || a == "--help") {
        help_ = true;
        continue;
      }
      if (a.size() < 3 || a.substr(0, 2) != "--") throw usage_error("unexpected argument '" + std::string(a) + "'");
      std::string name, value;
      if (auto eq = a.find('='); eq != std::string_view::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
      } else {
        name = a;
        bool boolean = false;
        for (auto b : booleans) boolean = boolean || b == a;
        if (!boolean) {
          if (i + 1 >= argc) throw usage_error(name + " needs a value");
          value = argv[++i];
        }
      }
      if (!values_.emplace(name, value).second) throw usage_error(name + " given twice");
    }
  }

  bool help() const noexcept { return help_; }

  /// Whether --name was given (and not taken yet).
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  /// The value of --name, if it was given.
  std::optional<std::string> take(const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    std::string v = std::move(it->second);
    values_.erase(it);
    return v;
  }
  /// Whether the boolean flag --name was given.
  bool take_flag(const std::string& name) {
    auto v = take(name);
    if (v && !v->empty()) throw usage_error(name + " takes no value");
    return v.has_value();
  }
  /// An integer flag in [lo, hi]; `fallback` when absent.
  template <class Int>
  Int take_int(const std::string& name, Int fallback, Int lo, Int hi) {
    auto v = take(name);
    if (!v) return fallback;
    long long n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || end != v->data() + v->size() || n < static_cast<long long>(lo) ||
        n > static_cast<long long>(hi))
      throw usage_error(name + ": expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                        ", got '" + *v + "'");
    return static_cast<Int>(n);
  }
  /// Throws usage_error naming the first flag nobody took.
  void finish() const {
    if (!values_.empty()) throw usage_error("unknown flag " + values_.begin()->first);
  }

 private:
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

/// The flags every server example takes.
struct server_flags {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the kernel picks a free port
  unsigned workers = 0;    // 0: one per core
  weft::io_backend io = weft::io_backend::automatic;

  weft::runtime_options runtime_options() const {
    weft::runtime_options o;
    o.workers = workers;
    o.io = io;
    return o;
  }
};

inline constexpr const char* server_flags_usage =
    "  --host H             numeric IPv4/IPv6 address to listen on (default 127.0.0.1)\n"
    "  --port P             port, 0 picks a free one (default 0)\n"
    "  --workers N          worker threads, 0 = one per core (default 0)\n"
    "  --io uring|epoll|auto  I/O driver (default auto)\n";

inline weft::io_backend parse_backend(const std::string& s) {
  if (s == "uring" || s == "io_uring") return weft::io_backend::io_uring;
  if (s == "epoll") return weft::io_backend::epoll;
  if (s == "auto") return weft::io_backend::automatic;
  throw usage_error("--io: expected uring, epoll or auto, got '" + s + "'");
}

/// --host, --port, --workers, --io.
inline server_flags take_server_flags(cli_args& args) {
  server_flags f;
  if (auto h = args.take("--host")) f.host = *h;
  f.port = args.take_int<std::uint16_t>("--port", 0, 0, 65535);
  f.workers = args.take_int<unsigned>("--workers", 0, 0, 4096);
  if (auto io = args.take("--io")) f.io = parse_backend(*io);
  return f;
}

/// host:port as an address; usage_error if host is not a numeric IP.
inline weft::io::address listen_address(const std::string& host, std::uint16_t port) {
  try {
    return weft::io::address::parse(host, port);
  } catch (const std::invalid_argument&) {
    throw usage_error("--host: '" + host + "' is not a numeric IPv4 or IPv6 address");
  }
}

/// The first stdout line of every server example, flushed at once because
/// scripts wait for it through a pipe.
inline void print_listening(const weft::io::tcp_listener& l) {
  std::printf("listening on %s\n", l.local_address().to_string().c_str());
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
