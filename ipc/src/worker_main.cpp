// The worker process: takes calls from its request ring, runs them, puts
// results in its result ring. Single-threaded; forked from the fork server.
#include <sched.h>
#include <signal.h>
#include <stdio_ext.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "channel.hpp"
#include "fork_server.hpp"
#include "futex.hpp"
#include "weft/ipc/detail/invoke.hpp"
#include "weft/ipc/detail/testing.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"
#include "weft/ipc/worker.hpp"
#include "worker_hooks.hpp"

namespace weft::ipc::detail {

namespace testing {
void (*result_tamper)(result_fields&) = nullptr;
}

bool in_worker_process = false;

namespace {

using steady = std::chrono::steady_clock;

/// Within the spin window (spin_budget), pure busy-waiting this long, then
/// yielding the CPU between looks (the parent may need this core to
/// produce the next call).
constexpr auto busy_window = std::chrono::microseconds(5);

/// What the function printed, before it is lost in a crash: flushed after
/// each call, but only when there is something to flush.
void flush_output() noexcept {
  if (::__fpending(stdout)) std::fflush(stdout);
  if (::__fpending(stderr)) std::fflush(stderr);
}

pid_t fork_server_pid = 0;

void die_if_orphaned() noexcept {
  if (::getppid() != fork_server_pid) ::_exit(1);
}

/// exit() called by the function of a task: leave at once with its
/// status, without the parent's at-exit handlers and static destructors
/// (they belong to the parent; running them here would, say, flush the
/// parent's buffers a second time). Registered last, so it runs first.
void exit_without_handlers(int status, void*) {
  std::fflush(nullptr);
  ::_exit(status);
}

class channel_worker final : public worker_context {
 public:
  channel_worker(channel_view ch, int eventfd) : ch_(ch), ctl_(ch.ctl()), eventfd_(eventfd) {}

  [[noreturn]] void run() {
    for (std::uint64_t i = 0;; ++i) {
      slot& req = ch_.request(i);
      wait_for_request(req, i);
      ctl_.requests_taken.store(i + 1, std::memory_order_seq_cst);
      if (static_cast<request_kind>(req.h.kind) == request_kind::stop) {
        std::fflush(nullptr);
        ::_exit(0);
      }
      begin(req, i);
      // The parent may have cancelled it before we took it (it checks
      // requests_taken after setting the flag, so one of us sees the other).
      if (req.h.cancel.load(std::memory_order_seq_cst)) {
        release_arguments();
        publish_kind(result_kind::skipped, 0);
        continue;
      }
      serve(req);
      flush_output();
      if (ctl_.one_shot) {
        // A weft::ipc::process: its one call is done. Exit as Python's
        // Process does: 0, or 1 if the function raised.
        std::fflush(nullptr);
        ::_exit(last_kind_ == result_kind::error ? 1 : 0);
      }
    }
  }

  void release_arguments() noexcept override {
    if (released_) return;
    released_ = true;
    if (ctl_.one_shot) {
      // The parent's start() waits for this: it may drop its own copies
      // of handles it passed (a pipe end) once we hold ours.
      ctl_.args_taken.store(1, std::memory_order_release);
      futex_wake(ctl_.args_taken, 1);
    }
    if (req_->h.arena_offset != inline_payload)
      ctl_.request_arena_tail.store(req_->h.arena_end, std::memory_order_release);
  }

  std::byte* result_buffer(std::size_t n) override {
    slot& res = ch_.result(index_);
    cursor_ = saved_cursor_;  // a second call (an error after a result) starts over
    if (n <= slot_capacity) {
      res.h.arena_offset = inline_payload;
      return res.data;
    }
    std::uint64_t cap = ctl_.arena_size;
    if (n > cap)
      throw serialization_error("weft::ipc: the result is " + std::to_string(n) + " bytes, more than the arena of " +
                                std::to_string(cap) + " bytes (process_pool_options::arena_size)");
    std::uint64_t off = 0, end = 0;
    for (unsigned tries = 0;; ++tries) {
      // The parent releases results as it takes them; it is behind by at
      // most the few results still in the ring.
      if (cursor_.allocate(cap, ctl_.result_arena_tail.load(std::memory_order_acquire), n, off, end)) break;
      if (tries < 64) cpu_relax();
      else {
        ::usleep(50);
        die_if_orphaned();
      }
    }
    res.h.arena_offset = off;
    res.h.arena_end = end;
    return ch_.result_arena() + off;
  }

  void publish(std::size_t n) noexcept override { publish_kind(result_kind::ok, n); }

 private:
  void wait_for_request(slot& req, std::uint64_t i) noexcept {
    auto published = [&] { return req.h.seq.load(std::memory_order_acquire) == i + 1; };
    if (published()) return;
    auto start = steady::now();
    for (unsigned k = 0; spinning_pays(); ++k) {
      if (published()) return;
      if ((k & 63) == 0) {
        auto spent = steady::now() - start;
        if (spent > spin_.window()) break;
        if (spent > busy_window) ::sched_yield();
      }
      cpu_relax();
    }
    auto slept_from = steady::now();
    for (;;) {
      std::uint32_t bell = ctl_.doorbell.load(std::memory_order_acquire);
      ctl_.worker_sleeping.store(1, std::memory_order_seq_cst);
      if (published()) break;
      futex_wait(ctl_.doorbell, bell, std::chrono::seconds(1));  // then check on the parent
      if (published()) break;
      die_if_orphaned();
    }
    ctl_.worker_sleeping.store(0, std::memory_order_relaxed);
    spin_.woke_after(steady::now() - slept_from);
  }

