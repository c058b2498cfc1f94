// weft::http::client: an HTTP/1.1 client (http and https) with a
// keep-alive connection pool per host, redirects and gzip/deflate bodies.
//
//   http::client c;                                    // share one per program
//   http::client_response r = co_await c.get("https://example.com/");
//   if (r.status == 200) use(r.body);                  // 404/500 are responses
//   http::request_options o{.timeout = 5s};            // a named variable: see "GCC 12" below
//   auto p = co_await c.post("http://localhost:8080/api", json, "application/json", o);
//
// Connections: requests to one (scheme, host, port) share a pool of at most
// max_connections_per_host connections; more requests wait for one in FIFO
// order. A connection goes back to the pool (reused most recent first)
// only after a complete response that allows keep-alive with nothing after
// it, and one idle for longer than idle_timeout is closed instead of
// reused. So is one that received anything while idle (bytes no request
// asked for, like a body after a HEAD or 204 answer or an unsolicited
// response, or the server's close): the next request would read them as
// its response, so it goes on another connection instead. A pooled
// connection that still turns out closed by the server before any byte of
// the response is retried once on a fresh connection, for idempotent
// methods only (GET, HEAD, PUT, DELETE, OPTIONS, TRACE).
//
// Redirects: 301/302/303 are followed with GET and no body (HEAD stays
// HEAD), 307/308 with the same method and body; Location may be relative.
// Going to another origin drops Authorization, Cookie and Host headers.
// A URL seen twice in one chain is client_errc::redirect_loop, more than
// max_redirects hops too_many_redirects; with max_redirects = 0 the 3xx
// response is returned.
//
// Bodies: with decompress on, Accept-Encoding: gzip, deflate is sent and a
// gzip/deflate body is decoded; the Content-Encoding and Content-Length
// headers are then removed and content_length is the decoded size. Other
// codings are returned as they came. max_response_bytes bounds the body
// after decoding. Response bodies are read whole into client_response::body.
//
// Deadlines: connect_timeout covers resolving, the TCP connect and the TLS
// handshake; request_timeout one attempt from sending the request to the
// last body byte (each redirect hop and the retry get their own);
// read_timeout a silence while reading. Each throws weft::timeout_error
// whose message names the URL and the timeout. Waiting for a pool slot
// (all max_connections_per_host connections busy) is bounded by
// pool_timeout when set (a timeout_error saying "pool timeout"), and by
// nothing otherwise: weft::with_timeout around the call bounds it all.
// Cancelling the awaiting task throws weft::operation_cancelled, closes
// the connection in use and frees its pool slot (a request still waiting
// for a slot just leaves the queue).
//
// GCC 12: a braced temporary written inside a co_await expression, as in
// `co_await c.get(url, {.timeout = 5s})` or `request_options{...}` there
// (or a defaulted `= {}` argument), is copied bitwise by the compiler's
// coroutine lowering and destroyed twice, which corrupts its short strings
// (free(): invalid pointer); clang is not affected. Those forms are
// therefore refused at compile time, with every compiler: request_options
// is taken only as a named variable (an lvalue, copied), and an rvalue
// overload fails a static_assert saying what to write. An rvalue cannot
// be told apart from such a temporary, so std::move(o) and a function's
// result are refused too. Leave the options out, or write
// `http::request_options o{.timeout = 5s}; co_await c.get(url, o);`.
//
// Thread safety: one client may be used by any number of tasks on any
// workers at once. It must be destroyed before the runtime; requests still
// running keep its pool alive until they end.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/http/client_error.hpp"
#include "weft/http/parser.hpp"
#include "weft/io/tls.hpp"
#include "weft/runtime/task.hpp"

