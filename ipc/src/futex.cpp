#include "futex.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <new>

#include "weft/ipc/detail/shared_block.hpp"
#include "weft/runtime/detail/stop_scope.hpp"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace weft::ipc::detail {

namespace {

// The pid cache lives in a page the kernel zeroes in the child of any fork
// (MADV_WIPEONFORK), whoever forks: glibc's fork(), _Fork(), a raw clone.
// A zero means "look it up again". Where the kernel lacks WIPEONFORK, a
// pthread_atfork handler clears it instead (glibc's fork() only).
std::atomic<pid_t>* make_pid_slot() noexcept {
  void* p = ::mmap(nullptr, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static std::atomic<pid_t> fallback{0};
  std::atomic<pid_t>* slot = &fallback;
  if (p != MAP_FAILED) {
#ifdef MADV_WIPEONFORK
    if (::madvise(p, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), MADV_WIPEONFORK) == 0) {
      return ::new (p) std::atomic<pid_t>{0};
    }
#endif
    ::munmap(p, static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));
  }
  ::pthread_atfork(nullptr, nullptr, [] { fallback.store(0, std::memory_order_relaxed); });
  return slot;
}

std::atomic<pid_t>& pid_slot() noexcept {
  static std::atomic<pid_t>* slot = make_pid_slot();
  return *slot;
}

// Read from /proc where pidfds are not available: 'Z' (zombie) and 'X'
// (dead) mean the process has exited but not been reaped yet.
bool proc_says_exited(pid_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');  // the command name may hold spaces and parentheses
  if (!paren || paren[1] != ' ') return false;
  return paren[2] == 'Z' || paren[2] == 'X';
}

}  // namespace

pid_t current_pid() noexcept {
  std::atomic<pid_t>& slot = pid_slot();
  pid_t p = slot.load(std::memory_order_relaxed);
  if (p == 0) {
    p = ::getpid();
    slot.store(p, std::memory_order_relaxed);
  }
  return p;
}

void futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout) noexcept {
  if (timeout <= timeout.zero()) return;
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(s.count()), static_cast<long>((timeout - s).count())};
  // FUTEX_WAIT, not FUTEX_WAIT_PRIVATE: the waker may be another process.
  // The relative timeout is measured on CLOCK_MONOTONIC.
  ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

bool spin_while_equal(const std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  for (int i = 0; i < 128; ++i) {
    if (word.load(std::memory_order_relaxed) != expected) return true;
    weft::detail::cpu_relax();
  }
  return word.load(std::memory_order_relaxed) != expected;
}

void futex_wake(const std::atomic<std::uint32_t>& word, int n) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(&word), FUTEX_WAKE, n, nullptr, nullptr, 0);
}

bool process_alive(pid_t pid) noexcept {
  if (pid <= 0) return false;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) {
    // A pidfd polls readable once the process has exited, reaped or not.
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 0);
    ::close(fd);
    return r == 0;
  }
  if (errno == ESRCH) return false;
  // No pidfds (old kernel, seccomp) or no descriptor to spare.
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  return !proc_says_exited(pid);
}

}  // namespace weft::ipc::detail
