// unix_echo: Unix-domain stream sockets (weft/io/unix.hpp), an echo server
// and its clients in one program.
//
// The socket is a file, echo.sock, in a fresh directory under $TMPDIR
// (/tmp by default); the directory is removed at the end, also when
// something fails. The server accepts connections and echoes each until the
// client half-closes it; each client writes messages of growing size
// (write_all), reads every one back (read_exact) and compares, then
// half-closes (shutdown_write) and expects the server's end of stream.
//
// The program checks every echo and that the socket file is gone at the
// end, and exits 1 otherwise.
//
//   ./build/examples/unix_echo [--clients N] [--messages N] [--quick]
#include <fmt/core.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

namespace fs = std::filesystem;
namespace io = weft::io;

// A new directory under $TMPDIR, removed with everything in it when this
// goes out of scope.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "unix_echo-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::system_error(errno, std::system_category(), "mkdtemp " + pattern);
    path = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

weft::task<void> echo(io::unix_stream conn) {
  std::byte buf[16 * 1024];
  while (std::size_t n = co_await conn.read_some(buf)) co_await conn.write_all({buf, n});
  // read_some returned 0: the client half-closed; destroying conn closes our end.
}

// Accepts until cancelled, each connection echoed by a task of the scope.
weft::task<void> server(io::unix_listener& listener, weft::task_scope& scope) {
  try {
    for (;;) scope.spawn(echo(co_await listener.accept()));
  } catch (const weft::operation_cancelled&) {  // told to stop: not an error
  }
}

weft::task<std::size_t> client(std::string path, int id, int messages) {
  io::unix_stream s = co_await io::unix_stream::connect(path, std::chrono::seconds(5));
  std::size_t bytes = 0;
  for (int i = 0; i < messages; ++i) {
    std::string msg(std::size_t{1} << (i % 17), static_cast<char>('a' + (id + i) % 26));  // 1 B to 64 KiB
    std::string back(msg.size(), '\0');
    // Write and read at once: a 64 KiB message is more than the socket buffers.
    co_await weft::when_all(s.write_all(io::as_bytes(msg)), io::read_exact(s, io::as_writable_bytes(back)));
    if (back != msg) throw std::runtime_error(fmt::format("client {}: message {} came back changed", id, i));
    bytes += msg.size();
  }
  s.shutdown_write();  // no more messages: the server sees end of stream...
  std::byte extra[1];
  if (co_await s.read_some(extra) != 0) throw std::runtime_error("more bytes than were sent");  // ...and so do we
  co_return bytes;
}

weft::task<int> amain(int clients, int messages) {
  fs::path dir_path;
  std::vector<std::size_t> echoed;
  {
    temp_dir dir;
    dir_path = dir.path;
    const std::string path = (dir.path / "echo.sock").string();
    io::unix_listener listener = io::unix_listener::bind(path);
    fmt::print("echo server on {}\n", path);

    co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
      scope.spawn(server(listener, scope));
      std::vector<weft::task<std::size_t>> tasks;
      for (int c = 0; c < clients; ++c) tasks.push_back(client(path, c, messages));
      echoed = co_await weft::when_all(std::move(tasks));  // a client's exception ends up here
      scope.cancel();                                      // stops the server (the connections have all ended)
    });
  }  // the listener is closed and the directory removed, also when an exception passes

  std::size_t total = 0;
  for (std::size_t i = 0; i < echoed.size(); ++i) {
    fmt::print("client {}: {} messages, {} bytes echoed\n", i, messages, echoed[i]);
    total += echoed[i];
  }
  const bool removed = !fs::exists(dir_path);
  fmt::print("{} bytes in all; {} {}\n", total, dir_path.string(), removed ? "removed" : "NOT removed");
  co_return removed&& echoed.size() == static_cast<std::size_t>(clients) ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"An echo server and clients over a Unix-domain socket in a temporary directory.", "unix_echo"};
  int clients = 4, messages = 34;
  bool quick = false;
  app.add_option("--clients", clients, "clients, connected at once")->check(CLI::Range(1, 1000));
  app.add_option("--messages", messages, "messages per client, 1 B to 64 KiB")->check(CLI::Range(1, 1'000'000));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error or a wrong echo, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) clients = 2, messages = 17;
  try {
    return weft::run(amain(clients, messages));
  } catch (const std::exception& e) {
    fmt::print(stderr, "unix_echo: {}\n", e.what());
    return example::exit_error;
  }
}
