// tls_stream's engine: an OpenSSL session over two memory BIOs (input from
// the peer, output to send), so that the coroutine side moves the bytes
// with the transport's own operations and OpenSSL never blocks or sees a
// descriptor.
#include "weft/io/tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <climits>
#include <mutex>

namespace weft::io {
namespace detail {

namespace {

// The first queued OpenSSL error as text (the queue is cleared): its
// reason ("wrong version number") is what users can act on.
std::string openssl_reason() {
  unsigned long code = ERR_get_error();
  std::string out;
  if (code != 0) {
    if (const char* r = ERR_reason_error_string(code)) {
      out = r;
    } else {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof buf);
      out = buf;
    }
  }
  ERR_clear_error();
  return out;
}

[[noreturn]] void fail(const std::string& what) {
  std::string reason = openssl_reason();
  throw tls_error(reason.empty() ? what : what + ": " + reason);
}

struct ctx_deleter {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_deleter>;
struct bio_deleter {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

bio_ptr memory_bio(const std::string& pem) {
  bio_ptr b{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
  if (!b) fail("tls: out of memory");
  return b;
}

// ALPN's wire format: each name prefixed by its length.
std::vector<unsigned char> alpn_wire(const std::vector<std::string>& protos) {
  std::vector<unsigned char> wire;
  for (const auto& p : protos) {
    if (p.empty() || p.size() > 255)
      throw tls_error("tls: an ALPN protocol name must be 1 to 255 bytes, got \"" + p + "\"");
    wire.push_back(static_cast<unsigned char>(p.size()));
    wire.insert(wire.end(), p.begin(), p.end());
  }
  return wire;
}

ctx_ptr new_ctx(const SSL_METHOD* method) {
  ctx_ptr c{SSL_CTX_new(method)};
  if (!c) fail("tls: SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(c.get(), TLS1_2_VERSION);
  // No TLS 1.2 renegotiation: a write then never has to wait for a read.
  SSL_CTX_set_options(c.get(), SSL_OP_NO_RENEGOTIATION);
  return c;
}

ctx_ptr new_client_ctx(const tls_client_options& o) {
  ctx_ptr c = new_ctx(TLS_client_method());
  if (SSL_CTX_set_default_verify_paths(c.get()) != 1) fail("tls: cannot load the system trust store");
  if (!o.ca_file.empty() && SSL_CTX_load_verify_locations(c.get(), o.ca_file.c_str(), nullptr) != 1)
    fail("tls: cannot load CA file " + o.ca_file);
  if (!o.ca_pem.empty()) {
    bio_ptr b = memory_bio(o.ca_pem);
    X509_STORE* store = SSL_CTX_get_cert_store(c.get());
    int added = 0;
    while (X509* x = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) {
      int ok = X509_STORE_add_cert(store, x);
      X509_free(x);
      if (ok != 1) fail("tls: cannot add a certificate of ca_pem");
      ++added;
    }
    ERR_clear_error();  // the end of the PEM input is reported as an error
    if (added == 0) throw tls_error("tls: ca_pem holds no PEM certificate");
  }
  return c;
}

// Loading the system store costs milliseconds: connections that add no
// CA of their own share one context (verification settings are per SSL).
SSL_CTX* shared_client_ctx() {
  static ctx_ptr c = new_client_ctx({});
  return c.get();
}

bool is_ip_address(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

struct tls_context_impl {
  ctx_ptr ctx;
  std::vector<unsigned char> alpn;  // wire format, in preference order
};

class tls_engine {
 public:
  tls_engine(SSL_CTX* ctx, bool client) : client_(client) {
    ssl = SSL_new(ctx);
    if (!ssl) fail("tls: SSL_new failed");
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (!in || !out) {
      BIO_free(in);
      BIO_free(out);
      SSL_free(ssl);
      fail("tls: out of memory");
    }
    // An empty input BIO means "wait for more", until the transport ends.
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl, in, out);
    input = in;
    output = out;
    if (client) SSL_set_connect_state(ssl);
    else SSL_set_accept_state(ssl);
  }
  ~tls_engine() { SSL_free(ssl); }
  tls_engine(const tls_engine&) = delete;
  tls_engine& operator=(const tls_engine&) = delete;

  // Why the last call failed, for the message of a tls_error.
  std::string reason(int ret, const char* phase) {
    int err = SSL_get_error(ssl, ret);
    if (client_ && verify) {
      long v = SSL_get_verify_result(ssl);
      if (v != X509_V_OK) {
        ERR_clear_error();
        return std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
      }
    }
    std::string r = openssl_reason();
    if (transport_ended && (err == SSL_ERROR_SYSCALL || r == "unexpected eof while reading" || r.empty()))
      return std::string("the peer closed the connection ") + phase;
    if (!r.empty()) return r;
    return "error " + std::to_string(err);
  }

  std::mutex m;  // a reader and a writer task may call at once
  SSL* ssl = nullptr;
  BIO* input = nullptr;
  BIO* output = nullptr;
  std::shared_ptr<const tls_context_impl> context;  // a server's
  bool verify = false;
  bool transport_ended = false;
  bool client_;
};

void tls_engine_deleter::operator()(tls_engine* e) const noexcept { delete e; }

tls_engine_ptr tls_make_client(const tls_client_options& o) {
  if (o.verify && o.server_name.empty())
    throw tls_error("tls connect: server_name is required to verify the certificate (or set verify = false)");
  std::vector<unsigned char> alpn = alpn_wire(o.alpn);
  ctx_ptr own;
  if (!o.ca_file.empty() || !o.ca_pem.empty()) own = new_client_ctx(o);
  tls_engine_ptr e{new tls_engine(own ? own.get() : shared_client_ctx(), true)};  // SSL holds its ctx
  SSL* ssl = e->ssl;
  e->verify = o.verify;
  SSL_set_verify(ssl, o.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!o.server_name.empty()) {
    if (is_ip_address(o.server_name)) {
      // No SNI for addresses (RFC 6066); check the certificate's IP entries.
      if (o.verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), o.server_name.c_str()) != 1)
        fail("tls connect: bad IP address " + o.server_name);
    } else {
      if (SSL_set_tlsext_host_name(ssl, o.server_name.c_str()) != 1)
        fail("tls connect: bad server name \"" + o.server_name + "\"");
      if (o.verify && SSL_set1_host(ssl, o.server_name.c_str()) != 1)
        fail("tls connect: bad server name \"" + o.server_name + "\"");
    }
  }
  // SSL_set_alpn_protos returns 0 on success.
  if (!alpn.empty() && SSL_set_alpn_protos(ssl, alpn.data(), static_cast<unsigned>(alpn.size())) != 0)
    fail("tls connect: cannot set ALPN protocols");
  return e;
}

tls_engine_ptr tls_make_server(std::shared_ptr<const tls_context_impl> ctx) {
  tls_engine_ptr e{new tls_engine(ctx->ctx.get(), false)};
  e->context = std::move(ctx);  // the ALPN callback's argument
  return e;
}

tls_want tls_handshake(tls_engine& e) {
  std::lock_guard lock(e.m);
  ERR_clear_error();
  int r = SSL_do_handshake(e.ssl);
  if (r == 1) return tls_want::done;
  if (SSL_get_error(e.ssl, r) == SSL_ERROR_WANT_READ && !e.transport_ended) return tls_want::read;
  throw tls_error("tls handshake failed: " + e.reason(r, "during the handshake"));
}

long tls_read(tls_engine& e, std::span<std::byte> buf) {
  std::lock_guard lock(e.m);
  ERR_clear_error();
  int r = SSL_read(e.ssl, buf.data(), static_cast<int>(std::min<std::size_t>(buf.size(), INT_MAX)));
  if (r > 0) return r;
  int err = SSL_get_error(e.ssl, r);
  if (err == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify
  if (err == SSL_ERROR_WANT_READ && !e.transport_ended) return -1;
  if (e.transport_ended && err != SSL_ERROR_SSL) ERR_clear_error();
  throw tls_error("tls read failed: " + e.reason(r, "without close_notify (truncated stream)"));
}

std::size_t tls_write(tls_engine& e, std::span<const std::byte> buf) {
  std::lock_guard lock(e.m);
  ERR_clear_error();
  std::size_t n = 0;
  // The output BIO grows as needed: the whole buffer is taken at once.
  if (SSL_write_ex(e.ssl, buf.data(), buf.size(), &n) != 1) {
    if (SSL_get_shutdown(e.ssl) & SSL_SENT_SHUTDOWN) {
      ERR_clear_error();
      throw tls_error("tls write failed: shutdown() was called (close_notify sent)");
    }
    throw tls_error("tls write failed: " + e.reason(0, "during a write"));
  }
  return n;
}

void tls_close_notify(tls_engine& e) {
  std::lock_guard lock(e.m);
  ERR_clear_error();
  // 0: sent, the peer's has not come yet; 1: both sent. Either is done for us.
  int r = SSL_shutdown(e.ssl);
  if (r < 0 && SSL_get_error(e.ssl, r) != SSL_ERROR_WANT_READ)
    throw tls_error("tls shutdown failed: " + e.reason(r, "before shutdown"));
  ERR_clear_error();
}

void tls_feed(tls_engine& e, std::span<const std::byte> in) {
  std::lock_guard lock(e.m);
  if (in.empty()) {
    e.transport_ended = true;
    BIO_set_mem_eof_return(e.input, 0);  // SSL now sees end of stream
    return;
  }
  if (BIO_write(e.input, in.data(), static_cast<int>(in.size())) != static_cast<int>(in.size()))
    fail("tls: out of memory");
}

std::size_t tls_take_output(tls_engine& e, std::span<std::byte> buf) {
  std::lock_guard lock(e.m);
  if (BIO_ctrl_pending(e.output) == 0) return 0;
  int n = BIO_read(e.output, buf.data(), static_cast<int>(std::min<std::size_t>(buf.size(), INT_MAX)));
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

bool tls_has_output(tls_engine& e) {
  std::lock_guard lock(e.m);
  return BIO_ctrl_pending(e.output) != 0;
}

bool tls_has_input(tls_engine& e) {
  std::lock_guard lock(e.m);
  // SSL_has_pending: a record read in part or processed but not returned;
  // the input BIO: records after it (OpenSSL reads one record at a time).
  return SSL_has_pending(e.ssl) == 1 || BIO_ctrl_pending(e.input) != 0;
}

std::string tls_alpn(const tls_engine& e) {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(e.ssl, &p, &len);
  return p ? std::string(reinterpret_cast<const char*>(p), len) : std::string();
}

}  // namespace detail

namespace {

// The server's ALPN choice: its first preference the client also offers.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
  const auto* impl = static_cast<const detail::tls_context_impl*>(arg);
  const std::vector<unsigned char>& ours = impl->alpn;
  for (std::size_t i = 0; i < ours.size(); i += 1 + ours[i]) {
    for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
      if (j + 1u + in[j] > inlen) break;
      if (in[j] == ours[i] && std::equal(in + j + 1, in + j + 1 + in[j], ours.begin() + static_cast<long>(i) + 1)) {
        *out = in + j + 1;
        *outlen = in[j];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN
}

}  // namespace

tls_context::tls_context(const tls_server_options& o) {
  using namespace detail;
  auto impl = std::make_shared<tls_context_impl>();
  impl->alpn = alpn_wire(o.alpn);
  impl->ctx = new_ctx(TLS_server_method());
  SSL_CTX* c = impl->ctx.get();
  ERR_clear_error();

  if (!o.cert_pem.empty()) {
    bio_ptr b = memory_bio(o.cert_pem);
    X509* leaf = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr);
    if (!leaf) fail("tls_context: cert_pem holds no PEM certificate");
    int ok = SSL_CTX_use_certificate(c, leaf);
    X509_free(leaf);
    if (ok != 1) fail("tls_context: cannot use the certificate of cert_pem");
    while (X509* x = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) {
      if (SSL_CTX_add0_chain_cert(c, x) != 1) {  // takes x on success only
        X509_free(x);
        fail("tls_context: cannot add a chain certificate of cert_pem");
      }
    }
    ERR_clear_error();  // the end of the PEM input
  } else if (!o.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1)
      fail("tls_context: cannot load certificate file " + o.cert_file);
  } else {
    throw tls_error("tls_context: a certificate is required (cert_file or cert_pem)");
  }

  bio_ptr key_in;
  if (!o.key_pem.empty()) {
    key_in = memory_bio(o.key_pem);
  } else if (!o.key_file.empty()) {
    key_in.reset(BIO_new_file(o.key_file.c_str(), "r"));
    if (!key_in) fail("tls_context: cannot open private key file " + o.key_file);
  } else {
    throw tls_error("tls_context: a private key is required (key_file or key_pem)");
  }
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_in.get(), nullptr, nullptr, nullptr);
  if (!key)
    fail(o.key_pem.empty() ? "tls_context: no PEM private key in " + o.key_file
                           : "tls_context: key_pem holds no PEM private key");
  // Checked first: OpenSSL's own message for this is "key values mismatch".
  if (X509_check_private_key(SSL_CTX_get0_certificate(c), key) != 1) {
    EVP_PKEY_free(key);
    ERR_clear_error();
    throw tls_error("tls_context: the private key does not match the certificate");
  }
  int ok = SSL_CTX_use_PrivateKey(c, key);
  EVP_PKEY_free(key);
  if (ok != 1) fail("tls_context: cannot use the private key");

  if (!impl->alpn.empty()) SSL_CTX_set_alpn_select_cb(c, select_alpn, impl.get());
  impl_ = std::move(impl);
}

}  // namespace weft::io
