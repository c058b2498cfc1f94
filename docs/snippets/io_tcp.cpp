// TCP: a listener, an accept loop (io::serve), a client.
#include <weft/weft.hpp>

#include <cstring>
#include <string>

#include "check.hpp"

using namespace std::chrono_literals;
namespace io = weft::io;

// [start echo]
weft::task<> echo(io::tcp_stream s) {  // one task per connection
  std::byte buf[4096];
  while (std::size_t n = co_await s.read_some(buf))  // 0: the peer closed its side
    co_await s.write_all(std::span<const std::byte>(buf, n));
}

weft::task<> echo_round_trip() {
  auto listener = io::tcp_listener::bind(io::address::parse("127.0.0.1:0"));  // port 0: any free one
  const std::uint16_t port = listener.local_address().port();
  auto server = weft::spawn(io::serve(listener, echo));

  io::tcp_stream c = co_await io::tcp_stream::connect(io::address::loopback_v4(port), 2s);
  co_await c.write_all(io::as_bytes("hello, weft"));
  c.shutdown_write();  // no more from us: the server reads end of stream
  std::string reply(64, '\0');
  std::size_t n = co_await c.read(io::as_writable_bytes(reply), 2s);  // until full or end of stream
  reply.resize(n);
  CHECK(reply == "hello, weft");

  server.cancel();  // stops accepting, cancels every connection's task and waits for them
  try {
    co_await server;
  } catch (const weft::operation_cancelled&) {
  }
}
// [end echo]

weft::task<> by_hand() {
  // [start accept]
  auto listener = io::tcp_listener::bind(io::address::parse("127.0.0.1:0"));
  const std::uint16_t port = listener.local_address().port();
  io::tcp_stream client = co_await io::connect("127.0.0.1", port, 2s);  // a host name or a numeric address
  io::tcp_stream server = co_await listener.accept(2s);
  client.set_nodelay(true);
  CHECK(server.peer_address() == client.local_address());

  co_await io::write_all(client, io::as_bytes("ping"));  // io::write_all / read_exact work on any stream
  std::byte buf[4];
  co_await io::read_exact(server, buf, 2s);  // exactly 4 bytes, or io::unexpected_eof
  CHECK(std::memcmp(buf, "ping", 4) == 0);
  // [end accept]
}

int main() {
  weft::run(echo_round_trip());
  weft::run(by_hand());
}
