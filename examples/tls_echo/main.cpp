// tls_echo: TLS over TCP (weft/io/tls.hpp), an echo server and its clients
// in one program, on 127.0.0.1.
//
// The server needs a certificate and its private key: pass them with --cert
// and --key (PEM files), or let the program make a throwaway self-signed one
// for localhost and 127.0.0.1, in memory, with OpenSSL's API. The client
// trusts that certificate (--ca FILE, by default the --cert file itself)
// besides the system store, checks that it names the server
// (--server-name, localhost by default), and echoes messages over the
// session. Then come the clients that must be refused, each with the
// reason in its io::tls_error: one that expects another name and, with the
// generated certificate, one that does not trust it.
//
// The program exits 1 if an echo comes back wrong, the good client is
// refused or a bad one is not.
//
//   ./build/examples/tls_echo [--quick]
//   ./build/examples/tls_echo --cert cert.pem --key key.pem [--ca ca.pem] [--server-name NAME]
//
// Links OpenSSL (for the certificate) besides weft.
#include <fmt/core.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <ctime>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = weft::io;
using tls_tcp = io::tls_stream<io::tcp_stream>;

// ---------------------------------------------------------------- a certificate

void check(int ok, const char* what) {
  if (ok <= 0) throw std::runtime_error(fmt::format("{}: {}", what, ERR_error_string(ERR_get_error(), nullptr)));
}

template <class T, auto Write>
std::string to_pem(T* object) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  check(bio != nullptr && Write(bio.get(), object), "writing PEM");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

int write_key(BIO* b, EVP_PKEY* k) { return PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr); }

// A self-signed certificate for localhost and 127.0.0.1 (a P-256 key, valid
// for a day): {certificate, key}, PEM.
std::pair<std::string, std::string> make_self_signed() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  check(key && cert, "creating a key");
  X509* x = cert.get();
  check(X509_set_version(x, 2), "X509_set_version");  // v3
  check(ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::time(nullptr))), "serial");
  check(X509_gmtime_adj(X509_getm_notBefore(x), -300) != nullptr, "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(x), 86400) != nullptr, "notAfter");
  check(X509_set_pubkey(x, key.get()), "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x);
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1,
                                   -1, 0),
        "subject");
  check(X509_set_issuer_name(x, name), "issuer");  // self-signed: issuer = subject
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)> san(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"), X509_EXTENSION_free);
  check(san && X509_add_ext(x, san.get(), -1), "subjectAltName");
  check(X509_sign(x, key.get(), EVP_sha256()), "X509_sign");
  return {to_pem<X509, PEM_write_bio_X509>(x), to_pem<EVP_PKEY, write_key>(key.get())};
}

// ---------------------------------------------------------------- server and client

// One connection: handshake, echo until the client's close_notify, then
// ours. Reports how it ended on `log`, so that main can print it in order.
weft::task<void> handle(io::tcp_stream conn, const io::tls_context& ctx, weft::channel<std::string>& log) {
  std::string outcome;
  try {
    tls_tcp tls = co_await tls_tcp::accept(std::move(conn), ctx, 5s);
    std::byte buf[16 * 1024];
    std::size_t total = 0;
    while (std::size_t n = co_await tls.read_some(buf, 5s)) {
      co_await io::write_all(tls, {buf, n}, 5s);
      total += n;
    }
    co_await tls.shutdown(5s);
    outcome = fmt::format("echoed {} bytes, answered close_notify", total);
  } catch (const io::tls_error& e) {
    outcome = fmt::format("handshake failed: {}", e.what());
  }
  co_await log.send(std::move(outcome));
}

weft::task<void> server(io::tcp_listener& listener, const io::tls_context& ctx, weft::channel<std::string>& log,
                        weft::task_scope& scope) {
  try {
    for (;;) scope.spawn(handle(co_await listener.accept(), ctx, log));
  } catch (const weft::operation_cancelled&) {  // told to stop: not an error
  }
}

struct session_summary {
  std::string alpn;  // the protocol agreed on
  std::size_t bytes = 0;
};

// Connects, verifies the server as `opts` says, echoes `messages` messages.
weft::task<session_summary> client(io::address at, io::tls_client_options opts, int messages) {
  io::tcp_stream tcp = co_await io::tcp_stream::connect(at, 5s);
  tls_tcp tls = co_await tls_tcp::connect(std::move(tcp), opts, 5s);  // io::tls_error if verification fails
  session_summary sum{tls.alpn_protocol()};
  for (int i = 0; i < messages; ++i) {
    const std::string msg = fmt::format("message {}: {}", i, std::string(std::size_t{1} << (i % 15), '*'));
    std::string back(msg.size(), '\0');
    co_await io::write_all(tls, io::as_bytes(msg), 5s);
    co_await io::read_exact(tls, io::as_writable_bytes(back), 5s);
    if (back != msg) throw std::runtime_error(fmt::format("message {} came back changed", i));
    sum.bytes += msg.size();
  }
  co_await tls.shutdown(5s);  // close_notify; the server answers with its own
  std::byte rest[1];
  if (co_await tls.read_some(rest, 5s) != 0) throw std::runtime_error("bytes after the echoes");
  co_return sum;
}

