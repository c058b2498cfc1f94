// weft::http::server: an HTTP/1.1 server (keep-alive, pipelining, limits,
// timeouts, graceful shutdown, optional TLS) around one handler.
//
//   auto srv = http::server::bind(io::address::parse("127.0.0.1:8080"),
//       [](http::request& req) -> weft::task<http::response> {
//         if (req.target == "/hello") co_return http::make_response(200, "Hello, World!");
//         co_return http::make_response(404, "not found\n");
//       });
//   co_await weft::when_any(srv.run(), stop_signal());   // or, elsewhere:
//   co_await srv.shutdown(5s);                           // run() then returns
//
// The handler gets the whole request (body included, bounded by
// limits.max_body_bytes) and returns the response; the server fills what it
// left out: the reason phrase, Date, Content-Length (bodies always go with
// Content-Length; none for 1xx/204/304; for HEAD the length of the body it
// returned, which is not sent), Server, and Connection: close when the
// connection ends after this response. A handler that throws gets a 500
// (and on_error); the connection goes on. So does a response that cannot
// be sent as it is (response splitting): a header name that is not a
// token, CR, LF or NUL in a header value or the reason phrase, a HEAD
// handler's Content-Length that is not a number; on_error says which.
// Requests that arrived together (pipelining) are answered in order, their
// responses sent in one write.
// A bad request gets its status (400; 414 start line, 431 headers, 413
// body, 501 Transfer-Encoding, 505 version) and the connection is closed.
//
// Timeouts: a request head must arrive within header_timeout of its first
// byte (slowloris) and its body within body_timeout of the head, else 408
// and close; a keep-alive connection with no request for idle_timeout is
// closed; a response not written within write_timeout drops the connection.
//
// Cancellation: cancelling the task awaiting run() stops accepting,
// cancels every connection (their handlers see operation_cancelled), waits
// for them and throws operation_cancelled. shutdown() is the graceful way.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "weft/http/parser.hpp"
#include "weft/io/address.hpp"
#include "weft/io/tcp.hpp"
#include "weft/io/tls.hpp"
#include "weft/runtime/task.hpp"

namespace weft::http {

/// Answers one request. It may read and move from the request (it is the
/// server's, reused for the next request afterwards).
using handler = std::function<task<response>(request&)>;

struct server_options {
  parser_limits limits{};                           // request limits: start line, headers, body
  std::chrono::milliseconds header_timeout{10000};  // a request head must arrive within this (slowloris) -> 408 + close
  std::chrono::milliseconds body_timeout{30000};    // reading a request body
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive connection with no request in progress -> closed
  std::chrono::milliseconds write_timeout{30000};
  std::size_t max_connections = 0;              // 0: no limit (accepting pauses at the limit)
  std::size_t max_requests_per_connection = 0;  // 0: no limit; the last response says Connection: close
  std::string server_header = "weft";           // "Server:" value, empty: none (no CR, LF or NUL)
  std::shared_ptr<io::tls_context> tls{};       // set: serve HTTPS (tls_stream::accept on each connection)
  std::function<void(std::exception_ptr)>
      on_error{};  // handler exceptions, unsendable responses (besides the 500); default: stderr
};

/// Counters since the server was made (a snapshot; each read atomically).
struct server_stats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t requests = 0;       // requests handed to the handler
  std::uint64_t responses_4xx = 0;  // the server's own (400, 408, 413...) included
  std::uint64_t responses_5xx = 0;
  std::uint64_t parse_errors = 0;  // malformed requests and exceeded limits
  std::uint64_t timeouts = 0;      // header, body, idle and write timeouts
};

namespace detail {
struct server_state;
}

class server {
 public:
  server(io::tcp_listener listener, handler h, server_options opts = {});
  /// Binds (SO_REUSEADDR) and makes a server; port 0 picks a free one.
  static server bind(const io::address& addr, handler h, server_options opts = {});

  server(server&&) noexcept;
  server& operator=(server&&) noexcept;
  ~server();

  io::address local_address() const;
  /// Serves until shutdown() completes (returns normally then) or the
  /// awaiting task is cancelled (every connection is cancelled and awaited,
  /// then operation_cancelled). Call it once.
  task<void> run();
  /// Graceful: stop accepting, let in-flight requests finish and send their
  /// responses (with Connection: close), close idle keep-alive connections
  /// at once; after `grace` the remaining connections are cancelled.
  /// Returns when every connection is gone. Idempotent.
  task<void> shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));
  server_stats stats() const;

 private:
  std::shared_ptr<detail::server_state> st_;
};

}  // namespace weft::http
