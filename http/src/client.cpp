// weft::http::client (see client.hpp): URL handling with Boost.URL, a
// connection pool per (scheme, host, port), one request/response exchange
// per attempt over a small transport interface (TCP or TLS over TCP).
#include "weft/http/client.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <boost/url.hpp>
#include <cctype>
#include <cerrno>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "weft/http/content_decoder.hpp"
#include "weft/io/connect.hpp"
#include "weft/io/resolve.hpp"
#include "weft/io/tcp.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/sync/semaphore.hpp"
#include "weft/runtime/time.hpp"

namespace weft::http {

namespace detail {
namespace {

// ------------------------------------------------------------------ URLs

/// What a request needs from its URL.
struct target {
  std::string url;  // canonical, without fragment: the client_response::url
  bool https = false;
  std::string host;  // to resolve and to verify (IPv6 without brackets)
  std::uint16_t port = 0;
  std::string host_header;  // host[:port], IPv6 bracketed, default port left out
  std::string path;         // request-target: path?query
  std::string pool_key;     // scheme://host_header:port
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

target target_of(const boost::urls::url_view& u, const std::string& shown) {
  target t;
  std::string scheme = lower(u.scheme());
  if (scheme == "https") t.https = true;
  else if (scheme != "http")
    throw client_error(client_errc::unsupported_scheme, shown,
                       "unsupported scheme \"" + std::string(u.scheme()) + "\" (http and https only)");
  if (!u.has_authority() || u.encoded_host().empty())
    throw client_error(client_errc::bad_url, shown, "the URL has no host");
  if (u.has_userinfo())
    throw client_error(client_errc::bad_url, shown,
                       "credentials in the URL are not supported (send an Authorization header)");
  std::string bracketed;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
      t.host = u.host_ipv4_address().to_string();
      bracketed = t.host;
      break;
    case boost::urls::host_type::ipv6:
      t.host = u.host_ipv6_address().to_string();
      bracketed = "[" + t.host + "]";
      break;
    case boost::urls::host_type::name: {
      std::string_view h = u.encoded_host();
      if (h.find('%') != std::string_view::npos)
        throw client_error(client_errc::bad_url, shown, "percent-encoded host names are not supported");
      t.host = lower(h);
      bracketed = t.host;
      break;
    }
    default:
      throw client_error(client_errc::bad_url, shown, "unsupported host \"" + std::string(u.encoded_host()) + "\"");
  }
  std::uint16_t default_port = t.https ? 443 : 80;
  t.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    // port_number() wraps values over 65535: check the digits ourselves.
    std::string_view digits = u.port();
    unsigned long port = 0;
    for (char ch : digits) {
      port = port * 10 + static_cast<unsigned long>(ch - '0');
      if (port > 65535) break;
    }
    if (port == 0 || port > 65535)
      throw client_error(client_errc::bad_url, shown, "bad port \"" + std::string(digits) + "\"");
    t.port = static_cast<std::uint16_t>(port);
  }
  t.host_header = t.port == default_port ? bracketed : bracketed + ":" + std::to_string(t.port);
  t.path = u.encoded_path().empty() ? std::string("/") : std::string(u.encoded_path());
  if (u.has_query()) t.path += "?" + std::string(u.encoded_query());
  t.url = scheme + "://" + t.host_header + t.path;
  t.pool_key = scheme + "://" + bracketed + ":" + std::to_string(t.port);
  return t;
}

target parse_target(const std::string& url) {
  auto r = boost::urls::parse_uri(url);
  if (!r) {
    // A scheme-less "example.com/x" parses as a relative reference: say so.
    auto rel = boost::urls::parse_uri_reference(url);
    if (rel && !rel->has_scheme())
      throw client_error(client_errc::bad_url, url, "not an absolute URL (no scheme: write http://...)");
    if (url.find_first_of(" \t\r\n") != std::string::npos)
      throw client_error(client_errc::bad_url, url, "not a valid URL (whitespace must be percent-encoded)");
    throw client_error(client_errc::bad_url, url, "not a valid URL (" + r.error().message() + ")");
  }
  return target_of(*r, url);
}

/// Location resolved against the URL it came from (RFC 3986 5.2).
target resolve_location(const target& base, std::string_view location) {
  auto ref = boost::urls::parse_uri_reference(location);
  if (!ref)
    throw client_error(client_errc::protocol, base.url,
                       "bad Location \"" + std::string(location) + "\" in a redirect (" + ref.error().message() + ")");
  boost::urls::url dest;
  auto b = boost::urls::parse_uri(base.url);
  auto rr = boost::urls::resolve(*b, *ref, dest);
  if (!rr)
    throw client_error(client_errc::protocol, base.url,
                       "cannot resolve Location \"" + std::string(location) + "\" (" + rr.error().message() + ")");
  dest.remove_fragment();
  return target_of(dest, std::string(dest.buffer()));
}

// ------------------------------------------------------------------ transport

/// The stream under one connection: TCP, or TLS over TCP.
class transport {
 public:
  virtual ~transport() = default;
  virtual task<std::size_t> read_some(std::span<std::byte> buf, io::deadline d) = 0;
  virtual task<void> write_all(std::span<const std::byte> buf, io::deadline d) = 0;
  /// The socket, polled while the connection is idle.
  virtual int fd() const noexcept = 0;
  /// Whether input already taken off the socket waits in a layer above it
  /// (TLS records the session holds): the kernel no longer shows it, so an
  /// idle poll would miss it. Never waits.
  virtual bool has_buffered_input() const { return false; }
};

class tcp_transport final : public transport {
 public:
  explicit tcp_transport(io::tcp_stream s) : s_(std::move(s)) {}
  task<std::size_t> read_some(std::span<std::byte> buf, io::deadline d) override { return s_.read_some(buf, d); }
  task<void> write_all(std::span<const std::byte> buf, io::deadline d) override { return s_.write_all(buf, d); }
  int fd() const noexcept override { return s_.fd(); }

