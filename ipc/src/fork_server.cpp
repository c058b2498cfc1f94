#include "fork_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "channel.hpp"
#include "shared_heap.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/runtime/detail/start_hooks.hpp"

namespace weft::ipc::detail {

namespace {

struct spawn_request {
  std::uint32_t magic;
};
struct spawn_reply {
  std::int32_t pid;
  std::int32_t error;  // errno of a failed fork, or 0
};
constexpr std::uint32_t request_magic = 0x77656674;  // "weft"

int sys_pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int sys_pidfd_send_signal(int pidfd, int sig) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

/// Threads of this process, from /proc/self/status.
int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "Threads:") {
      int n = 0;
      status >> n;
      return n;
    }
    status.ignore(4096, '\n');
  }
  return 1;
}

/// Sends `data` with up to two descriptors.
bool send_with_fds(int sock, const void* data, std::size_t len, const int* fds, int nfds) noexcept {
  ::iovec iov{const_cast<void*>(data), len};
  alignas(::cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  ::msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(static_cast<std::size_t>(nfds) * sizeof(int));
    ::cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(static_cast<std::size_t>(nfds) * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds, static_cast<std::size_t>(nfds) * sizeof(int));
  }
  ssize_t n;
  do n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(len);
}

/// Receives a message and up to two descriptors (close-on-exec); the
/// length, 0 at end of file, -1 on error.
ssize_t recv_with_fds(int sock, void* data, std::size_t len, int* fds, int& nfds) noexcept {
  ::iovec iov{data, len};
  alignas(::cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  ::msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  nfds = 0;
  if (n <= 0) return n;
  for (::cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + static_cast<std::size_t>(i) * sizeof(int), sizeof fd);
        if (nfds < 2) fds[nfds++] = fd;
        else ::close(fd);
      }
    }
  }
  return n;
}

/// Every signal back to its default action and unblocked: the program's
/// handlers (a test framework's crash handler, say) must not run in a
/// worker. SIGINT is ignored: Ctrl-C is the parent's to handle, and the
/// workers die with it anyway.
void reset_signals(const ::sigset_t& keep_blocked) noexcept {
  struct ::sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  ::signal(SIGINT, SIG_IGN);
  ::sigprocmask(SIG_SETMASK, &keep_blocked, nullptr);
}

struct child {
  pid_t pid;
  int pidfd;
  control* ctl;  // the first page of its channel, for its exit status
};

/// Forks one worker for a request; replies to the parent.
void serve_spawn(int sock, int sigfd, const int* fds, int nfds, std::vector<child>& children) noexcept {
  spawn_reply reply{-1, 0};
  if (nfds != 2) {
    reply.error = EPROTO;
    for (int i = 0; i < nfds; ++i) ::close(fds[i]);
    send_with_fds(sock, &reply, sizeof reply, nullptr, 0);
    return;
  }
  int memfd = fds[0], eventfd = fds[1];
  void* page = ::mmap(nullptr, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  pid_t server = ::getpid();
  pid_t pid = page == MAP_FAILED ? -1 : ::fork();
  if (pid == 0) {
    ::close(sock);
    ::close(sigfd);
    ::munmap(page, page_size);
    worker_main(memfd, eventfd, server);
  }
  int err = page == MAP_FAILED || pid < 0 ? errno : 0;
  ::close(memfd);
  ::close(eventfd);
  if (err) {
    if (page != MAP_FAILED) ::munmap(page, page_size);
    reply.error = err;
    send_with_fds(sock, &reply, sizeof reply, nullptr, 0);
    return;
  }
  // Not reaped before this (we reap only in this loop), so the pid is ours.
  int pidfd = sys_pidfd_open(pid);
  reply.pid = pid;
  if (pidfd < 0) {
    reply.error = errno;
    ::kill(pid, SIGKILL);
    send_with_fds(sock, &reply, sizeof reply, nullptr, 0);
  } else {
    send_with_fds(sock, &reply, sizeof reply, &pidfd, 1);
  }
  children.push_back({pid, pidfd, static_cast<control*>(page)});
}

/// Reaps every finished worker and records its status for the parent.
void reap(std::vector<child>& children) noexcept {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (auto it = children.begin(); it != children.end(); ++it) {
      if (it->pid != pid) continue;
      it->ctl->exit_status.store(status, std::memory_order_relaxed);
      it->ctl->exited.store(1, std::memory_order_release);
      ::munmap(it->ctl, page_size);
      if (it->pidfd >= 0) ::close(it->pidfd);
      children.erase(it);
      break;
    }
  }
}

