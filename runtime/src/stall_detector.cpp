#include "stall_detector.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "scheduler.hpp"
#include "weft/runtime/stall.hpp"

namespace weft {

namespace {

std::string duration_text(std::chrono::nanoseconds d) {
  const double ms = std::chrono::duration<double, std::milli>(d).count();
  return ms >= 10 ? fmt::format("{:.0f} ms", ms) : fmt::format("{:.1f} ms", ms);
}

}  // namespace

std::string stall_report::text() const {
  std::string out = fmt::format(
      "weft: stall: worker {} ({}) has run one task for {} without suspending (stall_threshold {}); task: {}\n", worker,
      thread_name, duration_text(running_for), duration_text(threshold), task.empty() ? "unknown" : task);
  if (backtrace.empty()) out += "  (no backtrace: the worker did not take the signal in time)\n";
  for (std::size_t i = 0; i < backtrace.size(); ++i)
    fmt::format_to(std::back_inserter(out), "  #{} {}\n", i, backtrace[i]);
  return out;
}

namespace detail {

namespace {

// One capture at a time, process-wide (the signal handler finds it here).
enum : int { idle = 0, requested = 1, capturing = 2, captured = 3 };
struct sample {
  std::atomic<int> state{idle};
  void* frames[64];
  int count = 0;
  void* pc = nullptr;  // where the thread was interrupted
  void* task_fn = nullptr;
};
sample the_sample;
std::mutex capture_mu;  // serializes the detectors of several runtimes
int stall_signal() { return SIGRTMIN + 5; }

/// Where the signal interrupted the thread, from the signal's context
/// (0 where this port does not know the register).
std::uintptr_t interrupted_pc(void* context) {
  [[maybe_unused]] auto* uc = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
  return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return static_cast<std::uintptr_t>(uc->uc_mcontext.pc);
#else
  return 0;
#endif
}

void on_signal(int, siginfo_t*, void* context) {
  int expected = requested;
  if (!the_sample.state.compare_exchange_strong(expected, capturing, std::memory_order_acq_rel))
    return;  // not asked for, or too late
  const int saved = errno;
  the_sample.count = ::backtrace(the_sample.frames, 64);
  the_sample.pc = reinterpret_cast<void*>(interrupted_pc(context));
  // The running task's spawned coroutine: its frame starts with the resume
  // function's address (the coroutine ABI of GCC and Clang).
  the_sample.task_fn = nullptr;
  if (task_header* t = this_thread().current; t && t->root)
    the_sample.task_fn = *static_cast<void**>(t->root.address());
  the_sample.state.store(captured, std::memory_order_release);
  errno = saved;
}

void install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    // backtrace() loads libgcc_s on its first call, which is not safe in a
    // signal handler: make that first call here.
    void* prime[2];
    ::backtrace(prime, 2);
    struct sigaction sa {};
    sa.sa_sigaction = &on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(stall_signal(), &sa, nullptr);
  });
}

/// "name+0xOFF (module+0xOFF)", or "(module+0xOFF)" without a symbol.
std::string describe(std::uintptr_t pc, bool return_address) {
  Dl_info info{};
  // A return address points after the call: look up the call itself.
  const std::uintptr_t at = return_address && pc > 0 ? pc - 1 : pc;
  if (!dladdr(reinterpret_cast<void*>(at), &info) || !info.dli_fname) return fmt::format("0x{:x}", pc);
  const auto base = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
  std::string where = fmt::format("({}+0x{:x})", info.dli_fname, pc - base);
  if (!info.dli_sname) return where;
  int status = 0;
  char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : info.dli_sname;
  std::free(demangled);
  return fmt::format("{}+0x{:x} {}", name, pc - reinterpret_cast<std::uintptr_t>(info.dli_saddr), where);
}

}  // namespace

stall_detector::stall_detector(runtime_impl& rt) : rt_(rt) {
  install_handler();
  thread_ = std::thread([this] { run(); });
}

stall_detector::~stall_detector() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void stall_detector::run() {
  pthread_setname_np(pthread_self(), (rt_.options.thread_name + "-stall").substr(0, 15).c_str());
  using clock = std::chrono::steady_clock;
  const auto threshold = rt_.options.stall_threshold;
  const auto interval =
      std::clamp<clock::duration>(threshold / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
  struct watch {
    std::uint64_t seq = 0;
    clock::time_point since{};
    bool reported = false;
  };
  std::vector<watch> seen(rt_.workers.size());
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval, [&] { return stop_; })) {
    const auto now = clock::now();
    for (std::size_t i = 0; i < rt_.workers.size(); ++i) {
      worker& w = *rt_.workers[i];
      watch& s = seen[i];
      const std::uint64_t seq = w.run_seq();
      if (seq != s.seq || !(seq & 1)) {  // moved on, or between tasks
        s = {seq, now, false};
        continue;
      }
      if (s.reported || now - s.since < threshold) continue;
      s.reported = true;  // once per stall
      stall_report r;
      r.worker = static_cast<unsigned>(i);
      r.thread_name = rt_.options.thread_name + "-" + std::to_string(i);
      r.running_for = std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.since);
      r.threshold = threshold;
      {
        std::lock_guard capture(capture_mu);
        the_sample.state.store(requested, std::memory_order_release);
        if (pthread_kill(w.native_thread(), stall_signal()) == 0) {
          // Wait for the handler, a little (the detector's lock is not
          // needed meanwhile: stop waits for this round).
          for (int k = 0; k < 200 && the_sample.state.load(std::memory_order_acquire) == requested; ++k)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          // Once the handler has begun, it finishes quickly.
          while (the_sample.state.load(std::memory_order_acquire) == capturing) std::this_thread::yield();
        }
        // Whatever happened, a late signal must find nothing to write to.
        if (the_sample.state.exchange(idle, std::memory_order_acq_rel) == captured) {
          // The first frames are the handler's own (how many depends on
          // the build: a sanitizer wraps handlers) and the kernel's signal
          // trampoline; the stack proper starts at the interrupted address
          // (an exact address; the rest are return addresses).
          int skipped = 0;
          while (skipped < the_sample.count && the_sample.frames[skipped] != the_sample.pc) ++skipped;
          if (skipped == the_sample.count) skipped = 0;  // not found: show everything
          for (int k = skipped; k < the_sample.count; ++k) {
            const auto pc = reinterpret_cast<std::uintptr_t>(the_sample.frames[k]);
            r.addresses.push_back(pc);
            r.backtrace.push_back(describe(pc, k > skipped));
          }
          if (the_sample.task_fn) r.task = describe(reinterpret_cast<std::uintptr_t>(the_sample.task_fn), false);
        }
      }
      w.count_stall();
      lock.unlock();  // the handler may take its time; stop() waits for it
      if (rt_.options.on_stall) {
        try {
          rt_.options.on_stall(r);
        } catch (...) {
          std::fputs("weft: stall: the on_stall handler threw; ignored\n", stderr);
        }
      } else {
        const std::string text = r.text();
        std::fwrite(text.data(), 1, text.size(), stderr);
      }
      lock.lock();
    }
  }
}

}  // namespace detail
}  // namespace weft
