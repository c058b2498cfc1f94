// TLS over any weft stream: weft::io::tls_stream<S>, a client or server
// TLS 1.2/1.3 session (OpenSSL 3 with memory BIOs: OpenSSL never sees the
// descriptor, every byte goes through S's own read_some/write_some, so
// S's deadlines, cancellation and driver apply unchanged). A tls_stream is
// itself an io::stream: buffered_reader, read_exact, write_all work on it.
//
//   auto tcp = co_await io::tcp_stream::connect(addr, 5s);
//   io::tls_client_options o{.server_name = "example.com"};  // a variable (GCC 12, below)
//   auto tls = co_await io::tls_stream<io::tcp_stream>::connect(std::move(tcp), o, 5s);
//   co_await io::write_all(tls, io::as_bytes("GET / HTTP/1.1\r\n..."));
//   co_await tls.shutdown();                  // close_notify
//
//   io::tls_context ctx{{.cert_file = "cert.pem", .key_file = "key.pem"}};
//   auto conn = co_await io::tls_stream<io::tcp_stream>::accept(co_await l.accept(), ctx);
//
// The client verifies the peer's certificate chain (system trust store plus
// ca_file/ca_pem) and that it names server_name (a DNS name or an IP
// address) unless .verify = false. Failures throw io::tls_error with the
// reason ("certificate verify failed: self-signed certificate",
// "... hostname mismatch", "peer closed the connection during the
// handshake", OpenSSL's reason for a protocol error).
//
// Deadlines and cancellation: every operation (the handshake too) takes a
// deadline; when it passes the operation throws weft::timeout_error, and a
// cancelled task throws weft::operation_cancelled, as S does. After either,
// or after any tls_error, the session is in an unknown state: close it.
// One task may read while another writes (full duplex); two concurrent
// readers, or two concurrent writers, are not allowed (as on sockets).
// End of stream: read_some returns 0 once the peer sent close_notify; a
// peer that closes the transport without it (a truncation) is a tls_error.
//
// GCC 12 frees a braced temporary written inside a co_await expression
// twice (`connect(std::move(tcp), {.server_name = ...})`, or
// `tls_client_options{...}` there): connect() takes the options only as a
// named variable (copied at the call), and an rvalue, std::move(o)
// included, fails to compile with a message saying so (as for
// http::client, see weft/http/client.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft/io/deadline.hpp"
#include "weft/io/stream.hpp"
#include "weft/runtime/sync/mutex.hpp"
#include "weft/runtime/task.hpp"

