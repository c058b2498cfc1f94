#include "weft/http/server.hpp"

#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "weft/io/serve.hpp"
#include "weft/io/stream.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/sync/semaphore.hpp"
#include "weft/runtime/time.hpp"
#include "weft/runtime/when_any.hpp"

#include "text.hpp"

namespace weft::http {

using namespace std::chrono_literals;

// ------------------------------------------------------------------ helpers

namespace {

using detail::format_imf_date;
using detail::imf_date_size;

/// The Date value of now, formatted at most once per second per thread
/// (the workers answer many requests within one second).
std::string_view cached_date() {
  struct cache {
    std::time_t secs = -1;
    char text[imf_date_size];
  };
  thread_local cache c;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec != c.secs) {
    format_imf_date(ts.tv_sec, c.text);
    c.secs = ts.tv_sec;
  }
  return {c.text, imf_date_size};
}

/// The status a rejected request gets.
int status_for(parse_error e) noexcept {
  switch (e) {
    case parse_error::start_line_too_long: return 414;
    case parse_error::too_many_headers:
    case parse_error::headers_too_large: return 431;
    case parse_error::body_too_large: return 413;
    case parse_error::bad_transfer_encoding: return 501;
    case parse_error::bad_version: return 505;
    default: return 400;
  }
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

bool has_body_status(int status) noexcept { return status >= 200 && status != 204 && status != 304; }

}  // namespace

// ------------------------------------------------------------------ state

namespace detail {

/// What shutdown() needs to know of a connection.
struct conn_ctl {
  /// Waiting for the first byte of a request, nothing buffered: shutdown()
  /// may close it at once.
  std::atomic<bool> idle{false};
};

struct server_state {
  server_state(io::tcp_listener l, handler h, server_options o)
      : listener(std::move(l)), address(listener.local_address()), fn(std::move(h)), opts(std::move(o)) {
    if (!fn) throw std::invalid_argument("weft::http::server: empty handler");
    if (detail::holds_cr_lf_nul(opts.server_header))
      throw std::invalid_argument("weft::http::server: server_header holds CR, LF or NUL");
    if (opts.max_connections) slots.emplace(static_cast<std::ptrdiff_t>(opts.max_connections));
  }

  io::tcp_listener listener;
  io::address address;
  handler fn;
  server_options opts;
  std::optional<weft::semaphore> slots;

  std::atomic<std::uint64_t> connections_accepted{0}, connections_open{0}, requests{0}, responses_4xx{0},
      responses_5xx{0}, parse_errors{0}, timeouts{0};

  struct conn_entry {
    join_handle<void> h;
    conn_ctl ctl;
  };
  std::mutex mu;
  std::unordered_map<std::uint64_t, conn_entry> live;
  std::uint64_t next_id = 0;
  std::size_t count = 0;
  weft::event none_left{true};  // no connection task left
  bool running = false;         // run() started (under mu)
  weft::event run_done{true};   // run()'s accept loop is over and the listener closed

  std::atomic<bool> stopping{false};
  weft::event stop;

  void count_status(int status) noexcept {
    if (status >= 500) responses_5xx.fetch_add(1, std::memory_order_relaxed);
    else if (status >= 400) responses_4xx.fetch_add(1, std::memory_order_relaxed);
  }

  void report(std::exception_ptr e) const {
    if (opts.on_error) {
      try {
        opts.on_error(e);
      } catch (...) {
      }
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::fprintf(stderr, "weft::http::server: handler failed: %s\n", x.what());
    } catch (...) {
      std::fprintf(stderr, "weft::http::server: handler failed (not a std::exception)\n");
    }
  }

