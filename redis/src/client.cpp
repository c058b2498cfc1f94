#include "weft/redis/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "reply_reader.hpp"
#include "weft/io/connect.hpp"
#include "weft/io/tcp.hpp"
#include "weft/io/tls.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/sync/oneshot.hpp"
#include "weft/runtime/time.hpp"

namespace weft::redis {

namespace detail {

using std::chrono::milliseconds;

struct counters {
  std::atomic<std::uint64_t> commands{0};
  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> replies_dropped{0};
};

/// What a waiting command gets: its replies, or why there are none.
struct outcome {
  std::vector<reply> replies;
  std::exception_ptr error;
};

/// A command (or a pipeline) written and waiting for its replies.
struct pending {
  std::size_t expected;
  std::vector<reply> replies;
  oneshot_sender<outcome> tx;
};

namespace {

constexpr std::size_t read_buffer_bytes = 64 * 1024;

bool is_push_command(std::string_view name) {
  static constexpr std::string_view refused[] = {"subscribe", "psubscribe", "ssubscribe", "monitor"};
  for (std::string_view r : refused) {
    if (name.size() != r.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < r.size() && same; ++i) same = (name[i] | 0x20) == r[i];
    if (same) return true;
  }
  return false;
}

long long ms_between(clock::time_point from, clock::time_point to) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

}  // namespace

/// One connection: its socket, a writer task while there is something to
/// send, a reader task for its lifetime, and the commands in flight, in the
/// order they were written. The lock is never held across an await.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(std::string server, std::size_t max_reply_bytes, milliseconds write_timeout,
             std::shared_ptr<counters> stats)
      : server_(std::move(server)),
        max_reply_bytes_(max_reply_bytes),
        write_timeout_(write_timeout),
        stats_(std::move(stats)) {}

  ~connection() { kill("the connection was dropped"); }

  void adopt(io::tcp_stream s) { tcp_ = std::move(s); }
  void adopt(io::tls_stream<io::tcp_stream> s) {
    tls_ = std::make_unique<io::tls_stream<io::tcp_stream>>(std::move(s));
  }
  const std::string& server() const noexcept { return server_; }

  bool dead() {
    std::lock_guard lk(m_);
    return dead_;
  }

  /// Queues bytes holding `expected` commands, whose replies go to tx.
  /// False (tx untouched) when the connection is dead: nothing was sent.
  bool submit(std::string_view bytes, std::size_t expected, oneshot_sender<outcome>& tx) {
    bool start_writer = false;
    {
      std::lock_guard lk(m_);
      if (dead_) return false;
      out_ += bytes;
      inflight_.push_back(pending{expected, {}, std::move(tx)});
      if (!writing_) start_writer = writing_ = true;
    }
    stats_->commands.fetch_add(expected, std::memory_order_relaxed);
    if (start_writer) weft::detail::spawn_service(write_loop(shared_from_this()));
    return true;
  }

  /// Ends the connection (once): every command in flight fails with a
  /// connection_error saying why; the reader and writer stop.
  void kill(const std::string& why) {
    std::deque<pending> failed;
    {
      std::lock_guard lk(m_);
      if (dead_) return;
      dead_ = true;
      failed.swap(inflight_);
      out_.clear();
    }
    // shutdown(2), not close: the reader and writer may be inside an
    // operation on the descriptor on other threads; this wakes them (end
    // of stream, EPIPE) and the descriptor is closed with the last owner.
    try {
      if (tls_) tls_->next_layer().shutdown();
      else if (tcp_.is_open()) tcp_.shutdown();
    } catch (const std::system_error&) {
      // ENOTCONN: the peer was gone already.
    }
    if (failed.empty()) return;
    const std::string what = failed.size() == 1
                                 ? fmt::format("redis {}: {} (1 command in flight)", server_, why)
                                 : fmt::format("redis {}: {} ({} commands in flight)", server_, why, failed.size());
    const std::exception_ptr e = std::make_exception_ptr(connection_error(what));
    for (pending& p : failed) p.tx.send(outcome{{}, e});
  }

  static task<void> read_loop(std::shared_ptr<connection> c) {
    std::string why;
    try {
      reply_reader reader(c->max_reply_bytes_);
      std::vector<std::byte> buf(read_buffer_bytes);
      for (;;) {
        // No deadline: an idle connection may stay idle; each command
        // bounds its own wait.
        const std::size_t n = co_await c->read_some(buf);
        if (n == 0) {
          why = "the server closed the connection";
          break;
        }
        reader.feed(reinterpret_cast<const char*>(buf.data()), n);
        while (std::optional<reply> r = reader.next()) {
          if (!c->deliver(std::move(*r))) {
            why = "a reply no command asked for: " + r->to_string();
            break;
          }
        }
        if (!why.empty()) break;
      }
    } catch (const reply_stream_error& e) {
      why = e.what();
    } catch (const std::system_error& e) {
      why = e.code().value() == ECANCELED ? std::string("the connection was closed") : std::string(e.what());
    } catch (const operation_cancelled&) {
      why = "the runtime is shutting down";
    } catch (const std::exception& e) {
      why = e.what();
    }
    c->kill(why);
  }

