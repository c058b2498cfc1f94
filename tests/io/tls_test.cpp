// tls_stream on both drivers, with a CA and certificates generated at run
// time (test_pki.hpp): echo, verification (untrusted, trusted, host-name
// and IP mismatch, opt-out), ALPN, misbehaving peers, deadlines,
// cancellation, large full-duplex transfers, close_notify, bad input.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "io_fault_support.hpp"
#include "test_pki.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;
using tls = io::tls_stream<io::tcp_stream>;

static_assert(io::stream<tls>);
static_assert(io::stream<io::buffered_reader<tls&>>);

namespace {

io::tls_context server_ctx(const key_pair& kp = pki().server, std::vector<std::string> alpn = {"http/1.1"}) {
  return io::tls_context{{.cert_pem = kp.cert, .key_pem = kp.key, .alpn = std::move(alpn)}};
}

io::tls_client_options trusting(std::string name = "localhost") {
  return {.server_name = std::move(name), .ca_pem = pki().ca};
}

/// A file holding `text`, removed with the object.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& text) {
    char tmpl[] = "/tmp/weft-tls-test-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path = tmpl;
    std::ofstream(path) << text;
  }
  ~temp_file() { std::remove(path.c_str()); }
};

/// What a server's accept-side handshake ended with.
struct server_result {
  outcome handshake;
  std::string alpn;
};

/// Accepts one connection, handshakes, echoes until close_notify, then
/// sends its own close_notify.
weft::task<server_result> echo_server(io::tcp_listener& l, const io::tls_context& ctx) {
  server_result r;
  auto tcp = co_await l.accept(20s);
  std::optional<tls> s;
  std::exception_ptr failed;
  try {
    s.emplace(co_await tls::accept(std::move(tcp), ctx, 20s));
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    r.handshake = classify(failed);
    co_return r;
  }
  r.handshake.kind = outcome::value;
  r.alpn = s->alpn_protocol();
  std::byte buf[4096];
  while (std::size_t n = co_await s->read_some(buf, 20s)) co_await io::write_all(*s, {buf, n}, 20s);
  co_await s->shutdown(20s);
  co_return r;
}

/// A client connection's outcome and what it saw.
struct client_result {
  outcome connect;
  std::string alpn;
  std::string echoed;
  std::size_t final_read = 99;  // the read after close_notify
};

weft::task<client_result> echo_client(io::address at, io::tls_client_options opts, std::string msg) {
  client_result r;
  auto tcp = co_await io::tcp_stream::connect(at, 20s);
  std::optional<tls> c;
  std::exception_ptr failed;
  try {
    c.emplace(co_await tls::connect(std::move(tcp), opts, 20s));
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    r.connect = classify(failed);
    co_return r;
  }
  r.connect.kind = outcome::value;
  r.alpn = c->alpn_protocol();
  co_await io::write_all(*c, bytes(msg), 20s);
  std::string got(msg.size(), '\0');
  co_await io::read_exact(*c, io::as_writable_bytes(got), 20s);
  r.echoed = got;
  co_await c->shutdown(20s);
  std::byte b[16];
  r.final_read = co_await c->read_some(b, 20s);
  co_return r;
}

struct pair_result {
  client_result client;
  server_result server;
};

pair_result run_pair(weft::runtime& rt, io::tls_context ctx, io::tls_client_options opts,
                     std::string msg = "hello over tls") {
  return rt.block_on([](io::tls_context ctx, io::tls_client_options opts, std::string msg) -> weft::task<pair_result> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto server = weft::spawn(echo_server(l, ctx));
    pair_result r;
    r.client = co_await echo_client(l.local_address(), std::move(opts), std::move(msg));
    r.server = co_await server;
    co_return r;
  }(std::move(ctx), std::move(opts), std::move(msg)));
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

// ------------------------------------------------------------ handshake and verification