  void spawn_connection(io::tcp_stream s);
  void finished(std::uint64_t id) {
    connections_open.fetch_sub(1, std::memory_order_relaxed);
    if (slots) slots->release();
    std::optional<join_handle<void>> h;
    {
      std::lock_guard lock(mu);
      if (auto it = live.find(id); it != live.end()) {
        h.emplace(std::move(it->second.h));
        live.erase(it);
      }
      // Under the lock, so that a spawn cannot clear none_left in between.
      if (--count == 0) none_left.set();
    }
    // The state may be gone from here on (see sync_with_finished).
    if (h) h->detach();
  }
  /// After none_left fired: the last finished() may still be releasing the
  /// lock it set the event under; taking the lock once orders its last
  /// touch of the state before whatever the waiter does next (destroy it).
  void sync_with_finished() { std::lock_guard lock(mu); }
  void cancel_all() {
    std::lock_guard lock(mu);
    for (auto& [id, e] : live) e.h.cancel();
  }
  /// stopping, then the idle connections cancelled; a connection going idle
  /// concurrently checks stopping after raising its flag (both seq_cst), so
  /// one of the two sides always sees the other.
  void begin_stop() {
    std::lock_guard lock(mu);
    if (stopping.exchange(true)) return;
    stop.set();
    for (auto& [id, e] : live)
      if (e.ctl.idle.load()) e.h.cancel();
    if (!running) listener.close();
  }
};

}  // namespace detail

namespace {

using detail::conn_ctl;
using detail::server_state;
using tls_tcp = io::tls_stream<io::tcp_stream>;

// ---------------------------------------------------------------- writing

/// Why the handler's response r cannot be sent, "" if it can. Names,
/// values and the reason phrase go on the wire verbatim, so CR or LF in
/// them (or NUL, which some peers take as an end) would let whoever
/// supplied them add fields or a whole response of their own (response
/// splitting, CWE-113). headers::add and set refuse such fields already;
/// this is the check at the wire, for the reason phrase (a plain string)
/// and whatever else got past them. A HEAD handler's Content-Length goes
/// out in place of the body's length, so it must be a number.
std::string unsendable(const response& r, bool head_request) {
  if (r.status < 200 || r.status > 999)
    return "weft::http::server: the handler returned status " + std::to_string(r.status) +
           " (a final response needs 200..999)";
  auto refused = [](std::string what) { return "weft::http::server: " + what + "; sent 500 instead"; };
  if (detail::holds_cr_lf_nul(r.reason)) return refused("the reason phrase holds CR, LF or NUL");
  const bool stated_length_used = head_request && r.body.empty() && has_body_status(r.status);
  for (const auto& f : r.headers) {
    if (!detail::is_token(f.name))
      return refused("response header name " + detail::quote_for_message(f.name) + " is not a token");
    if (detail::holds_cr_lf_nul(f.value))
      return refused("response header " + detail::quote_for_message(f.name) + " value holds CR, LF or NUL");
    if (stated_length_used && iequals(f.name, "content-length")) {
      std::uint64_t n = 0;
      const char* end = f.value.data() + f.value.size();
      const auto [ptr, ec] = std::from_chars(f.value.data(), end, n);
      if (ec != std::errc() || ptr != end)
        return refused("the HEAD response's Content-Length " + detail::quote_for_message(f.value) +
                       " is not a number (digits only, at most 64 bits)");
    }
  }
  return {};
}

/// Appends the head (and body, unless HEAD or the status has none) of r to
/// out; r is the server's own or has passed unsendable(). Returns whether
/// the connection must close after it (close asked for, or the handler
/// said Connection: close).
bool append_response(std::string& out, const response& r, const server_options& o, bool head_request, bool close,
                     bool http10) {
  const int status = r.status;
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<std::uint64_t>(status));
  out.push_back(' ');
  if (!r.reason.empty()) out.append(r.reason);
  else out.append(reason_phrase(status));
  out.append("\r\n");

