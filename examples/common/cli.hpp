// The command-line conventions every example shares, on CLI11.
//
//   int main(int argc, char** argv) {
//     example::stop_signals signals;              // server_cli.hpp: first, before any thread
//     CLI::App app{"echo_server: a TCP echo server on weft", "echo_server"};
//     example::server_flags server;
//     example::add_server_flags(app, server);     // --host --port --workers --io
//     std::chrono::milliseconds idle{30000};
//     example::add_duration(app, "--idle", idle, "close a connection idle this long")
//         ->check(example::duration_at_least(std::chrono::milliseconds(1)));
//     example::add_version_flag(app);
//     if (auto rc = example::parse(app, argc, argv)) return *rc;   // --help, --version, usage errors
//     ...
//   }
//
// What users get, the same in every example:
// - durations take units, `2s`, `500ms`, `0.1s`, `1m`, `1h`, `250us`; a bare
//   number means seconds, as in curl --max-time, wget --timeout and
//   Scrapy's DOWNLOAD_TIMEOUT;
// - `--help` lists every option with its default and unit; `--version`;
// - exit codes: 0 done, 1 error, 2 usage error (the message names the
//   option and shows what a good value looks like), 128 + N after signal N
//   (130 for Ctrl-C, 143 for SIGTERM).
#pragma once

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "weft/weft.hpp"

#ifndef WEFT_VERSION
#define WEFT_VERSION "unknown"
#endif