TEST_CASE("tls: echo round trip, verified against the test CA, ALPN http/1.1", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto name = GENERATE(std::string("localhost"), std::string("127.0.0.1"));
  weft::runtime rt{io_options(backend)};
  pair_result r = run_pair(rt, server_ctx(), trusting(name));
  INFO(r.client.connect << " / server " << r.server.handshake);
  CHECK(r.client.connect.ok());
  CHECK(r.server.handshake.ok());
  CHECK(r.client.echoed == "hello over tls");
  CHECK(r.client.alpn == "http/1.1");
  CHECK(r.server.alpn == "http/1.1");
  CHECK(r.client.final_read == 0);  // the server's close_notify
}

TEST_CASE("tls: certificate, key and CA from files", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_file cert{pki().server.cert}, key{pki().server.key}, ca{pki().ca};
  io::tls_context ctx{{.cert_file = cert.path, .key_file = key.path}};
  pair_result r = run_pair(rt, ctx, {.server_name = "localhost", .ca_file = ca.path});
  INFO(r.client.connect);
  CHECK(r.client.connect.ok());
  CHECK(r.client.echoed == "hello over tls");
}

TEST_CASE("tls: by default an untrusted self-signed certificate fails verification", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  pair_result r = run_pair(rt, server_ctx(pki().self_signed), {.server_name = "localhost"});
  INFO(r.client.connect);
  CHECK(r.client.connect.kind == outcome::other);  // io::tls_error, checked by message below
  CHECK(contains(r.client.connect.what, "certificate verify failed: self"));
  CHECK(contains(r.client.connect.what, "signed certificate"));
  // The server learns why from the client's alert.
  INFO(r.server.handshake);
  CHECK(r.server.handshake.kind == outcome::other);
  CHECK(contains(r.server.handshake.what, "tls handshake failed"));
}

TEST_CASE("tls: a CA-signed certificate is not trusted without the CA", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  pair_result r = run_pair(rt, server_ctx(), {.server_name = "localhost"});
  INFO(r.client.connect);
  CHECK(contains(r.client.connect.what, "certificate verify failed: unable to get local issuer certificate"));
}

TEST_CASE("tls: a host name or IP address the certificate does not name fails", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  pair_result a = run_pair(rt, server_ctx(), trusting("example.com"));
  INFO(a.client.connect);
  CHECK(contains(a.client.connect.what, "certificate verify failed: hostname mismatch"));
  pair_result b = run_pair(rt, server_ctx(), trusting("127.0.0.2"));
  INFO(b.client.connect);
  CHECK(contains(b.client.connect.what, "certificate verify failed: IP address mismatch"));
}

TEST_CASE("tls: verify = false accepts an untrusted certificate", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  pair_result a = run_pair(rt, server_ctx(pki().self_signed), {.server_name = "example.com", .verify = false});
  INFO(a.client.connect);
  CHECK(a.client.connect.ok());
  CHECK(a.client.echoed == "hello over tls");
  pair_result b = run_pair(rt, server_ctx(pki().self_signed), {.verify = false});  // no name at all
  CHECK(b.client.connect.ok());
}

TEST_CASE("tls: ALPN picks the server's first choice the client offers, or none", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  auto opts = trusting();
  opts.alpn = {"h2", "http/1.1"};
  pair_result a = run_pair(rt, server_ctx(pki().server, {"http/1.1", "h2"}), opts);
  CHECK(a.client.alpn == "http/1.1");
  CHECK(a.server.alpn == "http/1.1");
  opts.alpn = {"spdy/3"};
  pair_result b = run_pair(rt, server_ctx(), opts);
  CHECK(b.client.connect.ok());
  CHECK(b.client.alpn.empty());
  opts.alpn = {};
  pair_result c = run_pair(rt, server_ctx(), opts);
  CHECK(c.client.connect.ok());
  CHECK(c.server.alpn.empty());
}

// ------------------------------------------------------------ misbehaving peers

