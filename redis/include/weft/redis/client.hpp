// weft::redis::client: a Redis client on weft's own sockets (TCP, or TLS
// for rediss://), speaking RESP2, with pipelining, deadlines and
// reconnection. Replies are parsed with hiredis' reader only (no hiredis
// networking, nothing blocking).
//
//   redis::client c = co_await redis::client::connect("redis://127.0.0.1:6379/0");
//   co_await c.command("SET", "greeting", "hello");
//   redis::reply r = co_await c.command("GET", "greeting");   // r.as_string() == "hello"
//   co_await c.command("EXPIRE", "greeting", 60);              // integers as arguments
//   co_await c.command(io::deadline(100ms), "GET", "k");       // this call's own deadline
//
// Pipelining: one client is one connection, shared by every task that
// uses it (from any worker thread). Commands issued while others are in
// flight are queued and written together, in one write, by the
// connection's writer task, and its reader task matches the replies to
// them in order; nothing locks across an await. So 10,000 tasks calling
// command() at once cost a few writes, not 10,000 round trips. execute(p)
// sends a whole pipeline (redis/pipeline.hpp) in one write.
//
// Errors: an error reply throws redis::error (the command failed; the
// connection goes on). In execute(pipeline) an error reply is that
// command's reply instead (reply::is_error), so that the others are kept.
// A connection that fails (reset, closed by the server, a malformed or
// oversized reply) fails every command in flight on it with
// redis::connection_error naming the server and what happened; those
// commands may or may not have run, so they are not sent again. The next
// command reconnects (client_options::reconnect: attempts with backoff),
// and AUTH and SELECT are sent again on the new connection.
//
// Deadlines: each command is bounded by client_options::command_timeout
// from the call to its reply (waiting for a connection included), or by the
// deadline given to the call (io::deadline{} means none). When it passes,
// weft::timeout_error naming the command and the limit. The reply is then
// overdue and the replies of the commands behind it with it, so the
// connection is closed: the other commands in flight on it fail with
// connection_error ("closed: GET timed out"), and the next command
// reconnects. A server that accepts connections but never answers thus
// costs each command its deadline, never a hang.
//
// Cancellation: a task cancelled while it waits for a reply throws
// weft::operation_cancelled at once. Its command may already have been
// sent (and may run on the server): its reply is still read, in order,
// and dropped, so the replies of the other commands stay matched and the
// connection stays open. A cancelled task that was waiting for a
// connection just stops waiting.
//
// Not for SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and MONITOR (replies that no
// command asked for): they are refused with std::invalid_argument. Nor for
// CLIENT REPLY OFF or SKIP (commands without a reply would be handed the
// next command's).
//
// GCC 12 frees a braced temporary written inside a co_await expression
// twice (see weft/http/client.hpp): connect() takes client_options, and
// execute() a command or a pipeline, only as named variables; a temporary
// or std::move(x) there fails to compile with a message saying what to
// write. command("GET", key) takes its arguments by reference and encodes
// them before it returns: any argument is fine there.
//
// Lifetime: a client is a handle (movable, not copyable); destroying it
// closes the connection, failing what is in flight with connection_error.
// It must be destroyed before its runtime ends.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weft/io/deadline.hpp"
#include "weft/redis/command.hpp"
#include "weft/redis/error.hpp"
#include "weft/redis/options.hpp"
#include "weft/redis/pipeline.hpp"
#include "weft/redis/reply.hpp"
#include "weft/runtime/task.hpp"

namespace weft::redis {

struct client_stats {
  std::uint64_t commands = 0;         // commands sent (each of a pipeline counts; AUTH and SELECT too)
  std::uint64_t writes = 0;           // writes that sent them: fewer than commands when pipelined
  std::uint64_t connects = 0;         // connections opened (the first one included)
  std::uint64_t replies_dropped = 0;  // replies read for commands whose caller stopped waiting
};

namespace detail {
struct client_state;
}

class client {
 public:
  /// Connects to the server of a redis:// or rediss:// URL (parse_url):
  /// std::invalid_argument for a bad URL; connection_error when no attempt
  /// connects (see client_options::reconnect); redis::error when AUTH or
  /// SELECT is refused (a wrong password is not tried again).
  /// (A template, so that a braced list is never taken for a URL: see
  /// the refused overload below.)
  template <class Url>
  requires std::convertible_to<const Url&, std::string_view>
  static task<client> connect(const Url& url) { return connect_url(std::string(std::string_view(url))); }
  static task<client> connect(const client_options& o);
  /// Refused: the options as a temporary or another rvalue (see GCC 12 above).
  template <class Unused = void>
  static auto connect(client_options&& o) {
    static_assert(weft::detail::always_false<Unused>,
                  "weft::redis::client::connect: pass client_options as a named variable, not a temporary "
                  "or std::move(o) (GCC 12 frees a braced temporary inside co_await twice). Write: "
                  "redis::client_options o{.port = 6380}; co_await redis::client::connect(o);");
    return connect(static_cast<const client_options&>(o));
  }

  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  ~client();

  /// Sends one command ("SET", key, value...: strings, string_views,
  /// integers, floating point) and returns its reply; an error reply
  /// throws redis::error.
  template <command_argument... A>
  task<reply> command(std::string_view name, const A&... args) {
    return run(redis::command(name, args...), nullptr);
  }
  /// The same under deadline d instead of client_options::command_timeout.
  template <command_argument... A>
  task<reply> command(io::deadline d, std::string_view name, const A&... args) {
    return run(redis::command(name, args...), &d);
  }

  /// A command built beforehand (copied at the call).
  task<reply> execute(const redis::command& c) { return run(c, nullptr); }
  task<reply> execute(const redis::command& c, io::deadline d) { return run(c, &d); }
  /// Every command of p in one write; one reply each, in order, error
  /// replies included (not thrown). An empty pipeline returns at once.
  task<std::vector<reply>> execute(const pipeline& p);
  task<std::vector<reply>> execute(const pipeline& p, io::deadline d);

  /// Refused: a command or pipeline as a temporary (see GCC 12 above).
  template <class Unused = void>
  auto execute(redis::command&& c, io::deadline = {}) {
    static_assert(weft::detail::always_false<Unused>,
                  "weft::redis::client::execute: pass the command as a named variable, not a temporary or "
                  "std::move(c) (GCC 12 frees a braced temporary inside co_await twice). Write: "
                  "redis::command get{\"GET\", key}; co_await c.execute(get); or co_await c.command(\"GET\", key);");
    return execute(static_cast<const redis::command&>(c));
  }
  template <class Unused = void>
  auto execute(pipeline&& p, io::deadline = {}) {
    static_assert(weft::detail::always_false<Unused>,
                  "weft::redis::client::execute: pass the pipeline as a named variable, not a temporary or "
                  "std::move(p) (GCC 12 frees a braced temporary inside co_await twice). Write: "
                  "redis::pipeline p; p.add(\"INCR\", key); co_await c.execute(p);");
    return execute(static_cast<const pipeline&>(p));
  }

  /// Closes the connection now: the commands in flight fail with
  /// connection_error; the next command reconnects.
  void close();

  const client_options& options() const noexcept;
  client_stats stats() const;

 private:
  explicit client(std::shared_ptr<detail::client_state> st) noexcept;
  static task<client> connect_url(std::string url);
  static task<client> connect_state(std::shared_ptr<detail::client_state> st);
  task<reply> run(const redis::command& c, const io::deadline* d);

  std::shared_ptr<detail::client_state> st_;
};

}  // namespace weft::redis