  void begin(slot& req, std::uint64_t i) noexcept {
    req_ = &req;
    index_ = i;
    released_ = false;
    saved_cursor_ = cursor_;
    timed_ = (i & 7) == 0;  // a sample is enough for the parent's average
    if (timed_) started_at_ = steady::now();
  }

  void serve(slot& req) {
    const std::byte* payload =
        req.h.arena_offset == inline_payload ? req.data : ch_.request_arena() + req.h.arena_offset;
    byte_reader in(payload, req.h.size);
    auto invoker = reinterpret_cast<invoker_fn>(req.h.invoker);
    try {
      invoker(*this, req.h.fn, in);
    } catch (const std::exception& e) {
      publish_error(exception_type_name(e), e.what());
    } catch (...) {
      publish_error("unknown exception", "an exception not derived from std::exception");
    }
  }

  void publish_error(std::string type, std::string what) noexcept {
    release_arguments();
    try {
      constexpr std::size_t max_message = 64 * 1024;
      if (what.size() > max_message) what.resize(max_message);
      size_counter counter;
      ipc::encode(counter, type);
      ipc::encode(counter, what);
      std::size_t n = counter.size();
      byte_writer out(result_buffer(n), n);
      ipc::encode(out, type);
      ipc::encode(out, what);
      publish_kind(result_kind::error, n);
    } catch (...) {
      cursor_ = saved_cursor_;
      ch_.result(index_).h.arena_offset = inline_payload;
      publish_kind(result_kind::error, 0);  // the parent reports an error without details
    }
  }

  void publish_kind(result_kind kind, std::size_t n) noexcept {
    release_arguments();
    slot& res = ch_.result(index_);
    if (n == 0) res.h.arena_offset = inline_payload;
    res.h.kind = static_cast<std::uint32_t>(kind);
    res.h.size = n;
    // How long the call took (0: not measured), for the parent's choice
    // of queue depth.
    res.h.fn = timed_
                   ? static_cast<std::uint64_t>(std::max<std::int64_t>(
                         1, std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - started_at_).count()))
                   : 0;
    last_kind_ = kind;
    std::uint64_t seq = index_ + 1;
    if (testing::result_tamper) {
      testing::result_fields f{res.h.kind, res.h.size, res.h.arena_offset, res.h.arena_end, seq};
      testing::result_tamper(f);
      res.h.kind = f.kind;
      res.h.size = f.size;
      res.h.arena_offset = f.arena_offset;
      res.h.arena_end = f.arena_end;
      seq = f.seq;
    }
    res.h.seq.store(seq, std::memory_order_release);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ctl_.parent_sleeping.load(std::memory_order_relaxed) &&
        ctl_.parent_sleeping.exchange(0, std::memory_order_acq_rel)) {
      std::uint64_t one = 1;
      [[maybe_unused]] ssize_t w = ::write(eventfd_, &one, sizeof one);
    }
  }

  channel_view ch_;
  control& ctl_;
  int eventfd_;
  slot* req_ = nullptr;
  std::uint64_t index_ = 0;
  bool released_ = false;
  arena_cursor cursor_;
  arena_cursor saved_cursor_;
  steady::time_point started_at_;
  bool timed_ = false;
  result_kind last_kind_ = result_kind::ok;
  spin_budget spin_;
};

}  // namespace

[[noreturn]] void worker_main(int memfd, int eventfd, pid_t server) {
  fork_server_pid = server;
  // Die with the fork server (which dies with the parent). The fork
  // server has one thread, so its exit is the one that counts; and if it
  // is already gone, the signal would never come: check.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  die_if_orphaned();
  ::sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_NAME, "weft-worker", 0, 0, 0);

  struct ::stat st {};
  void* base = MAP_FAILED;
  if (::fstat(memfd, &st) == 0)
    base = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (base == MAP_FAILED) ::_exit(71);
  ::close(memfd);
  // Keep stdio and the eventfd (as 3); close everything else inherited.
  if (eventfd != 3) {
    ::dup2(eventfd, 3);
    ::close(eventfd);
  }
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  ::on_exit(&exit_without_handlers, nullptr);

  channel_view ch{static_cast<std::byte*>(base), 0};
  ch.arena_size = ch.ctl().arena_size;
  in_worker_process = true;
  // A fork copies the C library's generator states: reseed them, as Python
  // reseeds `random` in a forked child (see weft/ipc/worker.hpp).
  {
    std::uint64_t seed = 0;
    try {
      seed = fresh_seed();
    } catch (...) {
      seed = static_cast<std::uint64_t>(::getpid()) * 0x9e3779b97f4a7c15ULL ^
             static_cast<std::uint64_t>(steady::now().time_since_epoch().count());
    }
    std::srand(static_cast<unsigned>(seed));
    ::srandom(static_cast<unsigned>(seed >> 32));
    ::srand48(static_cast<long>(seed));
  }
  if (std::uintptr_t init = ch.ctl().initializer; init || ch.ctl().at_start[0]) {
    try {
      for (std::uint64_t hook : ch.ctl().at_start)
        if (hook) reinterpret_cast<void (*)()>(hook)();
      if (init) reinterpret_cast<void (*)()>(init)();
    } catch (const std::exception& e) {
      std::snprintf(ch.ctl().init_error, sizeof ch.ctl().init_error, "%s: %s", exception_type_name(e).c_str(),
                    e.what());
      ch.ctl().init_failed.store(1, std::memory_order_release);
      ::_exit(70);
    } catch (...) {
      std::snprintf(ch.ctl().init_error, sizeof ch.ctl().init_error, "unknown exception");
      ch.ctl().init_failed.store(1, std::memory_order_release);
      ::_exit(70);
    }
    std::fflush(nullptr);
  }
  channel_worker(ch, 3).run();
}

}  // namespace weft::ipc::detail