TEST_CASE("tls: a peer that answers the handshake with garbage gives a clear error", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  outcome o = rt.block_on([]() -> weft::task<outcome> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto server = weft::spawn([](io::tcp_listener& l) -> weft::task<void> {
      auto s = co_await l.accept(20s);
      std::byte buf[512];
      (void)co_await s.read_some(buf, 20s);  // the ClientHello
      co_await s.write_all(bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), 20s);
      (void)co_await s.read_some(buf, 20s);  // until the client gives up
    }(l));
    auto tcp = co_await io::tcp_stream::connect(l.local_address(), 20s);
    const io::tls_client_options client_opts = trusting();  // a variable: see tls.hpp (GCC 12)
    outcome o = co_await outcome_of(tls::connect(std::move(tcp), client_opts, 20s));
    co_await server;
    co_return o;
  }());
  INFO(o);
  CHECK(o.kind == outcome::other);
  CHECK(contains(o.what, "tls handshake failed: "));
  CHECK(o.what.size() > std::string("tls handshake failed: ").size());
}

TEST_CASE("tls: a peer that closes mid-handshake gives an error, not a hang", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  auto [client, server] = rt.block_on([]() -> weft::task<std::pair<outcome, outcome>> {
    // Client side: the server reads the ClientHello and closes.
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto closer = weft::spawn([](io::tcp_listener& l) -> weft::task<void> {
      auto s = co_await l.accept(20s);
      // Reads the whole ClientHello record, so that closing sends FIN, not RST.
      unsigned char head[5];
      co_await io::read_exact(s, std::as_writable_bytes(std::span{head}), 20s);
      std::vector<std::byte> body(static_cast<std::size_t>(head[3] << 8 | head[4]));
      co_await io::read_exact(s, body, 20s);
    }(l));
    auto tcp = co_await io::tcp_stream::connect(l.local_address(), 20s);
    const io::tls_client_options client_opts = trusting();  // a variable: see tls.hpp (GCC 12)
    outcome c = co_await outcome_of(tls::connect(std::move(tcp), client_opts, 20s));
    co_await closer;
    // Server side: the client sends half a ClientHello and closes.
    auto ctx = server_ctx();
    auto accepting = weft::spawn([](io::tcp_listener& l, io::tls_context& ctx) -> weft::task<outcome> {
      auto s = co_await l.accept(20s);
      co_return co_await outcome_of(tls::accept(std::move(s), ctx, 20s));
    }(l, ctx));
    {
      auto raw = co_await io::tcp_stream::connect(l.local_address(), 20s);
      const unsigned char hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
      co_await raw.write_all(std::as_bytes(std::span{hello_start}), 20s);
    }
    outcome s = co_await accepting;
    co_return std::pair{c, s};
  }());
  INFO(client);
  CHECK(client.kind == outcome::other);
  CHECK(contains(client.what, "tls handshake failed: the peer closed the connection during the handshake"));
  INFO(server);
  CHECK(server.kind == outcome::other);
  CHECK(contains(server.what, "tls handshake failed: the peer closed the connection during the handshake"));
}

TEST_CASE("tls: a stalled handshake ends with timeout_error at the deadline", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  auto [client, server] = rt.block_on([]() -> weft::task<std::pair<outcome, outcome>> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    // A client whose peer accepts and never answers.
    auto tcp = co_await io::tcp_stream::connect(l.local_address(), 20s);
    auto held = co_await l.accept(20s);
    const io::tls_client_options client_opts = trusting();  // a variable: see tls.hpp (GCC 12)
    outcome c = co_await outcome_of(tls::connect(std::move(tcp), client_opts, 200ms));
    // A server whose client connects and never says hello.
    auto silent = co_await io::tcp_stream::connect(l.local_address(), 20s);
    auto ctx = server_ctx();
    outcome s = co_await outcome_of(tls::accept(co_await l.accept(20s), ctx, 200ms));
    co_return std::pair{c, s};
  }());
  INFO(client);
  CHECK(client.kind == outcome::timeout);
  INFO(server);
  CHECK(server.kind == outcome::timeout);
}