namespace example {

/// Exit codes documented by every example.
enum exit_code : int { exit_ok = 0, exit_error = 1, exit_usage = 2 };

/// "2s", "500ms", "0.1s", "1m", "1.5h", "250us", "10ns"; a bare number is
/// seconds. nullopt for anything else (negative, empty, unknown unit, too big).
inline std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  std::string s(text);
  std::size_t end = 0;
  double value = 0;
  try {
    value = std::stod(s, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  // stod takes "inf", "nan" and hex floats: a duration is plain decimal.
  for (std::size_t i = 0; i < end; ++i)
    if (!(std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) return std::nullopt;
  const std::string_view unit = std::string_view(s).substr(end);
  double scale = 0;  // nanoseconds per unit
  if (unit.empty() || unit == "s") scale = 1e9;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "us") scale = 1e3;
  else if (unit == "ns") scale = 1;
  else if (unit == "m" || unit == "min") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else return std::nullopt;
  const double ns = std::round(value * scale);
  if (!std::isfinite(ns) || ns > 9.2e18) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

/// The shortest exact spelling of d for --help: "10s", "500ms", "0s".
inline std::string format_duration(std::chrono::nanoseconds d) {
  const auto n = d.count();
  struct unit {
    std::int64_t ns;
    const char* name;
  };
  for (unit u : {unit{3600'000'000'000, "h"}, unit{60'000'000'000, "m"}, unit{1'000'000'000, "s"},
                 unit{1'000'000, "ms"}, unit{1'000, "us"}})
    if (n != 0 && n % u.ns == 0) return std::to_string(n / u.ns) + u.name;
  return n == 0 ? "0s" : std::to_string(n) + "ns";
}

/// The CLI11 transform every duration option shares: checks the text and
/// rewrites it as a count of nanoseconds, so a bad value is a usage error
/// naming the option ("--timeout: ...") with an example of a good one.
inline CLI::Validator duration_transform() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto d = parse_duration(text);
        if (!d)
          return "expected a duration such as 2s, 500ms, 0.1s or 1m (a bare number is seconds), got '" + text + "'";
        text = std::to_string(d->count());
        return {};
      },
      "", "duration");  // no description: --help shows the type as plain DURATION
}

/// A check for a duration option, chained after its add_duration: the
/// value must lie in [min, max] (duration_at_least: no upper bound). The
/// message speaks in durations ("--timeout: must be between 20ms and 1h,
/// got 5ms"), not in the nanoseconds the transform hands on.
///
///   example::add_duration(app, "--timeout", t, "per job")->check(example::duration_range(20ms, 1h));
inline CLI::Validator duration_range(std::chrono::nanoseconds min, std::chrono::nanoseconds max) {
  return CLI::Validator(
      [min, max](std::string& ns_text) -> std::string {
        const std::chrono::nanoseconds d{std::stoll(ns_text)};  // the transform wrote a plain count
        if (d >= min && d <= max) return {};
        const std::string got = ", got " + format_duration(d);
        if (max == std::chrono::nanoseconds::max()) return "must be at least " + format_duration(min) + got;
        return "must be between " + format_duration(min) + " and " + format_duration(max) + got;
      },
      "", "duration_range");
}

inline CLI::Validator duration_at_least(std::chrono::nanoseconds min) {
  return duration_range(min, std::chrono::nanoseconds::max());
}

/// A check that a text is a numeric IPv4 or IPv6 address ("127.0.0.1",
/// "::1"): what weft::io::address::parse(ip, port) takes, no host names.
inline CLI::Validator numeric_ip() {
  return CLI::Validator(
      [](std::string& ip) -> std::string {
        try {
          (void)weft::io::address::parse(ip, 0);
          return {};
        } catch (const std::exception&) {
          return "'" + ip + "' is not a numeric IPv4 or IPv6 address (such as 127.0.0.1 or ::1)";
        }
      },
      "", "numeric_ip");
}

/// Adds a duration option bound to `target` (any std::chrono::duration);
/// --help shows its current value as the default. A value that is not a
/// whole number of target's ticks is rounded up, so "0.5ms" into a
/// milliseconds option is 1ms rather than a surprising 0.
template <class Rep, class Period>
CLI::Option* add_duration(CLI::App& app, const std::string& name, std::chrono::duration<Rep, Period>& target,
                          const std::string& help) {
  using target_t = std::chrono::duration<Rep, Period>;
  return app
      .add_option_function<std::int64_t>(
          name, [&target](std::int64_t ns) { target = std::chrono::ceil<target_t>(std::chrono::nanoseconds(ns)); },
          help)
      ->transform(duration_transform())
      ->type_name("DURATION")
      ->default_str(format_duration(std::chrono::duration_cast<std::chrono::nanoseconds>(target)));
}

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

/// --workers and --io: the runtime's flags, for every example that runs one.
inline void add_runtime_flags(CLI::App& app, unsigned& workers, weft::io_backend& io) {
  app.add_option("--workers", workers, "worker threads, 0 = one per core")->check(CLI::Range(0u, 4096u));
  // A transform of our own rather than CLI::CheckedTransformer: its help
  // and its error print the enum's numbers.
  app.add_option("--io", io, "I/O driver: uring, epoll or auto")
      ->transform(CLI::Validator(
          [](std::string& text) -> std::string {
            const std::map<std::string, weft::io_backend> names{{"uring", weft::io_backend::io_uring},
                                                                {"io_uring", weft::io_backend::io_uring},
                                                                {"epoll", weft::io_backend::epoll},
                                                                {"auto", weft::io_backend::automatic}};
            std::string name = text;
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            auto it = names.find(name);
            if (it == names.end()) return "expected uring, epoll or auto, got '" + text + "'";
            text = std::to_string(static_cast<int>(it->second));  // CLI11 reads an enum as its number
            return {};
          },
          "", "io_backend"))
      ->type_name("DRIVER")
      ->default_str("auto");
}

/// --host, --port, --workers, --io. A bad --host (not a numeric address)
/// or --port is a usage error at parse time.
inline void add_server_flags(CLI::App& app, server_flags& f) {
  app.add_option("--host", f.host, "numeric IPv4/IPv6 address to listen on")->check(numeric_ip())->type_name("IP");
  app.add_option("--port", f.port, "port, 0 picks a free one")
      ->check(CLI::Range(std::uint16_t{0}, std::uint16_t{65535}));
  add_runtime_flags(app, f.workers, f.io);
}

/// Parses the command line. Returns the exit code when the program should
/// stop here: 0 after --help or --version (printed on stdout), 2 after a
/// usage error (printed on stderr, with a pointer to --help); nullopt when
/// it should go on. Also turns on "default shown in --help" for every
/// option added so far, and completes the --help footer: the exit codes
/// unless the app set a footer of its own, and how durations are written
/// when it has a duration option.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  bool durations = false;
  for (CLI::Option* o : app.get_options()) {
    if (o->get_default_str().empty() && o->get_expected_min() > 0) {
      o->capture_default_str();
      if (o->get_default_str() == "[]") o->default_str("");  // an empty list: nothing to show
    }
    durations = durations || o->get_type_name() == "DURATION";
  }
  if (app.get_footer().empty())
    app.footer("Exit codes: 0 done, 1 error, 2 usage error, 130 on SIGINT, 143 on SIGTERM.");
  constexpr const char* duration_note = "Durations take units: 2s, 500ms, 0.1s, 1m; a bare number is seconds.";
  if (durations && app.get_footer().find("a bare number is seconds") == std::string::npos)
    app.footer(duration_note + std::string("\n") + app.get_footer());
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app.help());
    return exit_ok;
  } catch (const CLI::CallForAllHelp&) {
    fmt::print("{}", app.help("", CLI::AppFormatMode::All));
    return exit_ok;
  } catch (const CLI::CallForVersion&) {
    fmt::print("{} (weft {})\n", app.get_name(), WEFT_VERSION);
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "{0}: {1}\nRun '{0} --help' for the options.\n", app.get_name(), e.what());
    return exit_usage;
  }
  return std::nullopt;
}

/// Adds --version (printed as "NAME (weft VERSION)").
inline void add_version_flag(CLI::App& app) {
  // CLI11 throws CallForVersion with its own text; parse() prints ours.
  app.add_flag_callback(
      "--version", [] { throw CLI::CallForVersion(); }, "print the version and exit");
}

/// A usage error found after parsing (two options that contradict each
/// other, say): reported like CLI11's own, exit code 2.
inline int usage_failure(const CLI::App& app, const std::string& message) {
  fmt::print(stderr, "{0}: {1}\nRun '{0} --help' for the options.\n", app.get_name(), message);
  return exit_usage;
}

}  // namespace example