namespace weft::io {

/// A TLS failure: verification, a protocol error, bad certificate or key
/// input, a peer that ends the connection without close_notify.
class tls_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct tls_client_options {
  /// The host expected in the certificate, also sent as SNI (not for IP
  /// addresses, which are checked against the certificate's IP entries).
  /// Required when verify is on.
  std::string server_name{};
  /// Verify the chain and the host name. false: accept any certificate
  /// (tests only: the connection is then open to anyone in the middle).
  bool verify = true;
  /// Extra trusted CA certificates (PEM), on top of the system store.
  std::string ca_file{};
  std::string ca_pem{};
  /// Protocols offered by ALPN, in order of preference; empty: no ALPN.
  std::vector<std::string> alpn = {"http/1.1"};
};

struct tls_server_options {
  /// Certificate chain (leaf first) and private key, PEM, from files or
  /// from memory (cert_pem/key_pem win when set).
  std::string cert_file{};
  std::string key_file{};
  std::string cert_pem{};
  std::string key_pem{};
  /// Protocols accepted by ALPN, in order of preference; a client that
  /// offers none of them gets no ALPN protocol (the handshake goes on).
  std::vector<std::string> alpn = {"http/1.1"};
};

namespace detail {
struct tls_context_impl;
/// The non-template part of tls_stream: an OpenSSL session over two memory
/// BIOs. Thread-safe (a reader and a writer may use it at once).
class tls_engine;
struct tls_engine_deleter {
  void operator()(tls_engine* e) const noexcept;
};
using tls_engine_ptr = std::unique_ptr<tls_engine, tls_engine_deleter>;

tls_engine_ptr tls_make_client(const tls_client_options& opts);
tls_engine_ptr tls_make_server(std::shared_ptr<const tls_context_impl> ctx);

/// What the session needs next.
enum class tls_want { done, read };
/// One handshake step; throws tls_error on failure (after which
/// tls_take_output still yields the alert to send).
tls_want tls_handshake(tls_engine& e);
/// Decrypts into buf: bytes read (> 0), 0 at close_notify, or -1 when more
/// input is needed. Throws tls_error.
long tls_read(tls_engine& e, std::span<std::byte> buf);
/// Encrypts buf (all of it, into the output); returns buf.size().
std::size_t tls_write(tls_engine& e, std::span<const std::byte> buf);
/// Queues close_notify.
void tls_close_notify(tls_engine& e);
/// Gives the engine bytes received from the peer; an empty span means the
/// transport ended.
void tls_feed(tls_engine& e, std::span<const std::byte> in);
/// Moves pending output (records to send) into buf; returns the bytes moved.
std::size_t tls_take_output(tls_engine& e, std::span<std::byte> buf);
bool tls_has_output(tls_engine& e);
bool tls_has_input(tls_engine& e);
std::string tls_alpn(const tls_engine& e);
}  // namespace detail

/// A server's certificate, key and settings, shared by every connection it
/// accepts (cheap to copy). Throws tls_error for unreadable or mismatched
/// certificate/key input.
class tls_context {
 public:
  explicit tls_context(const tls_server_options& opts);
  const std::shared_ptr<detail::tls_context_impl>& impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<detail::tls_context_impl> impl_;
};

template <stream S>
class tls_stream {
 public:
  tls_stream() = default;
  tls_stream(tls_stream&&) noexcept = default;
  tls_stream& operator=(tls_stream&&) noexcept = default;

  /// Client handshake over s (connected). tls_error if it fails. opts is
  /// copied at the call: it may go away before the task is awaited.
  static task<tls_stream> connect(S s, const tls_client_options& opts, deadline d = {}) {
    return connect_copy(std::move(s), opts, d);
  }
  /// Refused: the options as a temporary or another rvalue (see GCC 12 above).
  /// (The deduced return type makes the static_assert fire at the call,
  /// before GCC 12's own "array used as initializer" for such a temporary.)
  template <class Unused = void>
  static auto connect(S s, tls_client_options&& opts, deadline d = {}) {
    static_assert(weft::detail::always_false<Unused>,
                  "weft::io::tls_stream::connect: pass tls_client_options as a named variable, not a temporary "
                  "or std::move(o) (GCC 12 frees a braced temporary inside co_await twice). Write: "
                  "io::tls_client_options o{.server_name = host}; co_await io::tls_stream<io::tcp_stream>::connect("
                  "std::move(s), o);");
    return connect_copy(std::move(s), opts, d);
  }
  /// Server handshake over s (accepted). The session shares ctx's
  /// settings: ctx itself may go away afterwards.
  static task<tls_stream> accept(S s, const tls_context& ctx, deadline d = {}) {
    tls_stream t{std::move(s), detail::tls_make_server(ctx.impl())};
    co_await t.handshake(d);
    co_return t;
  }

  /// Reads decrypted bytes (at least 1, waiting if need be); 0 once the
  /// peer sent close_notify.
  task<std::size_t> read_some(std::span<std::byte> buf, deadline d = {}) {
    if (buf.empty()) co_return 0;
    for (;;) {
      long n = detail::tls_read(*st_->engine, buf);
      // Reading may have queued records (a TLS 1.3 key update reply).
      co_await flush(d, false);
      if (n >= 0) co_return static_cast<std::size_t>(n);
      co_await fill(d);
    }
  }

  /// Encrypts and sends up to 64 KiB of buf; returns the bytes taken.
  task<std::size_t> write_some(std::span<const std::byte> buf, deadline d = {}) {
    if (buf.empty()) co_return 0;
    std::size_t n = detail::tls_write(*st_->engine, buf.first(std::min(buf.size(), max_write)));
    co_await flush(d);
    co_return n;
  }