TEST_CASE("tls: cancelling a handshake or a read gives operation_cancelled", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};
  auto [hs, rd] = rt.block_on([]() -> weft::task<std::pair<outcome, outcome>> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto tcp = co_await io::tcp_stream::connect(l.local_address(), 20s);
    auto held = co_await l.accept(20s);
    const io::tls_client_options client_opts = trusting();  // a variable: see tls.hpp (GCC 12)
    auto h = weft::spawn(outcome_of(tls::connect(std::move(tcp), client_opts, 20s)));
    co_await settle();
    h.cancel();
    outcome hs = co_await std::move(h);

    // A read on an established session, cancelled while it waits.
    auto ctx = server_ctx();
    auto accepting = weft::spawn([](io::tcp_listener& l, io::tls_context& ctx) -> weft::task<tls> {
      co_return co_await tls::accept(co_await l.accept(20s), ctx, 20s);
    }(l, ctx));
    auto c = co_await tls::connect(co_await io::tcp_stream::connect(l.local_address(), 20s), client_opts, 20s);
    tls s = co_await accepting;
    auto reader = weft::spawn([](tls& c) -> weft::task<outcome> {
      std::byte b[16];
      co_return co_await outcome_of(c.read_some(b, 20s));
    }(c));
    co_await settle();
    reader.cancel();
    outcome rd = co_await std::move(reader);
    co_return std::pair{hs, rd};
  }());
  INFO(hs);
  CHECK(hs.kind == outcome::cancelled);
  INFO(rd);
  CHECK(rd.kind == outcome::cancelled);
}

// ------------------------------------------------------------ data transfer and closing

TEST_CASE("tls: 1 MiB each way at once, a reader and a writer task per side", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct sums {
    std::size_t client_got = 0, server_got = 0;
    bool client_ok = false, server_ok = false;
  };
  sums r = rt.block_on([]() -> weft::task<sums> {
    constexpr std::size_t size = 1 << 20;
    // Different patterns per direction, so that an echo would not pass.
    auto pattern = [](std::size_t seed) {
      std::vector<std::byte> v(size);
      for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::byte>((i * 31 + seed) % 251);
      return v;
    };
    auto to_server = pattern(7), to_client = pattern(13);
    // Both sides write then close_notify, while reading to end of stream.
    auto duplex = [](tls& s, const std::vector<std::byte>& out,
                     const std::vector<std::byte>& expect) -> weft::task<std::pair<std::size_t, bool>> {
      // Windows much smaller than 1 MiB: writers block often while the
      // readers still run. (Not below loopback's 64 KiB MSS, where TCP's
      // silly-window avoidance stalls the transfer for seconds.)
      s.next_layer().set_send_buffer_size(65536);
      s.next_layer().set_receive_buffer_size(65536);
      s.next_layer().set_nodelay(true);
      auto writer = weft::spawn([](tls& s, const std::vector<std::byte>& out) -> weft::task<void> {
        std::span<const std::byte> rest{out};
        while (!rest.empty()) {  // uneven pieces, some larger than one write
          std::size_t n = std::min<std::size_t>(rest.size(), 1 + (rest.size() * 7) % 100000);
          co_await io::write_all(s, rest.first(n), 20s);
          rest = rest.subspan(n);
        }
        co_await s.shutdown(20s);
      }(s, out));
      std::vector<std::byte> got;
      std::vector<std::byte> buf(10000);
      while (std::size_t n = co_await s.read_some(buf, 20s))
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
      co_await writer;
      co_return std::pair{got.size(), got == expect};
    };
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto ctx = server_ctx();
    auto server =
        weft::spawn([](io::tcp_listener& l, io::tls_context& ctx, auto duplex, const std::vector<std::byte>& out,
                       const std::vector<std::byte>& expect) -> weft::task<std::pair<std::size_t, bool>> {
          tls s = co_await tls::accept(co_await l.accept(20s), ctx, 20s);
          co_return co_await duplex(s, out, expect);
        }(l, ctx, duplex, to_client, to_server));
    const io::tls_client_options client_opts = trusting();  // a variable: see tls.hpp (GCC 12)
    tls c = co_await tls::connect(co_await io::tcp_stream::connect(l.local_address(), 20s), client_opts, 20s);
    auto [cn, cok] = co_await duplex(c, to_server, to_client);
    auto [sn, sok] = co_await server;
    co_return sums{cn, sn, cok, sok};
  }());
  CHECK(r.client_got == (1u << 20));
  CHECK(r.server_got == (1u << 20));
  CHECK(r.client_ok);
  CHECK(r.server_ok);
}

