#include "stack_pool.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_STACK_POOL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_STACK_POOL_ASAN 1
#endif
#if WEFT_STACK_POOL_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace weft::detail {

namespace {

// ---------------------------------------------------------------- guard table
// Read by the signal handler without locks: a slot's `lo` is written last
// when recorded and cleared first when dropped.
constexpr std::uint32_t max_guards = 1u << 16;
struct guard_slot {
  std::atomic<std::uintptr_t> lo{0};
  std::atomic<std::size_t> stack_size{0};
};
guard_slot guards[max_guards];
std::atomic<std::uint32_t> guards_used{0};  // high-water mark

std::mutex& guard_mutex() {
  static std::mutex* m = new std::mutex;  // never destroyed: used by thread exits
  return *m;
}
std::vector<std::uint32_t>& free_guard_slots() {
  static auto* v = new std::vector<std::uint32_t>;
  return *v;
}

std::uint32_t record_guard(std::uintptr_t lo, std::size_t stack_size) noexcept {
  std::uint32_t i;
  {
    std::lock_guard lock(guard_mutex());
    auto& free = free_guard_slots();
    if (!free.empty()) {
      i = free.back();
      free.pop_back();
    } else {
      i = guards_used.load(std::memory_order_relaxed);
      if (i == max_guards) return 0;  // untracked: an overflow still crashes, without the message
      guards_used.store(i + 1, std::memory_order_release);
    }
  }
  guards[i].stack_size.store(stack_size, std::memory_order_relaxed);
  guards[i].lo.store(lo, std::memory_order_release);
  return i + 1;
}

void drop_guard(std::uint32_t slot) noexcept {
  if (!slot) return;
  guards[slot - 1].lo.store(0, std::memory_order_release);
  std::lock_guard lock(guard_mutex());
  try {
    free_guard_slots().push_back(slot - 1);
  } catch (...) {  // the slot stays unused
  }
}

// ---------------------------------------------------------------- pool
constexpr std::size_t thread_cache_max = 4;
constexpr std::size_t global_max_bytes = std::size_t{64} << 20;

struct global_pool {
  std::mutex mu;
  std::vector<fiber_stack> stacks;
  std::size_t bytes = 0;
};
global_pool& pool() {
  static auto* p = new global_pool;  // never destroyed: used by thread exits
  return *p;
}

void unmap(const fiber_stack& s) noexcept {
  drop_guard(s.slot);
  ::munmap(s.base, s.total);
}

void to_global(const fiber_stack& s) noexcept {
  global_pool& g = pool();
  {
    std::lock_guard lock(g.mu);
    if (g.bytes + s.total <= global_max_bytes) {
      try {
        g.stacks.push_back(s);
        g.bytes += s.total;
        return;
      } catch (...) {
      }
    }
  }
  unmap(s);
}

struct thread_cache {
  fiber_stack items[thread_cache_max];
  std::size_t n = 0;
  ~thread_cache() {
    while (n) to_global(items[--n]);
  }
};
thread_local thread_cache cache;

// ---------------------------------------------------------------- overflow
struct sigaction previous_segv;

void write_str(const char* s) noexcept {
  std::size_t len = std::strlen(s);
  while (len) {
    ssize_t w = ::write(STDERR_FILENO, s, len);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return;
    }
    s += w;
    len -= static_cast<std::size_t>(w);
  }
}

