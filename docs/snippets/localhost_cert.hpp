// A self-signed certificate for "localhost" and 127.0.0.1 (EC P-256, valid
// 2000-2999) and its key, for the TLS snippets: the server presents it,
// the client trusts it through tls_client_options::ca_pem. A test key,
// published here: never use it for anything else.
#pragma once

namespace snippet {

inline constexpr const char* localhost_cert_pem = R"(
-----BEGIN CERTIFICATE-----
MIIBWzCCAQGgAwIBAgIUA5/+owlGB+9CYXa+sOnlVRHNA+IwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTAwMDEwMTAwMDAwMFoYDzI5OTkxMjMx
MDAwMDAwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATMQxGIWpIj5jeDSH4yih/rx5wdfQVs/PilxyNnOehUfnSJntbk13N0
XkEmEbDO7GOsgxWvCCod1ido8rBDCvCooy8wLTAaBgNVHREEEzARgglsb2NhbGhv
c3SHBH8AAAEwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEApvFb
45qYnxNOJ+wpQR9lr63KKafP6wRI12LmE5rShEgCIDJD2cG2XzLY2jvGor55ZEHI
d1FegUbXYQpBh1qfAzqN
-----END CERTIFICATE-----
)";

inline constexpr const char* localhost_key_pem = R"(
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgCV1QehFQvkR0jzzB
iI1fzi0+3CShWanfzNHW8PAYBQ+hRANCAATMQxGIWpIj5jeDSH4yih/rx5wdfQVs
/PilxyNnOehUfnSJntbk13N0XkEmEbDO7GOsgxWvCCod1ido8rBDCvCo
-----END PRIVATE KEY-----
)";

}  // namespace snippet