TEST_CASE("tls: has_buffered_input tells of records the session holds but the socket no longer shows", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct seen {
    bool fresh = true, after_part = false, after_first = false, after_all = true;
    std::string got;
  };
  seen r = rt.block_on([]() -> weft::task<seen> {
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto ctx = server_ctx();
    auto server = weft::spawn([](io::tcp_listener& l, io::tls_context& ctx) -> weft::task<void> {
      tls s = co_await tls::accept(co_await l.accept(20s), ctx, 20s);
      // Two records, both on the wire before the client reads.
      co_await io::write_all(s, io::as_bytes("first"), 20s);
      co_await io::write_all(s, io::as_bytes("second"), 20s);
      std::byte b[1];
      co_await s.read_some(b, 20s);  // until the client is done
    }(l, ctx));
    const io::tls_client_options client_opts = trusting();  // a variable: see tls.hpp (GCC 12)
    tls c = co_await tls::connect(co_await io::tcp_stream::connect(l.local_address(), 20s), client_opts, 20s);
    seen out;
    out.fresh = c.has_buffered_input();
    co_await weft::sleep_for(200ms);  // both records in the socket: the first read takes them together
    std::byte buf[16];
    std::size_t n = co_await c.read_some(std::span(buf).first(2), 20s);  // part of "first"
    out.got.append(reinterpret_cast<const char*>(buf), n);
    out.after_part = c.has_buffered_input();
    while (out.got.size() < 5) {
      n = co_await c.read_some(std::span(buf).first(5 - out.got.size()), 20s);
      out.got.append(reinterpret_cast<const char*>(buf), n);
    }
    out.after_first = c.has_buffered_input();  // "second" waits in the session
    while (out.got.size() < 11) {
      n = co_await c.read_some(buf, 20s);
      out.got.append(reinterpret_cast<const char*>(buf), n);
    }
    out.after_all = c.has_buffered_input();
    co_await io::write_all(c, io::as_bytes("x"), 20s);
    co_await server;
    co_return out;
  }());
  CHECK(r.got == "firstsecond");
  CHECK_FALSE(r.fresh);
  CHECK(r.after_part);
  CHECK(r.after_first);
  CHECK_FALSE(r.after_all);
}