struct settings {
  std::string cert_file, key_file, ca_file, server_name = "localhost";
  int messages = 40;
};

// A client that the verification must refuse: true if it was.
weft::task<bool> must_fail(const char* who, io::address at, io::tls_client_options opts,
                           weft::channel<std::string>& log) {
  try {
    co_await client(at, opts, 1);
    fmt::print("client {}: connected, but should have been refused\n", who);
    co_return false;
  } catch (const io::tls_error& e) {
    fmt::print("client {}: refused: {}\n", who, e.what());
  }
  fmt::print("server: {}\n", *co_await log.recv());
  co_return true;
}

weft::task<bool> run_clients(const settings& s, io::address at, const std::string& ca_pem,
                             weft::channel<std::string>& log) {
  const std::string trusted = s.ca_file.empty() ? "the generated certificate" : s.ca_file;
  io::tls_client_options good{.server_name = s.server_name, .ca_file = s.ca_file, .ca_pem = ca_pem, .alpn = {"echo"}};
  session_summary sum = co_await client(at, good, s.messages);
  fmt::print("client: verified the chain against {} and the name '{}'; ALPN '{}'\n", trusted, s.server_name, sum.alpn);
  fmt::print("client: {} messages, {} bytes echoed\n", s.messages, sum.bytes);
  fmt::print("server: {}\n", *co_await log.recv());

  io::tls_client_options wrong_name = good;
  wrong_name.server_name = "wrong.example";
  bool ok = sum.alpn == "echo";
  ok = co_await must_fail("expecting wrong.example", at, wrong_name, log) && ok;
  if (!ca_pem.empty()) {  // the generated certificate is in no system store
    io::tls_client_options untrusted{.server_name = s.server_name, .alpn = {"echo"}};
    ok = co_await must_fail("trusting only the system store", at, untrusted, log) && ok;
  }
  co_return ok;
}

weft::task<int> amain(settings s) {
  io::tls_server_options server_opts{.cert_file = s.cert_file, .key_file = s.key_file, .alpn = {"echo"}};
  std::string ca_pem;  // what the client trusts, when generated here
  if (s.cert_file.empty()) {
    auto [cert, key] = make_self_signed();
    fmt::print("certificate: self-signed for localhost and 127.0.0.1, made in memory (P-256, valid one day)\n");
    server_opts.cert_pem = ca_pem = cert;
    server_opts.key_pem = key;
  } else if (s.ca_file.empty()) {
    s.ca_file = s.cert_file;  // a self-signed certificate is its own CA
  }
  const io::tls_context ctx{server_opts};  // io::tls_error for a bad certificate or key
  io::tcp_listener listener = io::tcp_listener::bind(io::address::parse("127.0.0.1:0"));
  const io::address at = listener.local_address();
  fmt::print("TLS echo server on {}\n", at);

  weft::channel<std::string> log{8};
  bool ok = false;
  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
    scope.spawn(server(listener, ctx, log, scope));
    ok = co_await run_clients(s, at, ca_pem, log);
    scope.cancel();  // stops the server; every connection has ended
  });
  co_return ok ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A TLS echo server and clients on 127.0.0.1, with weft::io::tls_stream.", "tls_echo"};
  settings s;
  bool quick = false;
  app.add_option("--cert", s.cert_file, "server certificate chain, PEM (default: a generated self-signed one)")
      ->check(CLI::ExistingFile);
  app.add_option("--key", s.key_file, "the certificate's private key, PEM")->check(CLI::ExistingFile);
  app.add_option("--ca", s.ca_file, "CA certificate the client trusts, PEM (default: the --cert file)")
      ->check(CLI::ExistingFile);
  app.add_option("--server-name", s.server_name, "the name the client expects in the certificate");
  app.add_option("--messages", s.messages, "messages the good client echoes")->check(CLI::Range(1, 1'000'000));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error or a check failed, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (s.cert_file.empty() != s.key_file.empty()) return example::usage_failure(app, "--cert and --key go together");
  if (quick) s.messages = 10;
  try {
    return weft::run(amain(s));
  } catch (const std::exception& e) {
    fmt::print(stderr, "tls_echo: {}\n", e.what());
    return example::exit_error;
  }
}