 private:
  static task<void> write_loop(std::shared_ptr<connection> c) {
    std::string batch;
    try {
      for (;;) {
        {
          std::lock_guard lk(c->m_);
          if (c->dead_ || c->out_.empty()) {
            c->writing_ = false;
            break;
          }
          batch.swap(c->out_);
        }
        c->stats_->writes.fetch_add(1, std::memory_order_relaxed);
        co_await c->write_all(batch, io::deadline(c->write_timeout_));
        batch.clear();
      }
    } catch (const timeout_error&) {
      c->kill(fmt::format("a write did not complete within {} ms (client_options::command_timeout)",
                          c->write_timeout_.count()));
    } catch (const std::exception& e) {
      c->kill(fmt::format("write failed: {}", e.what()));
    }
  }

  /// Gives a reply to the oldest command in flight; false if there is none.
  bool deliver(reply&& r) {
    std::unique_lock lk(m_);
    if (inflight_.empty()) return false;
    pending& p = inflight_.front();
    p.replies.push_back(std::move(r));
    if (p.replies.size() < p.expected) return true;
    pending done = std::move(p);
    inflight_.pop_front();
    lk.unlock();
    // The caller may have stopped waiting (cancelled, or timed out just now).
    if (!done.tx.send(outcome{std::move(done.replies), nullptr}))
      stats_->replies_dropped.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  task<std::size_t> read_some(std::span<std::byte> buf) {
    if (tls_) co_return co_await tls_->read_some(buf);
    co_return co_await tcp_.read_some(buf);
  }

  task<void> write_all(const std::string& s, io::deadline d) {
    if (tls_) co_await io::write_all(*tls_, io::as_bytes(s), d);
    else co_await tcp_.write_all(io::as_bytes(s), d);
  }

  const std::string server_;
  const std::size_t max_reply_bytes_;
  const milliseconds write_timeout_;
  const std::shared_ptr<counters> stats_;
  io::tcp_stream tcp_;
  std::unique_ptr<io::tls_stream<io::tcp_stream>> tls_;

  std::mutex m_;
  std::string out_;               // written by the next writer pass
  std::deque<pending> inflight_;  // in write order
  bool writing_ = false;
  bool dead_ = false;
};

/// A connect in progress: the commands that need the connection wait here.
struct connect_attempt {
  weft::event done;
  std::shared_ptr<connection> conn;
  std::exception_ptr error;
};

struct client_state {
  explicit client_state(const client_options& o)
      : opts(o), server(server_name(o)), stats(std::make_shared<counters>()) {}
  ~client_state() { close("the client was closed"); }

  void close(const std::string& why) {
    std::shared_ptr<connection> c;
    {
      std::lock_guard lk(m);
      c = std::move(conn);
    }
    if (c) c->kill(why);
  }

  /// Drops c as the current connection (it died).
  void forget(const std::shared_ptr<connection>& c) {
    std::lock_guard lk(m);
    if (conn == c) conn.reset();
  }

  const client_options opts;
  const std::string server;
  const std::shared_ptr<counters> stats;