  /// Sends close_notify (the peer's read_some returns 0). Reads may go on
  /// until the peer sends its own; write no more. The transport stays open.
  task<void> shutdown(deadline d = {}) {
    detail::tls_close_notify(*st_->engine);
    co_await flush(d);
  }

  /// Whether input taken off the transport already waits in the session
  /// (whole records, or part of one, not yet returned by read_some): a
  /// poll on the socket no longer shows it. An HTTP client asks this before
  /// pooling a connection. Never waits.
  bool has_buffered_input() const { return detail::tls_has_input(*st_->engine); }

  /// The protocol ALPN settled on ("http/1.1"), empty if none.
  std::string alpn_protocol() const { return detail::tls_alpn(*st_->engine); }

  /// The transport (for its options, or to close it).
  S& next_layer() noexcept { return st_->next; }
  const S& next_layer() const noexcept { return st_->next; }

 private:
  static constexpr std::size_t max_write = 64 * 1024;
  static constexpr std::size_t io_buffer = 17 * 1024;  // one full record

  // On the heap so that the stream moves cheaply and the async lock (not
  // movable) has a fixed address.
  struct state {
    S next;
    detail::tls_engine_ptr engine;
    weft::mutex write_lock;  // one task at a time drains output, in order
    std::unique_ptr<std::byte[]> in = std::make_unique<std::byte[]>(io_buffer);
    std::unique_ptr<std::byte[]> out = std::make_unique<std::byte[]>(io_buffer);
    state(S s, detail::tls_engine_ptr e) : next(std::move(s)), engine(std::move(e)) {}
  };

  tls_stream(S s, detail::tls_engine_ptr e) : st_(std::make_unique<state>(std::move(s), std::move(e))) {}

  static task<tls_stream> connect_copy(S s, tls_client_options opts, deadline d) {
    tls_stream t{std::move(s), detail::tls_make_client(opts)};
    co_await t.handshake(d);
    co_return t;
  }

  task<void> handshake(deadline d) {
    for (;;) {
      detail::tls_want w = detail::tls_want::done;
      std::exception_ptr failed;
      try {
        w = detail::tls_handshake(*st_->engine);
      } catch (const tls_error&) {
        failed = std::current_exception();
      }
      if (failed) {
        // Tell the peer why (the alert), best effort, then report.
        try {
          co_await flush(d);
        } catch (...) {
        }
        std::rethrow_exception(failed);
      }
      co_await flush(d);
      if (w == detail::tls_want::done) co_return;
      co_await fill(d);
    }
  }

  // Sends every queued record, under write_lock so that records from a
  // reader (replies) and a writer never interleave on the transport. A
  // writer (wait) waits for the lock; a reader does not, since the holder
  // may be a writer blocked on a full peer window that only drains once
  // this reader's peer reads: the holder sends the reader's records when
  // it is done, as it checks for more output after unlocking.
  task<void> flush(deadline d, bool wait = true) {
    for (bool first = wait;; first = false) {
      if (!first && !detail::tls_has_output(*st_->engine)) co_return;
      weft::unique_lock<weft::mutex> guard;
      if (wait) guard = co_await st_->write_lock.lock();
      else guard = st_->write_lock.try_lock();
      if (!guard) co_return;
      for (;;) {
        std::size_t n = detail::tls_take_output(*st_->engine, {st_->out.get(), io_buffer});
        if (n == 0) break;
        co_await write_all(st_->next, std::span<const std::byte>{st_->out.get(), n}, d);
      }
    }
  }

  // Reads from the transport into the engine (end of stream included).
  task<void> fill(deadline d) {
    std::size_t n = co_await st_->next.read_some(std::span<std::byte>{st_->in.get(), io_buffer}, d);
    detail::tls_feed(*st_->engine, {st_->in.get(), n});
  }

  std::unique_ptr<state> st_;
};

}  // namespace weft::io
