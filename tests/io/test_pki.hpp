// A test PKI made at run time with the OpenSSL API: a CA, a server
// certificate it signed for localhost and 127.0.0.1, a self-signed one for
// the same names and a mismatched key. Shared by the TLS and HTTPS tests.
//
//   io::tls_context ctx{{.cert_pem = pki().server.cert, .key_pem = pki().server.key}};
//   io::tls_client_options o{.server_name = "localhost", .ca_pem = pki().ca};
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <stdexcept>
#include <string>

namespace weft_test {

struct key_pair {
  std::string cert;
  std::string key;
};

struct test_pki {
  std::string ca;        // trusted by the tests that pass
  key_pair server;       // signed by ca, for localhost and 127.0.0.1
  key_pair self_signed;  // the same names, signed by itself
  key_pair other;        // signed by ca, a key that belongs to no cert here
};

inline std::string pem_of(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

inline std::string pem_of(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  std::string s(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return s;
}

inline void add_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (!e) throw std::runtime_error("test certificate: bad extension");
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

// A certificate for `key` named `cn`, signed by issuer (itself if null).
inline X509* make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  static std::atomic<long> serial{1};
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer : x, x, nullptr, nullptr, 0);
  add_ext(x, &v3, NID_subject_key_identifier, "hash");
  if (ca) {
    add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, &v3, NID_key_usage, "critical,digitalSignature");
    add_ext(x, &v3, NID_ext_key_usage, "serverAuth");
    add_ext(x, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  }
  if (issuer) add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
  if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) == 0)
    throw std::runtime_error("test certificate: signing failed");
  return x;
}

inline const test_pki& pki() {
  static const test_pki p = [] {
    test_pki out;
    EVP_PKEY* ca_key = EVP_EC_gen("P-256");
    EVP_PKEY* key = EVP_EC_gen("P-256");
    EVP_PKEY* stray = EVP_EC_gen("P-256");
    X509* ca = make_cert(ca_key, "weft test CA", nullptr, nullptr, true);
    X509* leaf = make_cert(key, "localhost", ca, ca_key, false);
    X509* self = make_cert(key, "localhost", nullptr, nullptr, false);
    out.ca = pem_of(ca);
    out.server = {pem_of(leaf), pem_of(key)};
    out.self_signed = {pem_of(self), pem_of(key)};
    out.other = {pem_of(leaf), pem_of(stray)};
    for (X509* x : {ca, leaf, self}) X509_free(x);
    for (EVP_PKEY* k : {ca_key, key, stray}) EVP_PKEY_free(k);
    return out;
  }();
  return p;
}

}  // namespace weft_test