 private:
  io::tcp_stream s_;
};

class tls_transport final : public transport {
 public:
  explicit tls_transport(io::tls_stream<io::tcp_stream> s) : s_(std::move(s)) {}
  task<std::size_t> read_some(std::span<std::byte> buf, io::deadline d) override { return s_.read_some(buf, d); }
  task<void> write_all(std::span<const std::byte> buf, io::deadline d) override { return io::write_all(s_, buf, d); }
  int fd() const noexcept override { return s_.next_layer().fd(); }
  bool has_buffered_input() const override { return s_.has_buffered_input(); }

 private:
  io::tls_stream<io::tcp_stream> s_;
};

struct connection {
  std::unique_ptr<transport> io;
  clock::time_point idle_since{};
};

/// Whether the socket has input (bytes, the end of stream, an error) now.
bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // -1 too: a connection we cannot check is not reused
}

// ------------------------------------------------------------------ pool

struct host_pool {
  explicit host_pool(std::size_t max) : slots(max) {}
  weft::semaphore slots;  // one permit per connection in use: FIFO waiters
  std::mutex m;
  std::vector<std::unique_ptr<connection>> idle;  // most recent last
};

/// Returns a pool slot when the attempt is done, however it ends.
struct slot_guard {
  host_pool* pool;
  ~slot_guard() { pool->slots.release(); }
};

}  // namespace

struct client_state {
  explicit client_state(client_options o) : opts(std::move(o)) {}
  const client_options opts;
  std::mutex m;
  std::unordered_map<std::string, std::unique_ptr<host_pool>> pools;  // never shrinks: waiters point in
  std::atomic<std::uint64_t> requests{0}, opened{0}, reused{0}, redirects{0};

  host_pool& pool_for(const std::string& key) {
    std::lock_guard lock(m);
    auto& p = pools[key];
    if (!p) p = std::make_unique<host_pool>(opts.max_connections_per_host);
    return *p;
  }

  /// The most recent idle connection still young enough and silent since
  /// it was pooled; older ones, and ones the server wrote to or closed, are
  /// closed.
  std::unique_ptr<connection> take_idle(host_pool& p) {
    for (;;) {
      std::vector<std::unique_ptr<connection>> stale;  // these close outside the lock, as does c if unfit
      std::unique_ptr<connection> c;
      {
        std::lock_guard lock(p.m);
        expire(p, stale);
        if (p.idle.empty()) return nullptr;
        c = std::move(p.idle.back());
        p.idle.pop_back();
      }
      // Input on an idle connection answers no request of ours: a server
      // that wrote more than it should (a body after HEAD or 204, an
      // unsolicited response) or closed the connection. The next request
      // would read those bytes as its response: never reuse it (as curl,
      // Go and hyper do).
      if (!readable_now(c->io->fd())) return c;
    }
  }

