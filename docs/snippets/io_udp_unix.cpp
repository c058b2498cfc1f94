// Datagrams (UDP) and Unix-domain sockets.
#include <weft/weft.hpp>

#include <unistd.h>

#include <cstring>
#include <string>

#include "check.hpp"

using namespace std::chrono_literals;
namespace io = weft::io;

weft::task<> datagrams() {
  // [start udp]
  auto a = io::udp_socket::bind(io::address::parse("127.0.0.1:0"));
  auto b = io::udp_socket::bind(io::address::parse("127.0.0.1:0"));
  co_await a.send_to(io::as_bytes("ping"), b.local_address());
  std::byte buf[1500];
  io::received_datagram d = co_await b.recv_from(buf, 2s);
  CHECK(d.size == 4 && d.from == a.local_address() && !d.truncated);

  co_await a.send_to(io::as_bytes("a long one"), b.local_address());
  std::byte small[4];
  d = co_await b.recv_from(small, 2s);
  CHECK(d.size == 4 && d.truncated);  // the rest of the datagram was dropped
  // [end udp]
}

weft::task<> unix_sockets() {
  // [start unix]
  const std::string name = "@weft-docs-" + std::to_string(::getpid());  // '@': abstract, no file
  auto listener = io::unix_listener::bind(name);
  auto client = co_await io::unix_stream::connect(name, 2s);
  auto server = co_await listener.accept(2s);
  co_await io::write_all(client, io::as_bytes("hi"));
  std::byte buf[2];
  co_await io::read_exact(server, buf, 2s);
  CHECK(std::memcmp(buf, "hi", 2) == 0);
  // [end unix]
}

int main() {
  weft::run(datagrams());
  weft::run(unix_sockets());
}
