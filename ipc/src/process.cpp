// weft::ipc::process: one call in a dedicated worker.
//
// A process is a worker of the process backend (worker_main) given one
// call and the one_shot flag: it serves request 0, publishes the result in
// result slot 0 and exits (0, or 1 if the function threw). The parent
// writes the request before the fork, so there is nothing to wake and no
// reader task: join() waits for the pidfd, then for the fork server to
// record the wait status in the control page, and result() reads slot 0 —
// checked like every result a worker writes (see check_result in
// process_pool.cpp), since the process may have scribbled over it.
#include "weft/ipc/process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "channel.hpp"
#include "fork_server.hpp"
#include "futex.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/time.hpp"
#include "worker_hooks.hpp"

namespace weft::ipc::detail {

struct process_state {
  channel_view ch;
  std::size_t map_size = 0;
  pid_t pid = -1;
  int pidfd = -1;
  bool daemon = false;
  std::shared_ptr<const void> args;  // the caller's arguments, until the process decoded its copy
  std::atomic<bool> ended{false};
  std::atomic<int> status{0};  // the wait status, once ended

  process_state() = default;
  process_state(const process_state&) = delete;
  process_state& operator=(const process_state&) = delete;
  ~process_state() {
    if (ch.base) ::munmap(ch.base, map_size);
    if (pidfd >= 0) ::close(pidfd);
  }
};

namespace {

int sys_pidfd_send_signal(int pidfd, int sig) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

/// Python's exitcode for a wait status.
int exitcode_from(int status) noexcept {
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return status;
}

/// The wait status, if the fork server recorded it already.
bool recorded(process_state& s) noexcept {
  if (s.ended.load(std::memory_order_acquire)) return true;
  if (!s.ch.ctl().exited.load(std::memory_order_acquire)) return false;
  s.status.store(s.ch.ctl().exit_status.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s.ended.store(true, std::memory_order_release);
  return true;
}

const char* const fork_server_gone =
    "weft::ipc::process::join: the process ended but its exit status never arrived (the fork server is gone)";

/// The process ended (its pidfd said so): blocks the moment the fork
/// server takes to reap it and record the status (up to 200 ms).
void wait_recorded(process_state& s) {
  for (int i = 0; i < 2000 && !recorded(s); ++i) std::this_thread::sleep_for(std::chrono::microseconds(100));
  if (!recorded(s)) throw pool_error(fork_server_gone);
}

// ---------------------------------------------------------------- exit

/// Non-daemon processes, waited for at exit. Entries whose process ended
/// are dropped as new ones start.
struct registry {
  std::mutex mu;
  std::vector<std::shared_ptr<process_state>> live;
  pid_t owner = 0;
};

registry& the_registry() {
  static registry* r = new registry;  // never destroyed: used by the at-exit handler
  return *r;
}

void join_at_exit() {
  registry& r = the_registry();
  std::vector<std::shared_ptr<process_state>> waiting;
  {
    std::lock_guard lock(r.mu);
    if (r.owner != ::getpid()) return;  // a plain fork() of the program inherited the handler
    for (auto& s : r.live)
      if (!recorded(*s)) waiting.push_back(s);
    r.live.clear();
  }
  if (waiting.empty()) return;
  std::string pids;
  for (auto& s : waiting) pids += (pids.empty() ? "" : ", ") + std::to_string(s->pid);
  std::fprintf(stderr,
               "weft: waiting for %zu non-daemon process%s to end before exiting (pid %s); start them with "
               "{.daemon = true} to have them killed at exit instead\n",
               waiting.size(), waiting.size() == 1 ? "" : "es", pids.c_str());
  for (auto& s : waiting) {
    ::pollfd p{s->pidfd, POLLIN, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
  }
}

void remember(const std::shared_ptr<process_state>& s) {
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  if (r.owner != ::getpid()) {
    r.live.clear();
    if (r.owner == 0) std::atexit(join_at_exit);
    r.owner = ::getpid();
  }
  std::erase_if(r.live, [](const std::shared_ptr<process_state>& p) { return recorded(*p); });
  r.live.push_back(s);
}

}  // namespace

std::shared_ptr<process_state> start_process(const process_options& options, const process_call& call) {
  std::uint64_t arena = std::max<std::uint64_t>(options.arena_size, slot_capacity);
  arena = (arena + page_size - 1) / page_size * page_size;
  if (call.size > arena)
    throw serialization_error("weft::ipc::process::start: the arguments are " + std::to_string(call.size) +
                              " bytes, more than the arena of " + std::to_string(arena) +
                              " bytes (process_options::arena_size)");
  auto s = std::make_shared<process_state>();
  s->daemon = options.daemon;
  layout lay{arena};
  int memfd = ::memfd_create("weft-process", MFD_CLOEXEC);
  if (memfd < 0) throw std::system_error(errno, std::system_category(), "weft::ipc::process::start: memfd_create");
  struct fd_closer {
    int fd;
    ~fd_closer() {
      if (fd >= 0) ::close(fd);
    }
  } memfd_guard{memfd};
  if (::ftruncate(memfd, static_cast<off_t>(lay.total())) < 0)
    throw std::system_error(errno, std::system_category(), "weft::ipc::process::start: sizing its shared memory");
  void* base = ::mmap(nullptr, lay.total(), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (base == MAP_FAILED)
    throw std::system_error(errno, std::system_category(), "weft::ipc::process::start: mapping its shared memory");
  s->ch = channel_view{static_cast<std::byte*>(base), arena};
  s->map_size = lay.total();
  control& ctl = s->ch.ctl();
  ctl.arena_size = arena;
  ctl.one_shot = 1;
  copy_start_hooks(ctl.at_start);

  // The call, in request slot 0, before the process exists.
  slot& req = s->ch.request(0);
  std::byte* dst = req.data;
  req.h.arena_offset = inline_payload;
  req.h.arena_end = 0;
  if (call.size > slot_capacity) {
    dst = s->ch.request_arena();
    req.h.arena_offset = 0;
    req.h.arena_end = call.size;
  }
  call.encode(call.args.get(), dst, call.size);
  req.h.kind = static_cast<std::uint32_t>(request_kind::call);
  req.h.invoker = call.invoker;
  req.h.fn = call.fn;
  req.h.size = call.size;
  req.h.cancel.store(0, std::memory_order_relaxed);
  req.h.seq.store(1, std::memory_order_release);

  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);  // never written: nobody sleeps on it
  if (efd < 0) throw std::system_error(errno, std::system_category(), "weft::ipc::process::start: eventfd");
  fd_closer efd_guard{efd};
  spawned_worker w = fork_server::instance().spawn(memfd, efd);
  s->pid = w.pid;
  s->pidfd = w.pidfd;
  if (!s->daemon) remember(s);
  // Handles among the arguments (a pipe end, a queue) must stay alive
  // until the process holds its own reference: wait for it to decode them,
  // or to die first. A process still busy in start hooks after a while
  // has them kept in its state instead (until the last handle goes).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!ctl.args_taken.load(std::memory_order_acquire)) {
    ::pollfd p{s->pidfd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) break;  // it died
    if (std::chrono::steady_clock::now() >= give_up) {
      s->args = call.args;
      break;
    }
    futex_wait(ctl.args_taken, 0, std::chrono::milliseconds(1));
  }
  return s;
}

pid_t pid_of(const process_state& s) noexcept { return s.pid; }
bool daemon_of(const process_state& s) noexcept { return s.daemon; }

bool alive(process_state& s) {
  if (recorded(s)) return false;
  ::pollfd p{s.pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

std::optional<int> exitcode_of(process_state& s) {
  if (recorded(s)) return exitcode_from(s.status.load(std::memory_order_relaxed));
  if (alive(s)) return std::nullopt;
  wait_recorded(s);
  return exitcode_from(s.status.load(std::memory_order_relaxed));
}

void signal_process(process_state& s, int sig, const char* what) {
  if (recorded(s)) return;
  if (sys_pidfd_send_signal(s.pidfd, sig) < 0 && errno != ESRCH)
    throw std::system_error(errno, std::system_category(),
                            std::string("weft::ipc::process::") + what + " (pid " + std::to_string(s.pid) + ")");
}

task<int> join_process(std::shared_ptr<process_state> s) {
  if (!recorded(*s)) {
    for (;;) {
      int r = co_await weft::ops::poll(s->pidfd, POLLIN);
      if (r != -EINTR) break;
    }
    auto pause = std::chrono::microseconds(50);
    for (int i = 0; i < 200 && !recorded(*s); ++i) {
      co_await weft::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
    }
    if (!recorded(*s)) throw pool_error(fork_server_gone);
  }
  co_return exitcode_from(s->status.load(std::memory_order_relaxed));
}

task<std::optional<int>> join_process_for(std::shared_ptr<process_state> s, std::chrono::nanoseconds timeout) {
  try {
    co_return co_await weft::with_timeout(timeout, join_process(s));
  } catch (const weft::timeout_error&) {
  }
  co_return std::nullopt;
}

int blocking_join_process(process_state& s, std::chrono::nanoseconds timeout, bool& ended) {
  weft::detail::check_may_block("weft::ipc::process::blocking_join");
  ended = false;
  if (!recorded(s)) {
    const auto deadline = timeout == std::chrono::nanoseconds::max() ? std::chrono::steady_clock::time_point::max()
                                                                     : std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int ms = -1;
      if (deadline != std::chrono::steady_clock::time_point::max()) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1 << 30));
      }
      ::pollfd p{s.pidfd, POLLIN, 0};
      int r = ::poll(&p, 1, ms);
      if (r > 0) break;
      if (r == 0) return 0;  // still running
      if (errno != EINTR)
        throw std::system_error(errno, std::system_category(), "weft::ipc::process::blocking_join: poll");
    }
    wait_recorded(s);
  }
  ended = true;
  return exitcode_from(s.status.load(std::memory_order_relaxed));
}