  std::mutex m;
  std::shared_ptr<connection> conn;
  std::shared_ptr<connect_attempt> attempt;
};

namespace {

/// Waits for the replies of bytes (holding `expected` commands) on c.
/// nullopt: c was dead before anything was sent.
task<std::optional<outcome>> exchange(std::shared_ptr<connection> c, std::string_view bytes, std::size_t expected,
                                      io::deadline d) {
  auto [tx, rx] = weft::oneshot<outcome>();
  if (!c->submit(bytes, expected, tx)) co_return std::nullopt;
  co_return co_await io::within(d, std::move(rx));
}

/// One connection attempt: TCP (and TLS), then AUTH and SELECT; `stage`
/// says which step it is in.
task<std::shared_ptr<connection>> open_steps(std::shared_ptr<client_state> st, std::string& stage) {
  const client_options& o = st->opts;
  const io::deadline d(o.connect_timeout);
  stage = "the TCP connect";
  io::tcp_stream s = co_await io::connect(o.host, o.port, d);
  s.set_nodelay(true);
  stage = "the TLS handshake";
  auto c = std::make_shared<connection>(st->server, o.max_reply_bytes, o.command_timeout, st->stats);
  if (o.tls) {
    io::tls_client_options t = o.tls_options;
    if (t.server_name.empty()) t.server_name = o.host;
    t.alpn.clear();
    io::tls_stream<io::tcp_stream> tls = co_await io::tls_stream<io::tcp_stream>::connect(std::move(s), t, d);
    c->adopt(std::move(tls));
  } else {
    c->adopt(std::move(s));
  }
  st->stats->connects.fetch_add(1, std::memory_order_relaxed);
  weft::detail::spawn_service(connection::read_loop(c));

  pipeline setup;
  if (!o.password.empty()) {
    if (o.username.empty()) setup.add("AUTH", o.password);
    else setup.add("AUTH", o.username, o.password);
  }
  if (o.db != 0) setup.add("SELECT", o.db);
  if (setup.empty()) co_return c;
  stage = setup.size() == 2 ? "AUTH and SELECT" : setup.names()[0];

  std::optional<outcome> r;
  std::exception_ptr failed;
  try {
    r = co_await exchange(c, setup.encoded(), setup.size(), d);
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    c->kill("connection setup (AUTH/SELECT) did not complete");
    std::rethrow_exception(failed);
  }
  if (!r) throw connection_error(fmt::format("redis {}: the connection died during AUTH/SELECT", st->server));
  if (r->error) std::rethrow_exception(r->error);
  for (std::size_t i = 0; i < r->replies.size(); ++i) {
    if (r->replies[i].is_error()) {
      c->kill("connection setup refused");
      throw error(setup.names()[i], r->replies[i].as_error());
    }
  }
  co_return c;
}

/// open_steps, with a deadline that passes named: which step, which limit.
task<std::shared_ptr<connection>> open_connection(std::shared_ptr<client_state> st) {
  std::string stage;
  try {
    co_return co_await open_steps(st, stage);
  } catch (const timeout_error&) {
  }
  throw timeout_error(fmt::format("{} did not complete within {} ms (client_options::connect_timeout){}", stage,
                                  st->opts.connect_timeout.count(),
                                  stage == "the TLS handshake" ? "; does the server speak TLS?" : ""));
}

/// Connects with the reconnect policy, then wakes everyone waiting on a.
task<void> connect_loop(std::shared_ptr<client_state> st, std::shared_ptr<connect_attempt> a) {
  const reconnect_options& policy = st->opts.reconnect;
  const clock::time_point started = clock::now();
  std::shared_ptr<connection> conn;
  std::exception_ptr fatal;
  std::string last;
  milliseconds backoff = policy.initial_backoff;
  int attempts = 0;
  const int max_attempts = std::max(1, policy.max_attempts);
  while (attempts < max_attempts) {
    ++attempts;
    try {
      conn = co_await open_connection(st);
      break;
    } catch (const error&) {
      fatal = std::current_exception();  // AUTH or SELECT refused: trying again changes nothing
    } catch (const operation_cancelled&) {
      fatal = std::current_exception();
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (fatal || attempts == max_attempts) break;
    co_await sleep_for(backoff);
    backoff = std::min(backoff * 2, policy.max_backoff);
  }
  if (!conn && !fatal) {
    fatal = std::make_exception_ptr(connection_error(
        fmt::format("redis {}: could not connect ({} attempt{} in {} ms, client_options::reconnect): {}", st->server,
                    attempts, attempts == 1 ? "" : "s", ms_between(started, clock::now()), last)));
  }
  {
    std::lock_guard lk(st->m);
    st->attempt.reset();
    if (conn) st->conn = conn;
  }
  a->conn = std::move(conn);
  a->error = fatal;
  a->done.set();
}

/// The current connection, or a new one (shared with the other commands
/// that need one now).
task<std::shared_ptr<connection>> acquire(std::shared_ptr<client_state> st, io::deadline d) {
  std::shared_ptr<connect_attempt> a;
  std::shared_ptr<connection> current;
  {
    std::lock_guard lk(st->m);
    current = st->conn;
    if (!current) {
      if (!st->attempt) {
        st->attempt = std::make_shared<connect_attempt>();
        weft::detail::spawn_service(connect_loop(st, st->attempt));
      }
      a = st->attempt;
    }
  }
  if (current) {
    if (!current->dead()) co_return current;
    st->forget(current);
    co_return co_await acquire(std::move(st), d);
  }
  co_await io::within(d, a->done.wait());
  if (a->error) std::rethrow_exception(a->error);
  co_return a->conn;
}

/// Sends bytes (holding the commands `names`) and returns their replies:
/// connects first if need be, bounded by d.
task<std::vector<reply>> round_trip(std::shared_ptr<client_state> st, std::string bytes, std::vector<std::string> names,
                                    io::deadline d, bool default_deadline) {
  for (const std::string& n : names)
    if (is_push_command(n))
      throw std::invalid_argument(fmt::format(
          "weft::redis::client: {} is not supported (its replies come unasked; use a separate subscriber)", n));
  const clock::time_point started = clock::now();
  std::shared_ptr<connection> conn;
  std::optional<outcome> result;
  bool timed_out = false;
  try {
    // A connection that died before our bytes went out: nothing was sent,
    // so take the next one (bounded: each try waits for a new connection).
    for (int tries = 0; tries < 3 && !result; ++tries) {
      conn = co_await acquire(st, d);
      result = co_await exchange(conn, bytes, names.size(), d);
      if (!result) st->forget(conn);
    }
  } catch (const timeout_error&) {
    timed_out = true;
  }
  const std::string what =
      names.size() == 1 ? names[0] : fmt::format("a pipeline of {} commands ({}...)", names.size(), names[0]);
  if (timed_out) {
    const std::string limit =
        default_deadline ? fmt::format("{} ms (client_options::command_timeout)", st->opts.command_timeout.count())
                         : fmt::format("{} ms (the call's deadline)", ms_between(started, d.at()));
    if (conn) {
      // Its reply, and those of the commands behind it, are overdue: start over on a new connection.
      conn->kill(fmt::format("closed after {} timed out", what));
      st->forget(conn);
      throw timeout_error(
          fmt::format("weft::redis: {} on {} timed out after {}; the connection was closed", what, st->server, limit));
    }
    throw timeout_error(
        fmt::format("weft::redis: {} on {} timed out after {} while connecting", what, st->server, limit));
  }
  if (!result)
    throw connection_error(
        fmt::format("redis {}: {}: the connection kept dying before it could be sent", st->server, what));
  if (result->error) {
    st->forget(conn);
    std::rethrow_exception(result->error);
  }
  co_return std::move(result->replies);
}

task<reply> single(task<std::vector<reply>> t, std::string name) {
  std::vector<reply> r = co_await std::move(t);
  if (r.front().is_error()) throw error(std::move(name), r.front().as_error());
  co_return std::move(r.front());
}

}  // namespace

}  // namespace detail

client::client(std::shared_ptr<detail::client_state> st) noexcept : st_(std::move(st)) {}
client::client(client&&) noexcept = default;
client& client::operator=(client&& o) noexcept {
  if (this != &o) {
    if (st_) st_->close("the client was replaced");
    st_ = std::move(o.st_);
  }
  return *this;
}
client::~client() {
  if (st_) st_->close("the client was destroyed");
}

task<client> client::connect_state(std::shared_ptr<detail::client_state> st) {
  const std::shared_ptr<detail::connection> c = co_await detail::acquire(st, io::deadline{});
  (void)c;
  co_return client(std::move(st));
}

task<client> client::connect_url(std::string url) {
  // A coroutine, so that a bad URL throws where the task is awaited.
  auto st = std::make_shared<detail::client_state>(parse_url(url));
  co_return co_await connect_state(std::move(st));
}

task<client> client::connect(const client_options& o) {
  return connect_state(std::make_shared<detail::client_state>(o));
}

task<reply> client::run(const redis::command& c, const io::deadline* d) {
  std::string bytes = c.encoded();
  std::vector<std::string> names{c.name()};
  const bool by_default = d == nullptr;
  const io::deadline limit = by_default ? io::deadline(st_->opts.command_timeout) : *d;
  return detail::single(detail::round_trip(st_, std::move(bytes), std::move(names), limit, by_default), c.name());
}

task<std::vector<reply>> client::execute(const pipeline& p) {
  if (p.empty()) return []() -> task<std::vector<reply>> { co_return std::vector<reply>{}; }();
  return detail::round_trip(st_, p.encoded(), p.names(), io::deadline(st_->opts.command_timeout), true);
}

task<std::vector<reply>> client::execute(const pipeline& p, io::deadline d) {
  if (p.empty()) return []() -> task<std::vector<reply>> { co_return std::vector<reply>{}; }();
  return detail::round_trip(st_, p.encoded(), p.names(), d, false);
}

void client::close() {
  if (st_) st_->close("closed by client::close()");
}

const client_options& client::options() const noexcept { return st_->opts; }

client_stats client::stats() const {
  const detail::counters& c = *st_->stats;
  return {c.commands.load(), c.writes.load(), c.connects.load(), c.replies_dropped.load()};
}

}  // namespace weft::redis
