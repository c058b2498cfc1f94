// The stall detector: a task that runs too long without suspending holds
// its worker, and every task queued behind it waits (Seastar's reactor
// stall reports, Tokio's long-poll warnings). Set a threshold and weft
// reports each such stall once, while it happens, with the worker's stack:
//
//   weft::runtime rt{{.stall_threshold = std::chrono::milliseconds(100)}};
//   // a task that computes for 300 ms without a co_await prints, on stderr
//   // (one line, then the stack; names as the dynamic symbol table has them):
//   //   weft: stall: worker 1 (weft-1) has run one task for 100 ms without
//   //   suspending (stall_threshold 100 ms); task: (./app+0xf7a0)
//   //     #0 clock_gettime+0x56 (linux-vdso.so.1+0xb66)
//   //     ...
//   //     #3 crunch(std::chrono::duration<long, std::ratio<1l, 1000l> >)+0x29 (./app+0xf789)
//   //     #5 weft::detail::worker::run_entry(unsigned long)+0x16a (./app+0x1446a)
//   auto stalls = rt.metrics().total().stalls;  // how many were reported
//
//   // or to a handler of yours (called on the detector's own thread):
//   weft::runtime_options o;
//   o.stall_threshold = std::chrono::milliseconds(50);
//   o.on_stall = [](const weft::stall_report& r) { log(r.text()); };
//
// How: each worker counts the tasks it runs (two relaxed stores per task,
// nothing else on the hot path); a detector thread, started only when the
// threshold is set, looks every threshold/4 and sees a worker whose count
// has not moved for the threshold while it runs a task. It then sends that
// worker's thread a signal (SIGRTMIN + 5; weft installs the handler the
// first time a runtime uses the detector), whose handler records the stack
// with backtrace() (primed beforehand, so it does not load libgcc_s inside
// the handler) and the running task's coroutine, and the detector thread
// turns the addresses into names with dladdr. Names come from the dynamic
// symbol table: link with -rdynamic for names of the program's own
// functions, or feed the printed module+offset pairs to
// `addr2line -Cfpe MODULE OFFSET...`.
//
// Cancellation does not apply: a stalled task cannot be cancelled until it
// suspends (that is the point of the report).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace weft {

/// One stall, as the detector saw it.
struct stall_report {
  unsigned worker = 0;                     // the worker's index
  std::string thread_name;                 // the worker thread's name ("weft-1")
  std::chrono::nanoseconds running_for{};  // how long the task had run when seen (at least the threshold)
  std::chrono::nanoseconds threshold{};    // runtime_options::stall_threshold
  /// The running task's coroutine (its resume function): a name when the
  /// dynamic symbol table has one, else module+offset; empty if unknown.
  std::string task;
  /// The worker's stack when the signal arrived, innermost first: return
  /// addresses, and each as "name+0xOFF (module+0xOFF)" or "(module+0xOFF)".
  /// Empty when the worker did not take the signal within 200 ms (under
  /// ThreadSanitizer, a thread that calls nothing gets signals late).
  std::vector<std::uintptr_t> addresses;
  std::vector<std::string> backtrace;

  /// The report as the default handler prints it (several lines, ending
  /// with a newline).
  std::string text() const;
};

}  // namespace weft