void read_process_result(process_state& s, void (*decode)(void* out, byte_reader& in), void* out) {
  slot& res = s.ch.result(0);
  const std::uint64_t seq = res.h.seq.load(std::memory_order_acquire);
  const int status = s.status.load(std::memory_order_relaxed);
  if (seq == 0) throw worker_crashed(s.pid, status);  // it died before returning
  auto field = [](auto& f) { return std::atomic_ref(f).load(std::memory_order_relaxed); };
  const std::uint32_t kind = field(res.h.kind);
  const std::uint64_t size = field(res.h.size);
  const std::uint64_t offset = field(res.h.arena_offset);
  const std::uint64_t cap = s.ch.arena_size;
  auto bad = [&](const std::string& what) { return protocol_error(s.pid, "its result: " + what); };
  if (seq != 1) throw bad("sequence number " + std::to_string(seq) + ", expected 1");
  const std::byte* payload = res.data;
  if (offset == inline_payload) {
    if (size > slot_capacity) throw bad("inline size " + std::to_string(size) + " larger than a slot");
  } else {
    if (offset >= cap || size > cap - offset)
      throw bad("arena offset " + std::to_string(offset) + " + size " + std::to_string(size) + " outside the " +
                std::to_string(cap) + "-byte arena");
    payload = s.ch.result_arena() + offset;
  }
  byte_reader in(payload, size);
  switch (static_cast<result_kind>(kind)) {
    case result_kind::ok:
      if (decode) decode(out, in);
      return;
    case result_kind::error: {
      if (size == 0) throw remote_error("unknown exception", "(details lost)");
      auto type = ipc::decode<std::string>(in);
      auto what = ipc::decode<std::string>(in);
      if (type == "weft::ipc::serialization_error") throw serialization_error(what);
      throw remote_error(std::move(type), std::move(what));
    }
    default: throw bad("unknown result kind " + std::to_string(kind));
  }
}

void throw_empty_process() {
  throw std::logic_error("weft::ipc::process: this handle names no process (default-constructed or moved from)");
}

}  // namespace weft::ipc::detail