namespace weft::http {

struct client_options {
  std::size_t max_connections_per_host = 8;          // requests beyond wait for a connection (FIFO)
  std::size_t max_idle_per_host = 8;                 // idle keep-alive connections kept
  std::chrono::milliseconds idle_timeout{30000};     // an idle pooled connection older than this is closed, not reused
  std::chrono::milliseconds connect_timeout{10000};  // resolve + TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{
      30000};                                     // one attempt: send request .. last body byte (per hop of a redirect)
  std::chrono::milliseconds read_timeout{15000};  // no byte received for this long
  std::optional<std::chrono::milliseconds> pool_timeout{};  // waiting for a free connection to the host; none: no limit
  int max_redirects = 10;                                   // 0: redirects are returned, not followed
  std::uint64_t max_response_bytes = 64ull << 20;  // body after decoding; beyond: client_error response_too_large
  bool decompress = true;                          // sends Accept-Encoding: gzip, deflate; decodes
  std::string user_agent = "weft/0.1";             // empty: no User-Agent header
  io::tls_client_options tls{};                    // verify etc.; server_name is set per host
  parser_limits limits{};                          // response head limits (max_body_bytes unused)
};

struct request_options {
  http::headers headers{};  // sent as given; Host, User-Agent, Accept-Encoding override the defaults
  std::string body{};
  std::optional<std::chrono::milliseconds> timeout{};  // overrides request_timeout
  std::optional<int> max_redirects{};                  // overrides the client's
};

struct client_response : response {
  std::string url;                     // final URL, after redirects
  std::vector<std::string> redirects;  // the URLs redirected from, in order
};

struct client_stats {
  std::uint64_t requests = 0;  // attempts sent (redirect hops and retries included)
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_reused = 0;  // attempts that took a pooled connection
  std::uint64_t redirects_followed = 0;
};

namespace detail {
struct client_state;
}

class client {
 public:
  /// std::invalid_argument for max_connections_per_host == 0 or a negative
  /// max_redirects.
  client();
  explicit client(client_options opts);
  ~client();  // closes pooled connections; must not outlive the runtime
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Overloads rather than `request_options o = {}`: a default argument is
  // such a braced temporary (see GCC 12 above). `o` is copied at the call:
  // it may go away before the task is awaited.
  task<client_response> get(std::string url);
  task<client_response> get(std::string url, const request_options& o);
  /// content_type (if not empty) replaces any Content-Type in o.headers.
  task<client_response> post(std::string url, std::string body, std::string content_type);
  task<client_response> post(std::string url, std::string body, std::string content_type, const request_options& o);
  /// Any method (a token: std::invalid_argument otherwise, before anything
  /// is sent, as for header names, and values holding CR, LF or NUL).
  task<client_response> request(std::string method, std::string url);
  task<client_response> request(std::string method, std::string url, const request_options& o);

  // Refused: request_options as a temporary (`{...}`, `request_options{...}`)
  // or any other rvalue (see GCC 12 above). The deduced return type makes
  // the static_assert fire at the call, before anything else GCC 12 reports
  // about the temporary.
  template <class Unused = void>
  auto get(std::string url, request_options&& o) {
    static_assert(weft::detail::always_false<Unused>,
                  "weft::http::client::get: pass request_options as a named variable, not a temporary "
                  "or std::move(o) (GCC 12 frees a braced temporary inside co_await twice). Write: "
                  "http::request_options o{.timeout = 2s}; co_await client.get(url, o);");
    return get(std::move(url), static_cast<const request_options&>(o));
  }
  template <class Unused = void>
  auto post(std::string url, std::string body, std::string content_type, request_options&& o) {
    static_assert(weft::detail::always_false<Unused>,
                  "weft::http::client::post: pass request_options as a named variable, not a temporary "
                  "or std::move(o) (GCC 12 frees a braced temporary inside co_await twice). Write: "
                  "http::request_options o{.timeout = 2s}; co_await client.post(url, body, content_type, o);");
    return post(std::move(url), std::move(body), std::move(content_type), static_cast<const request_options&>(o));
  }
  template <class Unused = void>
  auto request(std::string method, std::string url, request_options&& o) {
    static_assert(weft::detail::always_false<Unused>,
                  "weft::http::client::request: pass request_options as a named variable, not a temporary "
                  "or std::move(o) (GCC 12 frees a braced temporary inside co_await twice). Write: "
                  "http::request_options o{.timeout = 2s}; co_await client.request(method, url, o);");
    return request(std::move(method), std::move(url), static_cast<const request_options&>(o));
  }

  client_stats stats() const;
  /// Closes every idle pooled connection now (connections in use go on).
  void close_idle();

 private:
  std::shared_ptr<detail::client_state> st_;
};

}  // namespace weft::http
