// weft/runtime/ops.hpp: the driver operations (weft::ops) on both drivers,
// io_uring and epoll: read/write, send/recv, accept/connect, poll,
// timeout, sendmsg/recvmsg with SCM_RIGHTS, close, closed peers,
// cancellation (of the task, and ops::cancel(fd)), errors, many at once,
// shutdown with operations pending.
//
// Every test case runs twice, once per backend (a Catch2 GENERATE), and
// talks only to descriptors it creates: pipes, socketpairs, temporary
// files and 127.0.0.1 listeners on port 0. The descriptors are
// non-blocking, as the epoll driver requires.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"
#include "weft/runtime/yield.hpp"

namespace {

using namespace std::chrono_literals;
using weft::task;
using clk = std::chrono::steady_clock;
using namespace weft_test;

// ---------------------------------------------------------------- helpers

struct fd_guard {
  int fd = -1;
  fd_guard() = default;
  explicit fd_guard(int f) : fd(f) {}
  fd_guard(fd_guard&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  fd_guard& operator=(fd_guard&& o) noexcept {
    reset(std::exchange(o.fd, -1));
    return *this;
  }
  ~fd_guard() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
  int release() { return std::exchange(fd, -1); }
  int get() const { return fd; }
};

struct fd_pair {
  fd_guard a, b;
};

fd_pair make_socketpair() {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  return {fd_guard(sv[0]), fd_guard(sv[1])};
}

// a: the read end, b: the write end.
fd_pair make_pipe() {
  int p[2];
  REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
  return {fd_guard(p[0]), fd_guard(p[1])};
}

fd_guard make_tcp_socket() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  return fd_guard(fd);
}

// A socket bound to 127.0.0.1 on an ephemeral port; listening if backlog >= 0.
fd_guard make_bound(sockaddr_in& addr, int backlog) {
  fd_guard s = make_tcp_socket();
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  if (backlog >= 0) REQUIRE(::listen(s.get(), backlog) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  REQUIRE(addr.sin_port != 0);
  return s;
}

// Both backends; io_uring is skipped (with a warning) where the kernel refuses it.
std::unique_ptr<weft::runtime> make_runtime(weft::io_backend backend, unsigned workers) {
  try {
    auto rt = std::make_unique<weft::runtime>(weft::runtime_options{.workers = workers, .io = backend});
    REQUIRE(rt->io_backend() == backend);
    return rt;
  } catch (const std::runtime_error& e) {
    if (backend != weft::io_backend::io_uring) throw;
    WARN("io_uring is not available here (" << e.what() << "); the io_uring run is skipped");
    return nullptr;
  }
}

#define WEFT_ON_EACH_BACKEND(rt, workers)                                              \
  const auto backend_ = GENERATE(weft::io_backend::io_uring, weft::io_backend::epoll); \
  INFO("backend: " << weft::to_string(backend_));                                      \
  auto rt = make_runtime(backend_, workers);                                           \
  if (!rt) return

// Writes/reads a whole buffer through the driver, looping over partial transfers.
task<std::size_t> send_all(int fd, const char* p, std::size_t n, std::size_t chunk) {
  std::size_t done = 0;
  while (done < n) {
    int r = co_await weft::ops::send(fd, p + done, std::min(chunk, n - done));
    if (r < 0) throw std::system_error(-r, std::system_category(), "send");
    done += static_cast<std::size_t>(r);
  }
  co_return done;
}

task<std::size_t> recv_all(int fd, char* p, std::size_t n, std::size_t chunk) {
  std::size_t done = 0;
  while (done < n) {
    int r = co_await weft::ops::recv(fd, p + done, std::min(chunk, n - done));
    if (r < 0) throw std::system_error(-r, std::system_category(), "recv");
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  co_return done;
}

// Spawns op, lets it block, cancels it: the awaiting side must see
// operation_cancelled. Returns false (and warns) if op finished by itself
// before it could be cancelled.
task<bool> spawn_block_cancel(task<int> op, const char* what) {
  auto h = weft::spawn(std::move(op));
  co_await weft::sleep_for(20ms);
  if (h.is_finished()) {
    int r = co_await h;
    WARN(what << " completed (" << r << ") before it could be cancelled");
    co_return false;
  }
  const auto t0 = clk::now();
  h.cancel();
  CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
  CHECK(clk::now() - t0 < 5s);
  co_return true;
}

bool is_nonblocking(int fd) { return ::fcntl(fd, F_GETFL) & O_NONBLOCK; }
bool is_cloexec(int fd) { return ::fcntl(fd, F_GETFD) & FD_CLOEXEC; }

}  // namespace

// ---------------------------------------------------------------- read / write

namespace {
task<void> pipe_round_trip(int r, int w) {
  const std::string msg = "hello through a pipe";
  CO_CHECK_EQ(weft::ops::write(w, msg.data(), msg.size()), static_cast<int>(msg.size()));
  char buf[64] = {};
  CO_CHECK_EQ(weft::ops::read(r, buf, sizeof buf), static_cast<int>(msg.size()));
  CHECK(std::string(buf, msg.size()) == msg);

  // A read that has to wait for a writer.
  char buf2[16] = {};
  auto reader = weft::spawn(weft::ops::read(r, buf2, sizeof buf2));
  co_await weft::sleep_for(20ms);
  CHECK_FALSE(reader.is_finished());
  CO_CHECK_EQ(weft::ops::write(w, "later", 5), 5);
  CO_CHECK_EQ(reader, 5);
  CHECK(std::string(buf2, 5) == "later");
}
}  // namespace

TEST_CASE("driver: read and write on a pipe", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto p = make_pipe();
  rt->block_on(pipe_round_trip(p.a.get(), p.b.get()));
}

namespace {
task<void> file_at_offset(int fd) {
  std::string data(10'000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  CO_CHECK_EQ(weft::ops::write(fd, data.data(), data.size(), 4096), static_cast<int>(data.size()));
  CO_CHECK_EQ(weft::ops::write(fd, "HEAD", 4, 0), 4);

  std::string back(data.size(), '\0');
  CO_CHECK_EQ(weft::ops::read(fd, back.data(), back.size(), 4096), static_cast<int>(data.size()));
  CHECK(back == data);
  char head[4];
  CO_CHECK_EQ(weft::ops::read(fd, head, 4, 0), 4);
  CHECK(std::string(head, 4) == "HEAD");
  // The hole between is zeros; past the end reads 0 bytes.
  char hole[8];
  CO_CHECK_EQ(weft::ops::read(fd, hole, sizeof hole, 100), 8);
  CHECK(std::string(hole, 8) == std::string(8, '\0'));
  char tail[8];
  CO_CHECK_EQ(weft::ops::read(fd, tail, sizeof tail, 4096 + 10'000), 0);
  // A middle piece.
  char mid[26];
  CO_CHECK_EQ(weft::ops::read(fd, mid, sizeof mid, 4096 + 26 * 3 + 5), 26);
  CHECK(mid[0] == 'f');
  // The file really has it there (checked with a plain pread).
  char check[10];
  CHECK(::pread(fd, check, sizeof check, 4096) == 10);
  CHECK(std::string(check, 10) == data.substr(0, 10));
  struct stat st {};
  CHECK(::fstat(fd, &st) == 0);
  CHECK(st.st_size == 4096 + 10'000);
}
}  // namespace

TEST_CASE("driver: read and write a regular file at an offset", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  char path[] = "/tmp/weft-driver-test-XXXXXX";
  fd_guard f(::mkstemp(path));
  REQUIRE(f.get() >= 0);
  ::unlink(path);
  rt->block_on(file_at_offset(f.get()));
}

// ---------------------------------------------------------------- send / recv

namespace {
task<void> small_exchange(int a, int b) {
  CO_CHECK_EQ(weft::ops::send(a, "ping", 4), 4);
  char buf[16] = {};
  CO_CHECK_EQ(weft::ops::recv(b, buf, sizeof buf), 4);
  CHECK(std::string(buf, 4) == "ping");
  CO_CHECK_EQ(weft::ops::send(b, "pong!", 5), 5);
  CO_CHECK_EQ(weft::ops::recv(a, buf, sizeof buf), 5);
  CHECK(std::string(buf, 5) == "pong!");
  // MSG_PEEK is passed through.
  CO_CHECK_EQ(weft::ops::send(a, "xy", 2), 2);
  CO_CHECK_EQ(weft::ops::recv(b, buf, sizeof buf, MSG_PEEK), 2);
  CO_CHECK_EQ(weft::ops::recv(b, buf, sizeof buf), 2);
}

char pattern_byte(std::size_t i) { return static_cast<char>((i * 131 + i / 4093) & 0xff); }

task<std::size_t> big_reader(int fd, std::vector<char>* out) {
  co_return co_await recv_all(fd, out->data(), out->size(), 65536 - 100);
}

task<void> big_transfer(int a, int b) {
  constexpr std::size_t total = 8u << 20;
  std::vector<char> src(total), dst(total);
  for (std::size_t i = 0; i < total; ++i) src[i] = pattern_byte(i);
  auto reader = weft::spawn(big_reader(b, &dst));
  // Odd chunk sizes, so that sends straddle the socket buffer.
  const std::size_t sent = co_await send_all(a, src.data(), total, 100'003);
  CHECK(sent == total);
  const std::size_t got = co_await reader;
  CHECK(got == total);
  CHECK(src == dst);
}
}  // namespace

TEST_CASE("driver: recv and send on a socketpair", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  rt->block_on(small_exchange(sp.a.get(), sp.b.get()));
  // An operation is itself a task: block_on runs it directly.
  REQUIRE(::send(sp.a.get(), "direct", 6, MSG_NOSIGNAL) == 6);
  char buf[16];
  CHECK(rt->block_on(weft::ops::recv(sp.b.get(), buf, sizeof buf)) == 6);
  // Outside a runtime worker, ops::cancel refuses.
  CHECK_THROWS_AS(weft::ops::cancel(sp.a.get()), std::logic_error);
}

TEST_CASE("driver: an 8 MiB transfer through a small socket buffer (backpressure)", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  int small = 16 * 1024;
  ::setsockopt(sp.a.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(sp.b.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  rt->block_on(big_transfer(sp.a.get(), sp.b.get()));
}

// ---------------------------------------------------------------- accept / connect

namespace {
task<int> accept_one(int lfd, sockaddr_in* peer) {
  socklen_t len = sizeof *peer;
  co_return co_await weft::ops::accept(lfd, reinterpret_cast<sockaddr*>(peer), &len);
}

task<int> connect_to(int fd, sockaddr_in addr) {
  co_return co_await weft::ops::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
}

task<void> accept_and_connect(int lfd, sockaddr_in addr) {
  sockaddr_in peer{};
  auto acceptor = weft::spawn(accept_one(lfd, &peer));
  co_await weft::sleep_for(10ms);  // let the accept block first
  fd_guard client = make_tcp_socket();
  auto connector = weft::spawn(connect_to(client.get(), addr));
  const int cr = co_await connector;
  REQUIRE(cr == 0);
  const int sfd = co_await acceptor;
  REQUIRE(sfd >= 0);
  fd_guard server(sfd);
  CHECK(is_nonblocking(sfd));  // accept4's default flags
  CHECK(is_cloexec(sfd));
  CHECK(peer.sin_family == AF_INET);
  CHECK(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  sockaddr_in local{};
  socklen_t len = sizeof local;
  REQUIRE(::getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0);
  CHECK(peer.sin_port == local.sin_port);

  // The connection works both ways.
  CO_CHECK_EQ(weft::ops::send(client.get(), "hello", 5), 5);
  char buf[16];
  CO_CHECK_EQ(weft::ops::recv(sfd, buf, sizeof buf), 5);
  CO_CHECK_EQ(weft::ops::send(sfd, "world", 5), 5);
  CO_CHECK_EQ(weft::ops::recv(client.get(), buf, sizeof buf), 5);
  CHECK(std::string(buf, 5) == "world");

  // Connect first, accept later (the connection waits in the backlog).
  fd_guard client2 = make_tcp_socket();
  CO_CHECK_EQ(connect_to(client2.get(), addr), 0);
  sockaddr_in peer2{};
  const int s2 = co_await accept_one(lfd, &peer2);
  CHECK(s2 >= 0);
  fd_guard server2(s2);
  // Without an address.
  fd_guard client3 = make_tcp_socket();
  CO_CHECK_EQ(connect_to(client3.get(), addr), 0);
  const int s3 = co_await weft::ops::accept(lfd);
  CHECK(s3 >= 0);
  fd_guard server3(s3);
}

task<void> connect_refused(sockaddr_in addr) {
  fd_guard c = make_tcp_socket();
  CO_CHECK_EQ(connect_to(c.get(), addr), -ECONNREFUSED);
}
}  // namespace

TEST_CASE("driver: accept and connect on a 127.0.0.1 listener", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  sockaddr_in addr{};
  fd_guard l = make_bound(addr, 16);
  rt->block_on(accept_and_connect(l.get(), addr));
}

TEST_CASE("driver: connect to a port nobody listens on gives ECONNREFUSED", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  sockaddr_in addr{};
  fd_guard holder = make_bound(addr, -1);  // bound (the port stays ours), not listening
  rt->block_on(connect_refused(addr));
}

// ---------------------------------------------------------------- poll, timeout

namespace {
task<void> poll_readable(int a, int b) {
  // Writable at once.
  int w = co_await weft::ops::poll(a, POLLOUT);
  CHECK((w & POLLOUT));
  // Readable only once data arrives.
  auto poller = weft::spawn(weft::ops::poll(b, POLLIN));
  co_await weft::sleep_for(20ms);
  CHECK_FALSE(poller.is_finished());
  CO_CHECK_EQ(weft::ops::send(a, "!", 1), 1);
  int r = co_await poller;
  CHECK((r & POLLIN));
  // Poll does not consume: the byte is still there.
  char c = 0;
  CO_CHECK_EQ(weft::ops::recv(b, &c, 1), 1);
  CHECK(c == '!');
}

task<void> driver_timeouts() {
  for (auto d : {1ms, 30ms}) {
    const auto t0 = clk::now();
    CO_CHECK_EQ(weft::ops::timeout(d), 0);
    CHECK(clk::now() - t0 >= d);
  }
  CO_CHECK_EQ(weft::ops::timeout(0ns), 0);
  // Several at once.
  std::vector<weft::join_handle<int>> hs;
  for (int i = 0; i < 20; ++i) hs.push_back(weft::spawn(weft::ops::timeout(std::chrono::milliseconds(1 + i))));
  for (auto& h : hs) CO_CHECK_EQ(h, 0);
}
}  // namespace

TEST_CASE("driver: poll waits for readability", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  rt->block_on(poll_readable(sp.a.get(), sp.b.get()));
}

TEST_CASE("driver: ops::timeout completes after its duration", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  rt->block_on(driver_timeouts());
}

// ---------------------------------------------------------------- closed peers

namespace {
task<void> recv_after_peer_closed(int a, fd_guard* b) {
  // A recv already waiting when the peer goes away...
  char buf[8];
  auto pending = weft::spawn(weft::ops::recv(a, buf, sizeof buf));
  co_await weft::sleep_for(20ms);
  CHECK_FALSE(pending.is_finished());
  b->reset();
  CO_CHECK_EQ(pending, 0);
  // ...and one started afterwards: end of stream, not an error.
  CO_CHECK_EQ(weft::ops::recv(a, buf, sizeof buf), 0);
  // A pipe too.
  auto p = make_pipe();
  auto reader = weft::spawn(weft::ops::read(p.a.get(), buf, sizeof buf));
  co_await weft::sleep_for(20ms);
  p.b.reset();
  CO_CHECK_EQ(reader, 0);
}

std::atomic<int> sigpipes{0};
extern "C" void count_sigpipe(int) { sigpipes.fetch_add(1); }

task<void> send_to_closed(int a, fd_guard* b, int tcp_client, fd_guard* tcp_server) {
  b->reset();
  int r = co_await weft::ops::send(a, "x", 1);
  CHECK((r == -EPIPE || r == -ECONNRESET));
  msghdr msg{};
  iovec iov{const_cast<char*>("y"), 1};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  r = co_await weft::ops::sendmsg(a, &msg);
  CHECK((r == -EPIPE || r == -ECONNRESET));

  // TCP: the first send after the peer closed may still succeed; a later
  // one fails once the RST is back.
  tcp_server->reset();
  int fails = 0;
  for (int i = 0; i < 50 && fails == 0; ++i) {
    r = co_await weft::ops::send(tcp_client, "z", 1);
    if (r < 0) {
      CHECK((r == -EPIPE || r == -ECONNRESET));
      ++fails;
    }
    co_await weft::sleep_for(2ms);
  }
  CHECK(fails == 1);
}
}  // namespace

TEST_CASE("driver: recv on a socket whose peer closed returns 0", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  rt->block_on(recv_after_peer_closed(sp.a.get(), &sp.b));
}

TEST_CASE("driver: send to a closed peer fails with EPIPE or ECONNRESET, without SIGPIPE", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  sockaddr_in addr{};
  fd_guard l = make_bound(addr, 4);
  fd_guard client = make_tcp_socket();
  int rc = ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  REQUIRE((rc == 0 || errno == EINPROGRESS));
  pollfd pfd{client.get(), POLLOUT, 0};
  REQUIRE(::poll(&pfd, 1, 5000) == 1);
  int s = -1;
  for (int i = 0; i < 500 && s < 0; ++i) {
    s = ::accept4(l.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s < 0) ::usleep(1000);
  }
  REQUIRE(s >= 0);
  fd_guard server(s);

  struct sigaction sa {
  }, old{};
  sa.sa_handler = &count_sigpipe;
  sigemptyset(&sa.sa_mask);
  REQUIRE(::sigaction(SIGPIPE, &sa, &old) == 0);
  sigpipes = 0;
  rt->block_on(send_to_closed(sp.a.get(), &sp.b, client.get(), &server));
  CHECK(sigpipes.load() == 0);
  ::sigaction(SIGPIPE, &old, nullptr);
}

// ---------------------------------------------------------------- sendmsg / recvmsg, close

namespace {
task<void> msg_round_trip(int a, int b) {
  // Two iovecs out, three in, and a descriptor passed along (SCM_RIGHTS).
  auto p = make_pipe();
  char part1[] = "scatter-";
  char part2[] = "gather";
  iovec out[2] = {{part1, 8}, {part2, 6}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = out;
  msg.msg_iovlen = 2;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  const int passed = p.b.get();
  std::memcpy(CMSG_DATA(cm), &passed, sizeof passed);
  CO_CHECK_EQ(weft::ops::sendmsg(a, &msg), 14);

  char in1[4] = {}, in2[5] = {}, in3[16] = {};
  iovec in[3] = {{in1, 4}, {in2, 5}, {in3, 16}};
  alignas(cmsghdr) char rcontrol[CMSG_SPACE(sizeof(int))] = {};
  msghdr rmsg{};
  rmsg.msg_iov = in;
  rmsg.msg_iovlen = 3;
  rmsg.msg_control = rcontrol;
  rmsg.msg_controllen = sizeof rcontrol;
  CO_CHECK_EQ(weft::ops::recvmsg(b, &rmsg, MSG_CMSG_CLOEXEC), 14);
  CHECK(std::string(in1, 4) + std::string(in2, 5) + std::string(in3, 5) == "scatter-gather");
  cmsghdr* rc = CMSG_FIRSTHDR(&rmsg);
  REQUIRE(rc != nullptr);
  CHECK(rc->cmsg_level == SOL_SOCKET);
  CHECK(rc->cmsg_type == SCM_RIGHTS);
  int got = -1;
  std::memcpy(&got, CMSG_DATA(rc), sizeof got);
  REQUIRE(got >= 0);
  fd_guard received(got);
  CHECK(got != passed);
  // The received descriptor is the pipe's write end: what goes in comes out.
  CHECK(::write(got, "fd!", 3) == 3);
  char buf[3];
  CO_CHECK_EQ(weft::ops::read(p.a.get(), buf, 3), 3);
  CHECK(std::string(buf, 3) == "fd!");

  // A recvmsg that has to wait.
  char late[8] = {};
  iovec liov{late, sizeof late};
  msghdr lmsg{};
  lmsg.msg_iov = &liov;
  lmsg.msg_iovlen = 1;
  auto waiting = weft::spawn(weft::ops::recvmsg(b, &lmsg));
  co_await weft::sleep_for(20ms);
  CHECK_FALSE(waiting.is_finished());
  CO_CHECK_EQ(weft::ops::send(a, "late", 4), 4);
  CO_CHECK_EQ(waiting, 4);
  CHECK(std::string(late, 4) == "late");
}

task<void> close_through_driver(int fd) {
  CO_CHECK_EQ(weft::ops::close(fd), 0);
  errno = 0;
  CHECK(::fcntl(fd, F_GETFD) == -1);
  CHECK(errno == EBADF);
  CO_CHECK_EQ(weft::ops::close(fd), -EBADF);
}
}  // namespace

TEST_CASE("driver: sendmsg and recvmsg round trip, with SCM_RIGHTS", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  rt->block_on(msg_round_trip(sp.a.get(), sp.b.get()));
}

TEST_CASE("driver: ops::close closes the descriptor", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto p = make_pipe();
  rt->block_on(close_through_driver(p.b.release()));
}

// ---------------------------------------------------------------- cancellation

namespace {
task<void> cancel_every_kind(int sa, int sb, int pipe_r, int lfd, sockaddr_in backlog_full) {
  char buf[64];
  CO_CHECK_EQ(spawn_block_cancel(weft::ops::recv(sa, buf, sizeof buf), "recv"), true);
  CO_CHECK_EQ(spawn_block_cancel(weft::ops::read(pipe_r, buf, sizeof buf), "read on a pipe"), true);
  CO_CHECK_EQ(spawn_block_cancel(weft::ops::accept(lfd), "accept"), true);
  CO_CHECK_EQ(spawn_block_cancel(weft::ops::poll(sb, POLLIN), "poll"), true);
  CO_CHECK_EQ(spawn_block_cancel(weft::ops::timeout(10s), "timeout"), true);
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  CO_CHECK_EQ(spawn_block_cancel(weft::ops::recvmsg(sa, &msg), "recvmsg"), true);

  // A send into a full socket buffer.
  std::vector<char> junk(1 << 20, 'j');
  for (;;) {
    ssize_t n = ::send(sb, junk.data(), junk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) break;
  }
  CO_CHECK_EQ(spawn_block_cancel(weft::ops::send(sb, junk.data(), junk.size()), "send"), true);

  // A connect that cannot complete: the listener's accept queue is full, so
  // its SYNs are dropped.
  fd_guard c = make_tcp_socket();
  co_await spawn_block_cancel(connect_to(c.get(), backlog_full), "connect");

  // The sockets are still usable after all those cancellations.
  for (;;) {
    ssize_t n = ::recv(sa, junk.data(), junk.size(), MSG_DONTWAIT);
    if (n <= 0) break;
  }
  CO_CHECK_EQ(weft::ops::send(sb, "ok", 2), 2);
  CO_CHECK_EQ(weft::ops::recv(sa, buf, sizeof buf), 2);
}
}  // namespace

TEST_CASE("driver: every kind of pending operation can be cancelled", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  auto p = make_pipe();
  sockaddr_in laddr{}, faddr{};
  fd_guard l = make_bound(laddr, 16);
  // A listener whose accept queue we fill (backlog 0: one pending connection).
  fd_guard full = make_bound(faddr, 0);
  std::vector<fd_guard> fillers;
  for (int i = 0; i < 2; ++i) {
    fd_guard f = make_tcp_socket();
    int rc = ::connect(f.get(), reinterpret_cast<sockaddr*>(&faddr), sizeof faddr);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd pfd{f.get(), POLLOUT, 0};
      ::poll(&pfd, 1, 200);
    }
    fillers.push_back(std::move(f));
  }
  rt->block_on(cancel_every_kind(sp.a.get(), sp.b.get(), p.a.get(), l.get(), faddr));
}

namespace {
task<void> cancel_fd_pending_recv(int a, int b) {
  char buf[8];
  char buf2[8];
  auto r1 = weft::spawn(weft::ops::recv(a, buf, sizeof buf));
  auto r2 = weft::spawn(weft::ops::poll(a, POLLIN));
  co_await weft::sleep_for(20ms);
  CHECK_FALSE(r1.is_finished());
  CHECK_FALSE(r2.is_finished());
  weft::ops::cancel(a);
  CO_CHECK_EQ(r1, -ECANCELED);  // not an exception: nobody asked the task to stop
  CO_CHECK_EQ(r2, -ECANCELED);
  // The socket still works, and the data sent later is not lost.
  CO_CHECK_EQ(weft::ops::send(b, "after", 5), 5);
  CO_CHECK_EQ(weft::ops::recv(a, buf2, sizeof buf2), 5);
  CHECK(std::string(buf2, 5) == "after");
  // ops::cancel on a descriptor with nothing pending does nothing.
  weft::ops::cancel(b);
  CO_CHECK_EQ(weft::ops::send(a, "x", 1), 1);
  CO_CHECK_EQ(weft::ops::recv(b, buf2, 1), 1);
}
}  // namespace

TEST_CASE("driver: ops::cancel(fd) makes a pending recv return -ECANCELED", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  rt->block_on(cancel_fd_pending_recv(sp.a.get(), sp.b.get()));
}

namespace {
task<void> cancelled_recv_loses_nothing(int a, int b) {
  char buf[16] = {};
  auto h = weft::spawn(weft::ops::recv(a, buf, sizeof buf));
  co_await weft::sleep_for(20ms);
  h.cancel();
  CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
  CO_CHECK_EQ(weft::ops::send(b, "data", 4), 4);
  char buf2[16] = {};
  CO_CHECK_EQ(weft::ops::recv(a, buf2, sizeof buf2), 4);
  CHECK(std::string(buf2, 4) == "data");
  CHECK(std::string(buf, 4) != "data");  // the cancelled recv did not take it
}

// The cancel races the data: either the recv returns the bytes, or it is
// cancelled and the bytes are read later. Over many rounds, nothing is lost.
task<void> recv_racing_cancel(int a, int b) {
  constexpr int rounds = 200;
  std::size_t sent = 0, received = 0, cancelled = 0, completed = 0;
  char buf[64];
  for (int i = 0; i < rounds; ++i) {
    auto h = weft::spawn(weft::ops::recv(a, buf, sizeof buf));
    if (i % 3 == 0) co_await weft::sleep_for(1ms);
    else co_await weft::yield_now();
    const char byte = static_cast<char>(i);
    if (i % 2) {
      CHECK(::send(b, &byte, 1, MSG_NOSIGNAL) == 1);
      h.cancel();
    } else {
      h.cancel();
      CHECK(::send(b, &byte, 1, MSG_NOSIGNAL) == 1);
    }
    ++sent;
    try {
      int n = co_await h;
      REQUIRE(n > 0);
      received += static_cast<std::size_t>(n);
      ++completed;
    } catch (const weft::operation_cancelled&) {
      ++cancelled;
    }
    // Drain what the recv did not take.
    for (;;) {
      ssize_t n = ::recv(a, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      received += static_cast<std::size_t>(n);
    }
  }
  INFO(completed << " recvs completed, " << cancelled << " cancelled");
  CHECK(received == sent);
}
}  // namespace

TEST_CASE("driver: a cancelled recv does not lose data sent afterwards", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  rt->block_on(cancelled_recv_loses_nothing(sp.a.get(), sp.b.get()));
}

TEST_CASE("driver: a recv racing its cancellation loses no data", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  auto sp = make_socketpair();
  rt->block_on(recv_racing_cancel(sp.a.get(), sp.b.get()));
}

// ---------------------------------------------------------------- errors

namespace {
task<void> bad_fds() {
  char buf[8] = {};
  for (int bad : {-1, 1'000'000}) {
    CO_CHECK_EQ(weft::ops::recv(bad, buf, sizeof buf), -EBADF);
    CO_CHECK_EQ(weft::ops::send(bad, buf, sizeof buf), -EBADF);
    CO_CHECK_EQ(weft::ops::read(bad, buf, sizeof buf), -EBADF);
    CO_CHECK_EQ(weft::ops::write(bad, buf, sizeof buf), -EBADF);
    CO_CHECK_EQ(weft::ops::read(bad, buf, sizeof buf, 0), -EBADF);
    CO_CHECK_EQ(weft::ops::write(bad, buf, sizeof buf, 0), -EBADF);
    CO_CHECK_EQ(weft::ops::accept(bad), -EBADF);
    CO_CHECK_EQ(weft::ops::close(bad), -EBADF);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    CO_CHECK_EQ(connect_to(bad, addr), -EBADF);
    msghdr msg{};
    CO_CHECK_EQ(weft::ops::recvmsg(bad, &msg), -EBADF);
  }
  // Not a socket.
  auto p = make_pipe();
  CO_CHECK_EQ(weft::ops::recv(p.a.get(), buf, sizeof buf), -ENOTSOCK);
}
}  // namespace

TEST_CASE("driver: a bad descriptor gives -EBADF", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  rt->block_on(bad_fds());
}

// ---------------------------------------------------------------- many at once

namespace {
task<int> pinger(int fd, int rounds) {
  std::uint32_t v = 0;
  for (int i = 0; i < rounds; ++i) {
    std::uint32_t out = v + 1;
    if (co_await send_all(fd, reinterpret_cast<const char*>(&out), sizeof out, sizeof out) != sizeof out) co_return -1;
    std::uint32_t in = 0;
    if (co_await recv_all(fd, reinterpret_cast<char*>(&in), sizeof in, sizeof in) != sizeof in) co_return -1;
    if (in != out + 1) co_return -1;
    v = in;
  }
  co_return static_cast<int>(v);
}

task<int> ponger(int fd, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    std::uint32_t in = 0;
    if (co_await recv_all(fd, reinterpret_cast<char*>(&in), sizeof in, sizeof in) != sizeof in) co_return -1;
    std::uint32_t out = in + 1;
    if (co_await send_all(fd, reinterpret_cast<const char*>(&out), sizeof out, sizeof out) != sizeof out) co_return -1;
  }
  co_return 0;
}

task<void> many_ping_pongs(std::vector<fd_pair>* pairs, int rounds) {
  std::vector<weft::join_handle<int>> pings, pongs;
  for (auto& p : *pairs) {
    pongs.push_back(weft::spawn(ponger(p.b.get(), rounds)));
    pings.push_back(weft::spawn(pinger(p.a.get(), rounds)));
  }
  int bad = 0;
  for (auto& h : pings)
    if (co_await h != 2 * rounds) ++bad;
  for (auto& h : pongs)
    if (co_await h != 0) ++bad;
  CHECK(bad == 0);
}
}  // namespace

TEST_CASE("driver: 200 socketpairs ping-ponging at once on 2 workers", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  std::vector<fd_pair> pairs;
  for (int i = 0; i < 200; ++i) pairs.push_back(make_socketpair());
  rt->block_on(many_ping_pongs(&pairs, 50));
  auto m = rt->metrics();
  CHECK(m.live_tasks == 0);
}

// ---------------------------------------------------------------- shutdown

namespace {
struct frame_probe {
  std::atomic<int>* destroyed;
  ~frame_probe() { destroyed->fetch_add(1); }
};

task<void> blocked_forever(task<int> op, std::atomic<int>* destroyed, std::atomic<int>* finished) {
  frame_probe probe{destroyed};
  (void)co_await std::move(op);
  finished->fetch_add(1);
}

task<void> sleeper_forever(std::atomic<int>* destroyed, std::atomic<int>* finished) {
  frame_probe probe{destroyed};
  co_await weft::sleep_for(std::chrono::hours(1));
  finished->fetch_add(1);
}

struct shutdown_fds {
  fd_pair sp = make_socketpair();
  fd_pair pipe = make_pipe();
  sockaddr_in addr{};
  fd_guard listener = make_bound(addr, 4);
  char buf[64] = {};
  char buf2[64] = {};
};

task<void> leave_blocked(shutdown_fds* f, std::atomic<int>* destroyed, std::atomic<int>* finished, int* count) {
  std::vector<task<int>> ops;
  ops.push_back(weft::ops::recv(f->sp.a.get(), f->buf, sizeof f->buf));
  ops.push_back(weft::ops::read(f->pipe.a.get(), f->buf2, sizeof f->buf2));
  ops.push_back(weft::ops::accept(f->listener.get()));
  ops.push_back(weft::ops::poll(f->sp.b.get(), POLLIN));
  ops.push_back(weft::ops::timeout(std::chrono::hours(1)));
  *count = static_cast<int>(ops.size()) + 1;
  for (auto& op : ops) weft::spawn(blocked_forever(std::move(op), destroyed, finished)).detach();
  weft::spawn(sleeper_forever(destroyed, finished)).detach();
  co_await weft::sleep_for(30ms);  // everyone is blocked now
}
}  // namespace

TEST_CASE("driver: destroying the runtime with operations pending returns promptly", "[driver]") {
  WEFT_ON_EACH_BACKEND(rt, 2);
  shutdown_fds fds;
  std::atomic<int> destroyed{0}, finished{0};
  int count = 0;
  rt->block_on(leave_blocked(&fds, &destroyed, &finished, &count));
  // One more, whose handle outlives the runtime.
  char kept_buf[8];
  auto kept = rt->spawn(weft::ops::recv(fds.sp.a.get(), kept_buf, sizeof kept_buf));
  CHECK(destroyed.load() == 0);
  const auto t0 = clk::now();
  rt.reset();
  const auto took = clk::now() - t0;
  INFO("shutdown took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 5s);
  CHECK(destroyed.load() == count);  // every frame was destroyed
  CHECK(finished.load() == 0);       // none of them ran on
  CHECK(kept.is_finished());         // its handle sees it ended (cancelled)
  // The descriptors are untouched and still work after the runtime is gone.
  CHECK(::send(fds.sp.b.get(), "z", 1, MSG_NOSIGNAL) == 1);
  char c = 0;
  CHECK(::recv(fds.sp.a.get(), &c, 1, MSG_DONTWAIT) == 1);
  CHECK(c == 'z');
}