  bool has_date = false, has_server = false;
  std::optional<std::string_view> handler_length;
  for (const auto& f : r.headers) {
    const std::string& n = f.name;
    // Framing and connection fields are the server's to write.
    if (iequals(n, "content-length")) {
      handler_length = f.value;
      continue;
    }
    if (iequals(n, "transfer-encoding")) continue;
    if (iequals(n, "connection")) {
      if (r.headers.has_token("connection", "close")) close = true;
      continue;
    }
    if (!has_date && iequals(n, "date")) has_date = true;
    if (!has_server && iequals(n, "server")) has_server = true;
    out.append(n);
    out.append(": ");
    out.append(f.value);
    out.append("\r\n");
  }
  if (!has_server && !o.server_header.empty()) {
    out.append("Server: ");
    out.append(o.server_header);
    out.append("\r\n");
  }
  if (!has_date) {
    out.append("Date: ");
    out.append(cached_date());
    out.append("\r\n");
  }
  const bool body_allowed = has_body_status(status);
  if (body_allowed) {
    out.append("Content-Length: ");
    // A HEAD handler may leave the body out and state its length itself.
    if (head_request && r.body.empty() && handler_length) out.append(*handler_length);
    else append_number(out, r.body.size());
    out.append("\r\n");
  }
  if (close) out.append("Connection: close\r\n");
  else if (http10) out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
  if (body_allowed && !head_request) out.append(r.body);
  return close;
}

/// A response the server makes itself (errors, timeouts), closing.
void append_error(std::string& out, server_state& st, int status) {
  response r = make_response(status, std::string(reason_phrase(status)) + "\n");
  append_response(out, r, st.opts, false, true, false);
  st.count_status(status);
}

void half_close(io::tcp_stream& s) { s.shutdown_write(); }

task<void> end_writes(io::tcp_stream& s, io::deadline) {
  half_close(s);
  co_return;
}
task<void> end_writes(tls_tcp& s, io::deadline d) {
  co_await s.shutdown(d);
  half_close(s.next_layer());
}

/// After a final response: send FIN, then read (and drop) what the client
/// still sends for a short while, so that closing with unread input does
/// not reset the connection before the client has read the response.
template <class S>
task<void> linger_close(S& s, std::span<std::byte> scratch) {
  const io::deadline d(1s);
  bool ok = true;
  try {
    co_await end_writes(s, d);
  } catch (...) {
    ok = false;
  }
  if (!ok) co_return;
  std::size_t total = 0;
  while (total < 256 * 1024) {
    std::size_t n = 0;
    try {
      n = co_await s.read_some(scratch, d);
    } catch (...) {
      break;
    }
    if (n == 0) break;
    total += n;
  }
}

bool expects_continue(const request& req) {
  if (req.version != version::http_1_1) return false;
  if (!req.chunked && req.content_length.value_or(0) == 0) return false;
  auto v = req.headers.get("expect");
  return v && iequals(*v, "100-continue");
}

// ---------------------------------------------------------------- reading

template <class S>
task<void> connection_loop(server_state& st, S& s, conn_ctl& ctl) {
  const server_options& o = st.opts;
  request_parser parser(o.limits, body_mode::accumulate);
  constexpr std::size_t buf_size = 16 * 1024;
  auto buf = std::make_unique<std::byte[]>(buf_size);
  const std::span<std::byte> rbuf{buf.get(), buf_size};
  std::string out;
  out.reserve(2048);
  std::uint64_t served = 0;
  enum class phase { idle, head, body } ph = phase::idle;
  // The head's (body's) deadline, set by the first read that finds it
  // incomplete: a request that came whole in one read costs no clock read.
  std::optional<clock::time_point> phase_deadline;

  for (;;) {
    io::deadline d;
    if (ph == phase::idle) {
      ctl.idle.store(true);
      if (st.stopping.load()) co_return;
      d = io::deadline(o.idle_timeout);
    } else {
      if (!phase_deadline) phase_deadline = io::deadline(ph == phase::head ? o.header_timeout : o.body_timeout).at();
      d = io::deadline(*phase_deadline);
    }
    std::size_t n = 0;
    bool timed_out = false;
    try {
      n = co_await s.read_some(rbuf, d);
    } catch (const timeout_error&) {
      timed_out = true;
    }
    ctl.idle.store(false, std::memory_order_relaxed);
    if (timed_out) {
      st.timeouts.fetch_add(1, std::memory_order_relaxed);
      if (ph == phase::idle) co_return;  // an idle keep-alive connection: just close
      out.clear();
      append_error(out, st, 408);
      co_await io::write_all(s, io::as_bytes(out), io::deadline(o.write_timeout));
      co_await linger_close(s, rbuf);
      co_return;
    }
    if (n == 0) co_return;  // the client closed (mid-request: nobody to answer)

    std::span<const std::byte> in{buf.get(), n};
    bool closing = false;
    // Until need_more: after headers_done the parser reports
    // message_complete on the next feed, with no further bytes if the
    // body is empty or already in.
    for (;;) {
      if (ph == phase::idle) {
        if (in.empty()) break;
        ph = phase::head;
        phase_deadline.reset();
      }
      const parse_result r = parser.feed(in);
      in = in.subspan(r.consumed);
      if (r.event == parse_event::need_more) break;
      if (r.event == parse_event::error) {
        st.parse_errors.fetch_add(1, std::memory_order_relaxed);
        append_error(out, st, status_for(parser.error()));
        closing = true;
        break;
      }
      if (r.event == parse_event::headers_done) {
        ph = phase::body;
        phase_deadline.reset();
        if (in.empty() && expects_continue(parser.message())) {
          // Responses to earlier pipelined requests go first, in order.
          out.append("HTTP/1.1 100 Continue\r\n\r\n");
          co_await io::write_all(s, io::as_bytes(out), io::deadline(o.write_timeout));
          out.clear();
        }
        continue;
      }
      // message_complete
      ph = phase::idle;
      request& req = parser.message();
      ++served;
      st.requests.fetch_add(1, std::memory_order_relaxed);
      // Before the handler, which may move the method out of req.
      const bool head_request = req.method == "HEAD";
      response resp;
      std::exception_ptr failed;
      try {
        resp = co_await st.fn(req);
      } catch (const operation_cancelled&) {
        throw;  // the connection is being cancelled (shutdown grace ran out)
      } catch (...) {
        failed = std::current_exception();
      }
      if (!failed) {
        if (std::string why = unsendable(resp, head_request); !why.empty())
          failed = std::make_exception_ptr(std::logic_error(why));
      }
      if (failed) {
        // A fixed response: nothing of the handler's goes out. The request
        // was read whole and nothing was written for it yet, so the
        // connection is still in step and may go on, as after a throw.
        st.report(failed);
        resp = make_response(500, "Internal Server Error\n");
      }
      st.count_status(resp.status);
      // Checked after the handler: a shutdown begun meanwhile closes too.
      const bool close = !req.keep_alive || st.stopping.load(std::memory_order_relaxed) ||
                         (o.max_requests_per_connection && served >= o.max_requests_per_connection);
      if (append_response(out, resp, o, head_request, close, req.version == version::http_1_0)) {
        closing = true;
        break;
      }
      if (out.size() >= 64 * 1024) {  // a large batch: do not hold it all
        co_await io::write_all(s, io::as_bytes(out), io::deadline(o.write_timeout));
        out.clear();
      }
    }
    if (!parser.in_message()) ph = phase::idle;
    if (!out.empty()) {
      // One write_some nearly always takes it all (write_all's loop is a
      // coroutine frame more per response).
      const auto bytes = io::as_bytes(out);
      const io::deadline wd(o.write_timeout);
      const std::size_t sent = co_await s.write_some(bytes, wd);
      if (sent < bytes.size()) co_await io::write_all(s, bytes.subspan(sent), wd);
      if (out.capacity() > 256 * 1024) {
        out = std::string();  // a huge response once: do not keep its buffer
        out.reserve(2048);
      } else {
        out.clear();
      }
    }
    if (closing) {
      co_await linger_close(s, rbuf);
      co_return;
    }
  }
}

task<void> connection_task(server_state* st, io::tcp_stream s, conn_ctl* ctl, std::uint64_t id) {
  std::exception_ptr failure;
  try {
    s.set_nodelay(true);
    if (st->opts.tls) {
      auto t = co_await tls_tcp::accept(std::move(s), *st->opts.tls, io::deadline(st->opts.header_timeout));
      co_await connection_loop(*st, t, *ctl);
    } else {
      co_await connection_loop(*st, s, *ctl);
    }
  } catch (const operation_cancelled&) {
  } catch (const timeout_error&) {
    st->timeouts.fetch_add(1, std::memory_order_relaxed);  // writing, or the TLS handshake
  } catch (const std::system_error&) {
    // The peer reset or went away: ordinary for a server, not an error.
  } catch (const io::tls_error&) {
    // A failed handshake or a truncated TLS stream: the peer's problem.
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) st->report(failure);
  st->finished(id);
}

}  // namespace