void on_segv(int sig, siginfo_t* info, void* ucontext) {
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  const std::size_t page = page_size();
  const std::uint32_t used = guards_used.load(std::memory_order_acquire);
  for (std::uint32_t i = 0; i < used; ++i) {
    const std::uintptr_t lo = guards[i].lo.load(std::memory_order_acquire);
    if (lo && addr >= lo && addr < lo + page) {
      const int saved_errno = errno;
      char digits[32];
      char* p = digits + sizeof digits;
      *--p = '\0';
      std::size_t n = guards[i].stack_size.load(std::memory_order_relaxed);
      do {
        *--p = static_cast<char>('0' + n % 10);
        n /= 10;
      } while (n);
      write_str("weft: fiber stack overflow (stack size ");
      write_str(p);
      write_str(" bytes); raise fiber_options::stack_size\n");
      errno = saved_errno;
      // Die by the fault itself: the default action, on return.
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      sigemptyset(&dfl.sa_mask);
      ::sigaction(SIGSEGV, &dfl, nullptr);
      return;
    }
  }
  // Not ours: hand it on.
  if (previous_segv.sa_flags & SA_SIGINFO) {
    if (previous_segv.sa_sigaction) {
      previous_segv.sa_sigaction(sig, info, ucontext);
      return;
    }
  } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
    return;
  }
  ::sigaction(SIGSEGV, &previous_segv, nullptr);  // re-faults with the old disposition
}

// Installs the handler unless it is in place. Checked on every thread that
// starts running fibers, so a handler that someone else installed later
// (and then restored what they found before ours) does not hide overflows
// for good.
void install_handler() noexcept {
  static std::mutex* mu = new std::mutex;
  std::lock_guard lock(*mu);
  struct sigaction current {};
  if (::sigaction(SIGSEGV, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == &on_segv) return;
  previous_segv = current;
  struct sigaction sa {};
  sa.sa_sigaction = &on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGSEGV, &sa, nullptr);
}

struct alt_stack {
  void* mem = nullptr;
  std::size_t size = 0;
  bool done = false;
  void setup() noexcept {
    done = true;
    stack_t current{};
    if (::sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // one is there
    size = 64 * 1024;
    void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    stack_t ss{};
    ss.ss_sp = m;
    ss.ss_size = size;
    if (::sigaltstack(&ss, nullptr) != 0) {
      ::munmap(m, size);
      return;
    }
    mem = m;
  }
  ~alt_stack() {
    if (!mem) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    ::sigaltstack(&ss, nullptr);
    ::munmap(mem, size);
  }
};
thread_local alt_stack thread_alt_stack;

}  // namespace

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t round_stack_size(std::size_t requested) noexcept {
  const std::size_t page = page_size();
  if (requested < page) return page;
  return (requested + page - 1) / page * page;
}

fiber_stack acquire_stack(std::size_t usable) {
  thread_cache& c = cache;
  for (std::size_t i = c.n; i-- > 0;) {
    if (c.items[i].usable == usable) {
      fiber_stack s = c.items[i];
      c.items[i] = c.items[--c.n];
      return s;
    }
  }
  {
    global_pool& g = pool();
    std::lock_guard lock(g.mu);
    for (std::size_t i = g.stacks.size(); i-- > 0;) {
      if (g.stacks[i].usable == usable) {
        fiber_stack s = g.stacks[i];
        g.stacks[i] = g.stacks.back();
        g.stacks.pop_back();
        g.bytes -= s.total;
        return s;
      }
    }
  }
  const std::size_t guard = page_size();
  fiber_stack s;
  s.usable = usable;
  s.total = usable + guard;
  void* m =
      ::mmap(nullptr, s.total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "weft: cannot map a fiber stack");
  if (::mprotect(m, guard, PROT_NONE) != 0) {
    const int e = errno;
    ::munmap(m, s.total);
    throw std::system_error(e, std::generic_category(), "weft: cannot protect a fiber stack's guard page");
  }
  s.base = m;
  s.slot = record_guard(reinterpret_cast<std::uintptr_t>(m), usable);
  return s;
}

void release_stack(const fiber_stack& s) noexcept {
#if WEFT_STACK_POOL_ASAN
  // Frames left poisoned by an unwound fiber must not trip its successor.
  ASAN_UNPOISON_MEMORY_REGION(s.bottom(), s.usable);
#endif
  thread_cache& c = cache;
  if (c.n < thread_cache_max) {
    c.items[c.n++] = s;
    return;
  }
  to_global(s);
}

void prepare_thread_for_fibers() noexcept {
  if (thread_alt_stack.done) return;
  install_handler();
  thread_alt_stack.setup();
}

}  // namespace weft::detail