[[noreturn]] void server_main(int sock) noexcept {
  ::prctl(PR_SET_NAME, "weft-forkserver", 0, 0, 0);
  ::sigset_t chld;
  ::sigemptyset(&chld);
  ::sigaddset(&chld, SIGCHLD);
  reset_signals(chld);
  // Nothing of the parent's but stdio and the socket (moved to 3).
  if (sock != 3) {
    ::dup2(sock, 3);
    sock = 3;
  }
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  int sigfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  std::vector<child> children;
  for (;;) {
    ::pollfd pfd[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
    int r = ::poll(pfd, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfd[1].revents & POLLIN) {
      ::signalfd_siginfo info;
      while (::read(sigfd, &info, sizeof info) == sizeof info) {
      }
      reap(children);
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      spawn_request req{};
      int fds[2];
      int nfds = 0;
      ssize_t n = recv_with_fds(sock, &req, sizeof req, fds, nfds);
      if (n <= 0) break;  // the parent is gone: the lifeline
      if (n != sizeof req || req.magic != request_magic) {
        for (int i = 0; i < nfds; ++i) ::close(fds[i]);
        continue;
      }
      serve_spawn(sock, sigfd, fds, nfds, children);
    }
  }
  for (auto& c : children) sys_pidfd_send_signal(c.pidfd, SIGKILL);
  ::_exit(0);
}

struct start_hook_registrar {
  start_hook_registrar() { weft::detail::add_start_hook(&fork_server::start_early); }
} registrar;

}  // namespace

fork_server& fork_server::instance() {
  // Never destroyed: workers may outlive statics. A child forked from this
  // program (by the user, or a test harness) inherits our connection to
  // the fork server but must not use it: its workers would be the
  // parent's, and would not die with the child. It gets a fork server of
  // its own (the old object may hold a copy of a lock another thread held
  // at the fork, so it is left alone).
  static std::mutex swap_mu;
  static fork_server* server = nullptr;
  fork_server* current;
  {
    std::lock_guard lock(swap_mu);
    if (!server || server->owner_ != ::getpid()) {
      if (server && server->sock_ >= 0) ::close(server->sock_);
      server = new fork_server();
      server->owner_ = ::getpid();
    }
    current = server;
  }
  std::lock_guard lock(current->mu_);
  if (current->sock_ < 0) current->start();
  return *current;
}

void fork_server::start_early() noexcept {
  try {
    instance();
  } catch (...) {
    // Reported to whoever uses a pool (instance() tries again).
  }
}

void fork_server::start() {
  // The shared heap first, so that the fork server and every worker have
  // it at the same address. Without it, only shared objects fail.
  try {
    shared_heap::instance();
  } catch (...) {
  }
  int threads = thread_count();
  if (threads > 1)
    std::fprintf(stderr,
                 "weft: warning: starting the process pool's fork server while this program runs %d threads; "
                 "a fork copies only the calling thread, so a lock another thread holds (malloc's, say) stays "
                 "locked in every worker process and can hang it. Create the weft::runtime (or the first "
                 "process_pool) before starting threads.\n",
                 threads);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    throw std::system_error(errno, std::system_category(), "weft: fork server socketpair");
  std::fflush(nullptr);  // or buffered output would be written twice
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    throw std::system_error(err, std::system_category(), "weft: fork of the fork server");
  }
  if (pid == 0) {
    ::close(sv[0]);
    server_main(sv[1]);
  }
  ::close(sv[1]);
  sock_ = sv[0];
}

spawned_worker fork_server::spawn(int memfd, int eventfd) {
  std::lock_guard lock(mu_);
  if (sock_ < 0) start();
  spawn_request req{request_magic};
  int fds[2] = {memfd, eventfd};
  if (!send_with_fds(sock_, &req, sizeof req, fds, 2))
    throw pool_error(std::string("weft: the fork server is gone (") + std::strerror(errno) + ")");
  spawn_reply reply{};
  int got[2];
  int ngot = 0;
  ssize_t n = recv_with_fds(sock_, &reply, sizeof reply, got, ngot);
  if (n != sizeof reply) {
    for (int i = 0; i < ngot; ++i) ::close(got[i]);
    throw pool_error("weft: the fork server is gone (no reply)");
  }
  if (reply.error != 0 || ngot != 1) {
    for (int i = 0; i < ngot; ++i) ::close(got[i]);
    throw pool_error(std::string("weft: cannot start a worker process: ") +
                     std::strerror(reply.error ? reply.error : EPROTO));
  }
  return {reply.pid, got[0]};
}

}  // namespace weft::ipc::detail
