// TLS over any weft stream: weft::io::tls_stream<S>.
#include <weft/weft.hpp>

#include <string>

#include "check.hpp"
#include "localhost_cert.hpp"

using namespace std::chrono_literals;
namespace io = weft::io;

// [start server]
weft::task<> tls_echo_server(io::tcp_listener& l, const io::tls_context& ctx) {
  for (;;) {
    io::tcp_stream tcp = co_await l.accept();
    try {
      auto conn = co_await io::tls_stream<io::tcp_stream>::accept(std::move(tcp), ctx, 2s);
      std::byte buf[256];
      while (std::size_t n = co_await conn.read_some(buf, 2s))  // 0: the client's close_notify
        co_await io::write_all(conn, std::span<const std::byte>(buf, n), 2s);
      co_await conn.shutdown(2s);  // our close_notify
    } catch (const io::tls_error&) {
      // a client that did not trust us: this connection ends, the server goes on
    }
  }
}
// [end server]

weft::task<> tls_round_trip() {
  // [start client]
  io::tls_server_options server_options;
  server_options.cert_pem = snippet::localhost_cert_pem;  // or .cert_file / .key_file
  server_options.key_pem = snippet::localhost_key_pem;
  io::tls_context ctx{server_options};
  auto l = io::tcp_listener::bind(io::address::parse("127.0.0.1:0"));
  auto server = weft::spawn(tls_echo_server(l, ctx));

  auto tcp = co_await io::tcp_stream::connect(l.local_address(), 2s);
  io::tls_client_options o{.server_name = "localhost", .ca_pem = snippet::localhost_cert_pem};
  auto tls = co_await io::tls_stream<io::tcp_stream>::connect(std::move(tcp), o, 2s);  // o: a variable
  CHECK(tls.alpn_protocol() == "http/1.1");
  co_await io::write_all(tls, io::as_bytes("over TLS"), 2s);
  tls.next_layer().set_nodelay(true);  // the transport is still there
  std::string reply(8, '\0');
  co_await io::read_exact(tls, io::as_writable_bytes(reply), 2s);
  CHECK(reply == "over TLS");
  co_await tls.shutdown(2s);
  std::byte b[1];
  CHECK(co_await tls.read_some(b, 2s) == 0);  // the server's close_notify: end of stream
  // [end client]

  // [start verify]
  auto tcp2 = co_await io::tcp_stream::connect(l.local_address(), 2s);
  io::tls_client_options strict{.server_name = "localhost"};  // the system's trust store only
  try {
    co_await io::tls_stream<io::tcp_stream>::connect(std::move(tcp2), strict, 2s);
    CHECK(false);
  } catch (const io::tls_error& e) {  // "tls handshake failed: certificate verify failed: ..."
    CHECK(std::string(e.what()).find("certificate verify failed") != std::string::npos);
  }
  // [end verify]

  server.cancel();
  try {
    co_await server;
  } catch (const weft::operation_cancelled&) {
  }
}

int main() { weft::run(tls_round_trip()); }