namespace detail {

void server_state::spawn_connection(io::tcp_stream s) {
  std::lock_guard lock(mu);
  const std::uint64_t id = next_id++;
  if (count++ == 0) none_left.clear();
  connections_accepted.fetch_add(1, std::memory_order_relaxed);
  connections_open.fetch_add(1, std::memory_order_relaxed);
  auto& e = live[id];
  // Spawned under the lock: finished() (which takes it) cannot run before
  // the handle is stored.
  e.h = weft::spawn(connection_task(this, std::move(s), &e.ctl, id));
}

}  // namespace detail

namespace {

task<void> accept_loop(server_state& st) {
  auto backoff = 5ms;
  bool reported = false;
  for (;;) {
    if (st.slots) co_await st.slots->acquire();
    std::optional<io::tcp_stream> s;
    std::optional<std::system_error> error;
    std::exception_ptr error_ptr;
    try {
      s.emplace(co_await st.listener.accept());
    } catch (const std::system_error& e) {
      error.emplace(e);
      error_ptr = std::current_exception();
    }
    if (error) {
      if (st.slots) st.slots->release();
      const auto kind = io::detail::classify_accept_error(*error);
      if (kind == io::detail::accept_failure::fatal) std::rethrow_exception(error_ptr);
      if (kind == io::detail::accept_failure::back_off) {
        if (!reported)
          std::fprintf(stderr, "weft::http::server: %s; backing off, existing connections go on\n", error->what());
        reported = true;
        co_await sleep_for(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, 1s);
      }
      continue;
    }
    backoff = 5ms;
    reported = false;
    st.spawn_connection(std::move(*s));
  }
}

task<void> wait_stop(server_state& st) { co_await st.stop.wait(); }

}  // namespace

