// udp_echo: weft::io::udp_socket (weft/io/udp.hpp), a UDP echo server and
// its clients in one program, on 127.0.0.1.
//
// The server binds 127.0.0.1:0 (the kernel picks a free port) and sends
// every datagram back where it came from (recv_from, then send_to). Each
// client binds a socket of its own, connect()s it to the server, so that
// send/recv talk to that peer only, and sends numbered datagrams, waiting
// for each echo under a deadline. UDP may drop a datagram (on loopback only
// under pressure, but a client must not hang on one), so a datagram whose
// echo does not come back within 200 ms is sent again, 3 tries in all, and
// echoes that come late are skipped.
//
// The program checks that every datagram came back intact, and exits 1
// otherwise.
//
//   ./build/examples/udp_echo [--clients N] [--count N] [--quick]
#include <fmt/core.h>

#include <chrono>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;
namespace io = weft::io;

// Echoes until cancelled (cancellation is how it is told to stop: it then
// returns normally).
weft::task<void> echo_server(io::udp_socket& sock, long& echoed) {
  std::byte buf[2048];
  try {
    for (;;) {
      io::received_datagram d = co_await sock.recv_from(buf);
      if (d.truncated) continue;  // longer than our buffer: not echoed in part
      co_await sock.send_to({buf, d.size}, d.from);
      ++echoed;
    }
  } catch (const weft::operation_cancelled&) {
  }
}

// Sends msg until its echo comes back: true if it did within 3 tries.
weft::task<bool> roundtrip(io::udp_socket& sock, std::string_view msg, long& resent) {
  std::byte buf[2048];
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) ++resent;
    co_await sock.send(io::as_bytes(msg));
    const auto deadline = weft::clock::now() + 200ms;
    try {
      for (;;) {  // an echo of an earlier datagram, late, is skipped
        std::size_t n = co_await sock.recv(buf, deadline);
        if (std::string_view(reinterpret_cast<const char*>(buf), n) == msg) co_return true;
      }
    } catch (const weft::timeout_error&) {
    }
  }
  co_return false;
}

weft::task<long> client(io::address server, int id, int count, long& resent) {
  auto sock = io::udp_socket::bind(io::address::parse("127.0.0.1:0"));
  sock.connect(server);
  long ok = 0;
  for (int i = 0; i < count; ++i) {
    const std::string msg =
        fmt::format("client {} datagram {} {}", id, i, std::string(static_cast<std::size_t>(i % 64) * 16, 'x'));
    if (co_await roundtrip(sock, msg, resent)) ++ok;
  }
  fmt::print("client {} on {}: {} of {} datagrams echoed\n", id, sock.local_address(), ok, count);
  co_return ok;
}

weft::task<int> amain(int clients, int count) {
  auto server_sock = io::udp_socket::bind(io::address::parse("127.0.0.1:0"));
  const io::address server = server_sock.local_address();
  fmt::print("echo server on {}\n", server);
  long echoed = 0;
  std::vector<long> resent(static_cast<std::size_t>(clients)), got;

  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
    scope.spawn(echo_server(server_sock, echoed));
    std::vector<weft::task<long>> tasks;
    for (int c = 0; c < clients; ++c) tasks.push_back(client(server, c, count, resent[static_cast<std::size_t>(c)]));
    got = co_await weft::when_all(std::move(tasks));
    scope.cancel();  // the server runs until cancelled
  });

  long total = 0, resends = 0;
  for (long n : got) total += n;
  for (long n : resent) resends += n;
  fmt::print("{} of {} datagrams came back; {} resent; the server echoed {}\n", total, long{clients} * count, resends,
             echoed);
  co_return total == long{clients} * count ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A UDP echo server and clients on 127.0.0.1, with weft::io::udp_socket.", "udp_echo"};
  int clients = 3, count = 1000;
  bool quick = false;
  app.add_option("--clients", clients, "clients, each with its own socket")->check(CLI::Range(1, 1000));
  app.add_option("--count", count, "datagrams each client sends")->check(CLI::Range(1, 10'000'000));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error or a datagram lost, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) count = 100;
  try {
    return weft::run(amain(clients, count));
  } catch (const std::exception& e) {
    fmt::print(stderr, "udp_echo: {}\n", e.what());
    return example::exit_error;
  }
}
