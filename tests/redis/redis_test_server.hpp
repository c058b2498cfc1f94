// A real redis-server for the tests, started on 127.0.0.1 with a fresh
// temporary directory, nothing saved to disk, and stopped by its pid.
//
//   weft_test::redis_server server;                      // a free port
//   weft_test::redis_server locked{{"--requirepass", "s3cret"}};
//   server.url()                                          // "redis://127.0.0.1:PORT"
//   server.kill(); server.start();                        // the same port again
//   weft_test::redis_server tls({}, weft_test::redis_tls{cert_pem, key_pem});  // TLS only (rediss://)
//
// The port is picked by binding port 0 first, then given to redis-server;
// if another process takes it meanwhile the start fails and is retried
// with a new port (only before the first successful start). start()
// returns once the server answers PING (or says NOAUTH), within 10 s; a
// TLS-only server once it accepts connections. WEFT_TEST_KEEP_REDIS=1 in
// the environment keeps the server's directory (its log) for a post-mortem.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace weft_test {

/// A server certificate and key (PEM) for a TLS-only redis_server.
struct redis_tls {
  std::string cert;
  std::string key;
};

class redis_server {
 public:
  explicit redis_server(std::vector<std::string> extra = {}) : extra_(std::move(extra)) { start_first(); }
  /// TLS only: --tls-port, no plain port, clients not asked for certificates.
  redis_server(std::vector<std::string> extra, const redis_tls& tls) : extra_(std::move(extra)), tls_(true) {
    make_dir();
    write_file(dir_ + "/cert.pem", tls.cert);
    write_file(dir_ + "/key.pem", tls.key);
    extra_.insert(extra_.end(), {"--tls-cert-file", dir_ + "/cert.pem", "--tls-key-file", dir_ + "/key.pem",
                                 "--tls-auth-clients", "no"});
    start_first();
  }

 private:
  void make_dir() {
    if (!dir_.empty()) return;
    char tmpl[] = "/tmp/weft-redis-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("redis_server: mkdtemp failed");
    dir_ = tmpl;
  }
  static void write_file(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size())
      throw std::runtime_error("cannot write " + path);
    std::fclose(f);
  }
  void start_first() {
    make_dir();
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      if (try_start()) break;
      if (attempt == 4) throw std::runtime_error("redis_server: redis-server did not start (see " + dir_ + "/log)");
    }
  }

 public:
  ~redis_server() {
    kill();
    std::error_code ec;
    if (std::getenv("WEFT_TEST_KEEP_REDIS")) return;
    std::filesystem::remove_all(dir_, ec);
  }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const noexcept { return pid_; }

  /// SIGKILL (no goodbye to clients), and waits for the process.
  void kill() { stop(SIGKILL); }
  /// SIGTERM, and waits for the process.
  void terminate() { stop(SIGTERM); }

  /// Starts it again on the same port.
  void start() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (try_start()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the old socket lingering
    }
    throw std::runtime_error("redis_server: redis-server did not restart on port " + std::to_string(port_));
  }

 private:
  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) < 0)
      throw std::runtime_error("redis_server: no free port");
    ::close(fd);
    return ntohs(a.sin_port);
  }

  bool try_start() {
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     tls_ ? std::string("0") : std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_,
                                     "--logfile",
                                     dir_ + "/log",
                                     "--daemonize",
                                     "no"};
    if (tls_) args.insert(args.end(), {"--tls-port", std::to_string(port_)});
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("redis_server: cannot run redis-server (Debian: apt-get install redis-server)");
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < give_up) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken, say
        pid_ = -1;
        return false;
      }
      if (answers()) return true;
      if (tls_ && accepts()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop(SIGKILL);
    return false;
  }

  /// A socket to probe the port with, from 127.0.0.2: from 127.0.0.1 its
  /// ephemeral port could be the very port probed (both come from the same
  /// range), and the kernel then connects the socket to itself, taking the
  /// port redis-server is about to bind.
  static int probe_socket() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(0x7f000002);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) < 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  /// Whether something accepts connections on the port.
  bool accepts() const {
    const int fd = probe_socket();
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  /// Whether something on the port answers PING like a Redis server.
  bool answers() const {
    if (tls_) return false;
    const int fd = probe_socket();
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::write(fd, "PING\r\n", 6) == 6) {
      char buf[64];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      const std::string got(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      // -DENIED: protected mode answering the probe from 127.0.0.2 (a Redis server all the same).
      ok = got.rfind("+PONG", 0) == 0 || got.rfind("-NOAUTH", 0) == 0 || got.rfind("-DENIED", 0) == 0;
    }
    ::close(fd);
    return ok;
  }

  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::vector<std::string> extra_;
  bool tls_ = false;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace weft_test