// ------------------------------------------------------------------ server

server::server(io::tcp_listener listener, handler h, server_options opts)
    : st_(std::make_shared<detail::server_state>(std::move(listener), std::move(h), std::move(opts))) {}

server server::bind(const io::address& addr, handler h, server_options opts) {
  io::listen_options lo;
  lo.reuse_address = true;
  return server(io::tcp_listener::bind(addr, lo), std::move(h), std::move(opts));
}

server::server(server&&) noexcept = default;
server& server::operator=(server&&) noexcept = default;
server::~server() = default;

io::address server::local_address() const { return st_->address; }

server_stats server::stats() const {
  const auto& s = *st_;
  server_stats r;
  r.connections_accepted = s.connections_accepted.load(std::memory_order_relaxed);
  r.connections_open = s.connections_open.load(std::memory_order_relaxed);
  r.requests = s.requests.load(std::memory_order_relaxed);
  r.responses_4xx = s.responses_4xx.load(std::memory_order_relaxed);
  r.responses_5xx = s.responses_5xx.load(std::memory_order_relaxed);
  r.parse_errors = s.parse_errors.load(std::memory_order_relaxed);
  r.timeouts = s.timeouts.load(std::memory_order_relaxed);
  return r;
}

task<void> server::run() {
  std::shared_ptr<detail::server_state> st = st_;  // the server object may move meanwhile
  {
    std::lock_guard lock(st->mu);
    if (st->running)
      throw std::logic_error("weft::http::server::run: called twice (run() serves once, until shutdown)");
    st->running = true;
    st->run_done.clear();
  }
  std::exception_ptr failure;
  bool stopped = false;
  try {
    if (!st->stopping.load()) co_await when_any(accept_loop(*st), wait_stop(*st));
    stopped = true;  // the accept loop never returns: shutdown() won
  } catch (...) {
    failure = std::current_exception();
  }
  st->listener.close();  // new connections are refused from here on
  st->run_done.set();
  if (stopped) {
    try {
      co_await st->none_left.wait();
      st->sync_with_finished();
    } catch (...) {
      failure = std::current_exception();
    }
    if (!failure) co_return;
  }
  st->cancel_all();
  co_await st->none_left.wait_uncancellable();
  st->sync_with_finished();
  std::rethrow_exception(failure);
}

task<void> server::shutdown(std::chrono::milliseconds grace) {
  std::shared_ptr<detail::server_state> st = st_;
  st->begin_stop();
  bool expired = false;
  try {
    co_await with_timeout(grace, st->none_left.wait());
  } catch (const timeout_error&) {
    expired = true;
  }
  if (expired) st->cancel_all();
  co_await st->none_left.wait_uncancellable();
  st->sync_with_finished();
  co_await st->run_done.wait();
}

}  // namespace weft::http
