// weft::redis::client_options: where a client connects and how it behaves
// (deadlines, reconnection, limits), and parse_url() to fill them from a
// redis:// or rediss:// URL.
//
//   redis::client_options o = redis::parse_url("redis://:secret@127.0.0.1:6379/2");
//   o.command_timeout = 2s;
//   redis::client c = co_await redis::client::connect(o);
//
// URL form: redis://[[user]:password@]host[:port][/db] (rediss:// for TLS;
// the port defaults to 6379, the db to 0; an IPv6 host is written in
// brackets; user and password are percent-decoded). A user without a
// password is refused: Redis' AUTH needs the password. parse_url throws
// std::invalid_argument naming the URL and what is wrong with it (the
// password is shown as "***"). These are plain values: no I/O, so
// cancellation does not apply to them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "weft/io/tls.hpp"

namespace weft::redis {

/// How a client gets a connection back after it lost one. Reconnecting is
/// lazy: the next command starts it. A connect attempt that fails is tried
/// again after a pause that starts at initial_backoff and doubles up to
/// max_backoff, at most max_attempts attempts in all; then the commands
/// waiting for the connection fail with connection_error (the next command
/// starts a new round).
struct reconnect_options {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{1000};
};

struct client_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  /// AUTH [username] password after connecting, when password is set.
  std::string username{};
  std::string password{};
  /// SELECT db after connecting, when not 0.
  int db = 0;
  /// TLS (rediss://), with tls_options (server_name defaults to host; ALPN is not used).
  bool tls = false;
  io::tls_client_options tls_options{};
  /// One connect attempt: resolve, TCP connect, TLS handshake, AUTH and SELECT.
  std::chrono::milliseconds connect_timeout{5000};
  /// Each command, from the call to its reply (waiting for a connection
  /// included); client::command takes a deadline to override it.
  std::chrono::milliseconds command_timeout{5000};
  reconnect_options reconnect{};
  /// The largest reply accepted (Redis' own proto-max-bulk-len is 512 MiB):
  /// a reply still incomplete with more bytes than this buffered fails
  /// the connection with connection_error.
  std::size_t max_reply_bytes = std::size_t{512} << 20;
};

/// Options from a redis:// or rediss:// URL (the other fields keep their defaults).
client_options parse_url(std::string_view url);

/// "host:port" (IPv6 in brackets), for messages.
std::string server_name(const client_options& o);

}  // namespace weft::redis