  void put_idle(host_pool& p, std::unique_ptr<connection> c) {
    std::vector<std::unique_ptr<connection>> stale;
    c->idle_since = clock::now();
    std::lock_guard lock(p.m);
    expire(p, stale);
    if (p.idle.size() < opts.max_idle_per_host) p.idle.push_back(std::move(c));
    else stale.push_back(std::move(c));
  }

  void expire(host_pool& p, std::vector<std::unique_ptr<connection>>& into) {
    auto cutoff = clock::now() - opts.idle_timeout;
    auto young = std::find_if(p.idle.begin(), p.idle.end(), [&](auto& c) { return c->idle_since > cutoff; });
    for (auto it = p.idle.begin(); it != young; ++it) into.push_back(std::move(*it));
    p.idle.erase(p.idle.begin(), young);
  }

  void close_idle() {
    std::vector<std::unique_ptr<connection>> all;
    std::lock_guard lock(m);
    for (auto& [key, p] : pools) {
      std::lock_guard plock(p->m);
      for (auto& c : p->idle) all.push_back(std::move(c));
      p->idle.clear();
    }
  }
};

namespace {

// ------------------------------------------------------------------ requests

/// s quoted, control characters escaped: the message shows what was
/// refused without carrying the CR or LF it was refused for.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      if (c == '"' || c == '\\') out += '\\';
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

/// Why a method or header name was refused (RFC 9110 5.6.2).
constexpr std::string_view not_a_token = ": not a token (letters, digits and !#$%&'*+-.^_`|~ only)";

void check_method(const std::string& method) {
  if (!detail::is_token(method))
    throw std::invalid_argument("weft::http::client: bad method " + quoted(method) + std::string(not_a_token));
}

void check_headers(const headers& h) {
  for (const auto& f : h) {
    if (!detail::is_token(f.name))
      throw std::invalid_argument("weft::http::client: bad header name " + quoted(f.name) + std::string(not_a_token));
    if (detail::holds_cr_lf_nul(f.value))
      throw std::invalid_argument("weft::http::client: header \"" + f.name + "\" has CR, LF or NUL in its value");
    if (iequals(f.name, "Transfer-Encoding") || iequals(f.name, "Content-Length"))
      throw std::invalid_argument("weft::http::client: \"" + f.name +
                                  "\" is set by the client (the body is sent with Content-Length)");
  }
}

bool idempotent(std::string_view m) {
  for (std::string_view s : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
    if (m == s) return true;
  return false;
}

std::string serialize(const client_options& opts, const std::string& method, const target& t, const headers& h,
                      const std::string& body) {
  std::string out;
  out.reserve(256 + body.size());
  out += method;
  out += ' ';
  out += t.path;
  out += " HTTP/1.1\r\n";
  auto line = [&](std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  };
  if (!h.contains("Host")) line("Host", t.host_header);
  if (!opts.user_agent.empty() && !h.contains("User-Agent")) line("User-Agent", opts.user_agent);
  if (opts.decompress && !h.contains("Accept-Encoding")) line("Accept-Encoding", "gzip, deflate");
  for (const auto& f : h) line(f.name, f.value);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    line("Content-Length", std::to_string(body.size()));
  out += "\r\n";
  out += body;
  return out;
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

/// The server closed a pooled connection before answering: retry if allowed.
struct stale_connection {
  std::string why;
};

struct exchange_result {
  client_response resp;
  bool reusable = false;
};

/// Sends one request on c and reads its response. Throws stale_connection
/// when the connection ended before any response byte; client_error,
/// timeout_error or operation_cancelled otherwise.
task<exchange_result> exchange(const client_options& opts, connection& c, const std::string& method, const target& t,
                               const std::string& wire, bool close_after, std::chrono::milliseconds timeout) {
  const clock::time_point request_at = weft::detail::deadline_after(timeout);
  auto timed_out = [&](bool by_read) {
    return timeout_error(
        "weft::http::client: " + method + " " + t.url + ": " +
        (by_read ? "read timeout (" + ms(opts.read_timeout) + ")" : "request timeout (" + ms(timeout) + ")") +
        " expired");
  };

  // Send. A pooled connection the server already closed may fail here.
  {
    std::string failure;
    bool timeout_hit = false;
    try {
      co_await c.io->write_all(io::as_bytes(wire), io::deadline(request_at));
    } catch (const timeout_error&) {
      timeout_hit = true;
    } catch (const std::system_error& e) {
      failure = e.what();
    } catch (const io::tls_error& e) {
      failure = e.what();
    }
    if (timeout_hit) throw timed_out(false);
    if (!failure.empty()) throw stale_connection{"sending the request: " + failure};
  }

  parser_limits limits = opts.limits;
  limits.max_body_bytes = opts.max_response_bytes;  // raw bytes; decoded ones are bounded below
  response_parser p{limits, body_mode::deliver};
  const bool head = method == "HEAD";
  p.expect_no_body(head);
  std::optional<content_decoder> decoder;
  std::string body;
  bool any_byte = false;
  bool done = false;
  bool leftover = false;
  std::vector<std::byte> buf(16 * 1024);

  auto fail = [&](client_errc code, const std::string& msg) { return client_error(code, t.url, msg); };
  auto on_parse_error = [&]() {
    parse_error e = p.error();
    if (e == parse_error::body_too_large)
      return fail(
          client_errc::response_too_large,
          "body exceeds max_response_bytes (" + std::to_string(opts.max_response_bytes) + "): " + p.error_message());
    if (e == parse_error::incomplete_message)
      return fail(client_errc::connection_closed, "connection closed before the response was complete");
    return fail(client_errc::protocol, "bad response (" + std::string(to_string(e)) + "): " + p.error_message());
  };
  // The end of a message: true if it was the final response, false for an
  // interim (1xx) one, after which the real response follows.
  auto complete = [&]() -> bool {
    int status = p.message().status;
    if (status >= 100 && status < 200 && status != 101) {
      p.expect_no_body(head);  // the final response still answers HEAD
      return false;
    }
    if (decoder) {
      try {
        decoder->finish();
      } catch (const client_error& e) {
        throw fail(e.code(), e.detail());
      }
    }
    return true;
  };
  // Handles one parser event; true once the final response is complete.
  auto handle = [&](const parse_result& r) -> bool {
    switch (r.event) {
      case parse_event::error: throw on_parse_error();
      case parse_event::headers_done: {
        const response& m = p.message();
        // Decode only where a body follows: a HEAD, 204 or 304 answer keeps
        // its headers as they came.
        const bool bodiless = head || m.status == 204 || m.status == 304;
        if (m.status >= 200 && !bodiless && opts.decompress) {
          if (auto ce = m.headers.get("Content-Encoding")) {
            auto coding = parse_content_coding(*ce);
            if (coding && *coding != content_coding::identity) decoder.emplace(*coding, opts.max_response_bytes);
          }
        }
        return false;  // message_complete follows, also when there is no body
      }
      case parse_event::body:
      case parse_event::message_complete: {
        if (!r.body.empty()) {
          try {
            if (decoder) decoder->feed(r.body, body);
            else body.append(reinterpret_cast<const char*>(r.body.data()), r.body.size());
          } catch (const client_error& e) {
            throw fail(e.code(), e.detail());
          }
        }
        return r.event == parse_event::message_complete ? complete() : false;
      }
      case parse_event::need_more: return false;
    }
    return false;
  };

  while (!done) {
    const clock::time_point read_at = weft::detail::deadline_after(opts.read_timeout);
    const bool by_read = read_at < request_at;
    std::size_t n = 0;
    std::string failure;
    bool timeout_hit = false;
    try {
      n = co_await c.io->read_some(buf, io::deadline(by_read ? read_at : request_at));
    } catch (const timeout_error&) {
      timeout_hit = true;
    } catch (const std::system_error& e) {
      failure = e.what();
    } catch (const io::tls_error& e) {
      failure = std::string("TLS: ") + e.what();
    }
    if (timeout_hit) throw timed_out(by_read);
    if (!failure.empty()) {
      if (!any_byte) throw stale_connection{"reading the response: " + failure};
      throw fail(client_errc::connection_closed, "connection failed mid-response: " + failure);
    }
    if (n == 0) {
      if (!any_byte) throw stale_connection{"the server closed the connection without responding"};
      done = handle(p.finish());
      if (!done) throw fail(client_errc::connection_closed, "connection closed before the response was complete");
      break;
    }
    any_byte = true;
    std::span<const std::byte> in{buf.data(), n};
    // Feed until the parser wants more (an empty rest may still complete a
    // message, as after the head of a Content-Length: 0 response).
    for (;;) {
      parse_result r = p.feed(in);
      in = in.subspan(r.consumed);
      done = handle(r);
      if (done || r.event == parse_event::need_more) break;
    }
    // Bytes after the response: the server sent something we did not ask
    // for; the connection cannot be trusted with another request.
    if (done && !in.empty()) leftover = true;
  }

  exchange_result out;
  response& m = p.message();
  out.reusable = m.keep_alive && !leftover && !close_after && m.status != 101;
  // Bytes that came after the response yet sit above the socket (in TLS)
  // are just as unasked for; those still in the kernel, or still to come,
  // take_idle() sees.
  if (out.reusable && c.io->has_buffered_input()) out.reusable = false;
  static_cast<response&>(out.resp) = std::move(m);
  if (decoder) {
    out.resp.headers.remove("Content-Encoding");
    out.resp.headers.remove("Content-Length");
    out.resp.content_length = body.size();
  }
  out.resp.body = std::move(body);
  co_return out;
}

/// Opens a connection to t under connect_timeout.
task<std::unique_ptr<connection>> open(const client_options& opts, const target& t) {
  const clock::time_point at = weft::detail::deadline_after(opts.connect_timeout);
  std::string failure;
  client_errc code = client_errc::connect;
  bool timeout_hit = false;
  std::unique_ptr<connection> c;
  try {
    io::tcp_stream s = co_await io::connect(t.host, t.port, io::deadline(at));
    s.set_nodelay(true);
    c = std::make_unique<connection>();
    if (t.https) {
      io::tls_client_options to = opts.tls;
      to.server_name = t.host;
      auto tls = co_await io::tls_stream<io::tcp_stream>::connect(std::move(s), to, io::deadline(at));
      c->io = std::make_unique<tls_transport>(std::move(tls));
    } else {
      c->io = std::make_unique<tcp_transport>(std::move(s));
    }
  } catch (const timeout_error&) {
    timeout_hit = true;
  } catch (const io::tls_error& e) {
    code = client_errc::tls;
    failure = std::string("TLS handshake with ") + t.host_header + " failed: " + e.what();
  } catch (const io::resolve_error& e) {
    failure = e.what();  // names the host and the reason
  } catch (const std::system_error& e) {
    failure = e.what();  // names host:port, the addresses tried and errno
  }
  if (timeout_hit)
    throw timeout_error("weft::http::client: " + t.url + ": connect timeout (" + ms(opts.connect_timeout) +
                        ") expired");
  if (!failure.empty()) throw client_error(code, t.url, failure);
  co_return c;
}

/// Waits for a free connection slot of the host under pool_timeout (the
/// default, no limit, is a plain acquire in attempt()).
task<void> acquire_slot_within(const client_options& opts, host_pool& pool, const std::string& method,
                               const target& t) {
  try {
    co_await with_timeout(*opts.pool_timeout, pool.slots.acquire());
  } catch (const timeout_error&) {
    throw timeout_error("weft::http::client: " + method + " " + t.url + ": pool timeout (" + ms(*opts.pool_timeout) +
                        ") expired: all " + std::to_string(opts.max_connections_per_host) + " connections to " +
                        t.host_header + " stayed busy");
  }
}

/// One hop: a pool slot, a connection (pooled or new), the exchange, and
/// one retry on a fresh connection when a pooled one turns out dead.
task<client_response> attempt(std::shared_ptr<client_state> st, std::string method, target t, headers h,
                              std::string body, std::chrono::milliseconds timeout) {
  const client_options& opts = st->opts;
  host_pool& pool = st->pool_for(t.pool_key);
  if (opts.pool_timeout) co_await acquire_slot_within(opts, pool, method, t);
  else co_await pool.slots.acquire();
  slot_guard guard{&pool};
  const bool close_after = h.has_token("Connection", "close");
  const std::string wire = serialize(opts, method, t, h, body);
  for (bool retried = false;; retried = true) {
    std::unique_ptr<connection> c = retried ? nullptr : st->take_idle(pool);
    const bool reused = c != nullptr;
    if (reused) {
      st->reused.fetch_add(1, std::memory_order_relaxed);
    } else {
      c = co_await open(opts, t);
      st->opened.fetch_add(1, std::memory_order_relaxed);
    }
    st->requests.fetch_add(1, std::memory_order_relaxed);
    std::optional<exchange_result> r;
    std::string stale;
    try {
      r.emplace(co_await exchange(opts, *c, method, t, wire, close_after, timeout));
    } catch (stale_connection& s) {
      stale = std::move(s.why);
    }
    if (!r) {
      c.reset();
      if (reused && !retried && idempotent(method)) continue;
      throw client_error(client_errc::connection_closed, t.url, stale + (reused ? " (on a reused connection)" : ""));
    }
    if (r->reusable) st->put_idle(pool, std::move(c));
    co_return std::move(r->resp);
  }
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

task<client_response> run(std::shared_ptr<client_state> st, std::string method, std::string url, request_options o) {
  check_method(method);
  check_headers(o.headers);
  target t = parse_target(url);
  const int max_redirects = o.max_redirects.value_or(st->opts.max_redirects);
  if (max_redirects < 0) throw std::invalid_argument("weft::http::client: max_redirects < 0");
  const std::chrono::milliseconds timeout = o.timeout.value_or(st->opts.request_timeout);
  std::vector<std::string> chain;  // URLs redirected from
  for (;;) {
    client_response r = co_await attempt(st, method, t, o.headers, o.body, timeout);
    auto location = r.headers.get("Location");
    if (!is_redirect(r.status) || !location || max_redirects == 0) {
      r.url = std::move(t.url);
      r.redirects = std::move(chain);
      co_return r;
    }
    target next = resolve_location(t, *location);
    if (next.url == t.url || std::find(chain.begin(), chain.end(), next.url) != chain.end())
      throw client_error(client_errc::redirect_loop, url,
                         "redirect loop: " + t.url + " -> " + next.url + " was visited before");
    if (static_cast<int>(chain.size()) >= max_redirects)
      throw client_error(client_errc::too_many_redirects, url,
                         "more than " + std::to_string(max_redirects) + " redirects (last to " + next.url + ")");
    if ((r.status == 301 || r.status == 302 || r.status == 303) && method != "HEAD") {
      method = "GET";
      o.body.clear();
      o.headers.remove("Content-Type");
    }
    if (next.pool_key != t.pool_key) {
      // Credentials and the Host meant for one origin do not follow to another.
      o.headers.remove("Authorization");
      o.headers.remove("Proxy-Authorization");
      o.headers.remove("Cookie");
      o.headers.remove("Host");
    }
    st->redirects.fetch_add(1, std::memory_order_relaxed);
    chain.push_back(std::move(t.url));
    t = std::move(next);
  }
}

}  // namespace
}  // namespace detail

client::client() : client(client_options{}) {}

client::client(client_options opts) {
  if (opts.max_connections_per_host == 0)
    throw std::invalid_argument("weft::http::client: max_connections_per_host must be at least 1");
  if (opts.max_redirects < 0) throw std::invalid_argument("weft::http::client: max_redirects < 0");
  st_ = std::make_shared<detail::client_state>(std::move(opts));
}

client::~client() {
  if (st_) st_->close_idle();
}

// The overloads taking request_options&& are refused (client.hpp): these
// copy `o` here, outside any co_await, and never call those.
task<client_response> client::get(std::string url) {
  return detail::run(st_, "GET", std::move(url), request_options{});
}

task<client_response> client::post(std::string url, std::string body, std::string content_type) {
  const request_options none;
  return post(std::move(url), std::move(body), std::move(content_type), none);
}

task<client_response> client::request(std::string method, std::string url) {
  return detail::run(st_, std::move(method), std::move(url), request_options{});
}

task<client_response> client::get(std::string url, const request_options& o) {
  return detail::run(st_, "GET", std::move(url), o);
}

task<client_response> client::post(std::string url, std::string body, std::string content_type,
                                   const request_options& o) {
  request_options with_body = o;
  with_body.body = std::move(body);
  if (!content_type.empty()) with_body.headers.set("Content-Type", std::move(content_type));
  return detail::run(st_, "POST", std::move(url), std::move(with_body));
}

task<client_response> client::request(std::string method, std::string url, const request_options& o) {
  return detail::run(st_, std::move(method), std::move(url), o);
}

client_stats client::stats() const {
  return {st_->requests.load(std::memory_order_relaxed), st_->opened.load(std::memory_order_relaxed),
          st_->reused.load(std::memory_order_relaxed), st_->redirects.load(std::memory_order_relaxed)};
}

void client::close_idle() { st_->close_idle(); }

}  // namespace weft::http
