// The fork server: a process forked from the program while it still has a
// single thread (by the first runtime's constructor, through a start hook,
// or by the first process pool), whose only job is to fork worker
// processes on request.
//
// Why: forking the program later, once runtime threads run, would copy
// locks those threads hold (malloc's among them) into a child that can
// never release them, and would share the parent's io_uring rings with the
// child. The fork server is a clean single-threaded copy, so its children
// are too, and a crashed worker can be replaced at any time.
//
// Protocol: a SOCK_SEQPACKET socket pair. A request carries a worker's
// memfd and its pool's eventfd (SCM_RIGHTS); the reply carries the new
// worker's pid and a pidfd for it, which the parent watches through its
// driver. The fork server reaps its children and writes each one's wait
// status into the control page of its mapping (the parent learns of the
// death from the pidfd and reads the status there). The socket is also the
// lifeline: when the parent dies it reads end-of-file, kills every worker
// and exits; workers die with the fork server (PR_SET_PDEATHSIG, reliable
// because the fork server has a single thread).
#pragma once

#include <sys/types.h>

#include <mutex>

namespace weft::ipc::detail {

struct spawned_worker {
  pid_t pid;
  int pidfd;  // owned by the caller
};

class fork_server {
 public:
  /// The running fork server, started now if need be (with a warning on
  /// stderr if the program already runs other threads).
  static fork_server& instance();
  /// The start hook: starts it if not running; never throws (a failure is
  /// reported by the next instance()).
  static void start_early() noexcept;

  /// Forks a worker that maps `memfd` (a channel) and signals `eventfd`.
  /// Blocks for the round trip (a fork: well under a millisecond).
  /// Throws pool_error if the fork server is gone or the fork failed.
  spawned_worker spawn(int memfd, int eventfd);

 private:
  fork_server() = default;
  void start();

  std::mutex mu_;
  int sock_ = -1;
  pid_t owner_ = 0;  // the process that talks to this fork server
};

/// The worker process's life: maps its channel and serves calls until told
/// to stop. Never returns.
[[noreturn]] void worker_main(int memfd, int eventfd, pid_t fork_server_pid);

}  // namespace weft::ipc::detail