TEST_CASE("tls: close_notify is end of stream, a bare TCP close is a truncation error", "[io][tls]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::size_t after_notify = 99;
    std::size_t again = 99;
    outcome write_after_shutdown;
    outcome truncated;
    std::string line;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    result r;
    auto l = io::tcp_listener::bind(io::address::loopback_v4(0));
    auto ctx = server_ctx();
    auto connect_pair = [](io::tcp_listener& l, io::tls_context& ctx) -> weft::task<std::pair<tls, tls>> {
      auto accepting = weft::spawn([](io::tcp_listener& l, io::tls_context& ctx) -> weft::task<tls> {
        co_return co_await tls::accept(co_await l.accept(20s), ctx, 20s);
      }(l, ctx));
      const io::tls_client_options client_opts = trusting();  // a variable: see tls.hpp (GCC 12)
      auto c = co_await tls::connect(co_await io::tcp_stream::connect(l.local_address(), 20s), client_opts, 20s);
      tls s = co_await accepting;
      co_return std::pair{std::move(c), std::move(s)};
    };
    {
      auto [c, s] = co_await connect_pair(l, ctx);
      co_await io::write_all(c, bytes("a line\nrest"), 20s);
      co_await c.shutdown(20s);
      // A buffered reader works over the TLS stream.
      io::buffered_reader in{s};
      auto line = co_await in.read_line(100, 20s);
      r.line = line ? std::string(*line) : "none";
      std::byte b[64];
      std::size_t rest = co_await in.read_some(b, 20s);
      (void)rest;
      r.after_notify = co_await in.read_some(b, 20s);
      r.again = co_await s.read_some(b, 20s);
      r.write_after_shutdown = co_await outcome_of(c.write_some(bytes("late"), 20s));
    }
    {
      auto [c, s] = co_await connect_pair(l, ctx);
      s.next_layer().close();  // no close_notify
      std::byte b[64];
      r.truncated = co_await outcome_of(c.read_some(b, 20s));
    }
    co_return r;
  }());
  CHECK(r.line == "a line");
  CHECK(r.after_notify == 0);
  CHECK(r.again == 0);
  INFO(r.write_after_shutdown);
  CHECK(contains(r.write_after_shutdown.what, "tls write failed: shutdown() was called"));
  INFO(r.truncated);
  CHECK(contains(r.truncated.what, "tls read failed: the peer closed the connection without close_notify"));
}

// ------------------------------------------------------------ bad input

TEST_CASE("tls: bad certificates, keys and options are precise errors", "[io][tls]") {
  auto what = [](auto f) -> std::string {
    try {
      f();
    } catch (const io::tls_error& e) {
      return e.what();
    }
    return "no tls_error";
  };
  CHECK(what([] { io::tls_context{{}}; }) == "tls_context: a certificate is required (cert_file or cert_pem)");
  CHECK(what([] { io::tls_context{{.cert_pem = pki().server.cert}}; }) ==
        "tls_context: a private key is required (key_file or key_pem)");
  CHECK(contains(what([] { io::tls_context{{.cert_pem = "junk", .key_pem = pki().server.key}}; }),
                 "tls_context: cert_pem holds no PEM certificate"));
  CHECK(contains(what([] { io::tls_context{{.cert_pem = pki().other.cert, .key_pem = pki().other.key}}; }),
                 "tls_context: the private key does not match the certificate"));
  CHECK(contains(what([] { io::tls_context{{.cert_file = "/nonexistent/cert.pem", .key_file = "k"}}; }),
                 "tls_context: cannot load certificate file /nonexistent/cert.pem"));
  CHECK(contains(
      what([] { io::tls_context{{.cert_pem = pki().server.cert, .key_pem = pki().server.key, .alpn = {""}}}; }),
      "ALPN protocol name must be 1 to 255 bytes"));
  // Client options are checked before any byte is sent.
  weft::runtime rt{io_options(weft::io_backend::epoll, 1)};
  // (Built outside the coroutine: GCC 12 rejects designated initializers
  // from string literals inside one.)
  std::vector<io::tls_client_options> bad = {{},
                                             {.server_name = "localhost", .ca_pem = "junk"},
                                             {.server_name = "localhost", .ca_file = "/nonexistent/ca.pem"}};
  std::vector<outcome> got =
      rt.block_on([](std::vector<io::tls_client_options> bad) -> weft::task<std::vector<outcome>> {
        std::vector<outcome> got;
        for (auto& o : bad) {
          auto [c, s] = co_await tcp_pair();
          got.push_back(co_await outcome_of(tls::connect(std::move(c), o, 5s)));
        }
        co_return got;
      }(bad));
  const outcome &no_name = got.at(0), &bad_ca = got.at(1), &bad_file = got.at(2);
  CHECK(contains(no_name.what, "server_name is required"));
  CHECK(contains(bad_ca.what, "tls: ca_pem holds no PEM certificate"));
  CHECK(contains(bad_file.what, "tls: cannot load CA file /nonexistent/ca.pem"));
}
