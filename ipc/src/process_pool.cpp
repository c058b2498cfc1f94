#include "weft/ipc/process_pool.hpp"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "fork_server.hpp"
#include "futex.hpp"
#include "pool_core.hpp"
#include "weft/ipc/spawn_process.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/time.hpp"
#include "weft/runtime/yield.hpp"
#include "worker_hooks.hpp"

namespace weft::ipc::detail {

bool spinning_pays() noexcept {
  static const bool pays = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    return ::sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) > 1;
  }();
  return pays;
}

namespace {

using weft::detail::waiter;
using weft::detail::wake_batch;

const char* const shut_down_message =
    "weft::ipc::process_pool::call: the pool was shut down (shutdown() was called); it takes no more calls";
const char* const destroyed_message =
    "weft::ipc::process_pool::call: the pool was destroyed (the process_pool object is gone)";

/// "300 ms", "2.5 s", "40 us": a limit as a person writes it.
std::string describe_duration(std::chrono::nanoseconds d) {
  auto ns = d.count();
  char buf[64];
  if (ns % 1'000'000'000 == 0) std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(ns / 1'000'000'000));
  else if (ns >= 1'000'000'000) std::snprintf(buf, sizeof buf, "%.3g s", double(ns) / 1e9);
  else if (ns % 1'000'000 == 0) std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ns / 1'000'000));
  else if (ns >= 1'000'000) std::snprintf(buf, sizeof buf, "%.3g ms", double(ns) / 1e6);
  else std::snprintf(buf, sizeof buf, "%lld us", static_cast<long long>(ns / 1000));
  return buf;
}

/// Calls queued in one worker's ring are at most this much work, by the
/// moving average of their time: short calls are batched deep, long ones
/// are not queued behind each other while another worker idles.
constexpr double queue_budget_ns = 200'000;

int sys_pidfd_send_signal(int pidfd, int sig) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::exception_ptr error_from_worker(byte_reader& in) {
  if (in.remaining() == 0) return std::make_exception_ptr(remote_error("unknown exception", "(details lost)"));
  auto type = ipc::decode<std::string>(in);
  auto what = ipc::decode<std::string>(in);
  if (type == "weft::ipc::serialization_error") return std::make_exception_ptr(serialization_error(what));
  return std::make_exception_ptr(remote_error(std::move(type), std::move(what)));
}

// ------------------------------------------------------------ trust

/// Everything in a worker's mapping is written (or writable) by the
/// worker: read each field once, check it, and only then use it.
template <class T>
T read_once(T& field) noexcept {
  return std::atomic_ref<T>(field).load(std::memory_order_relaxed);
}

/// Records that w broke the protocol and kills it: its monitor settles
/// its calls (the running one fails with protocol_error) and replaces it.
void protocol_violation(worker_rec& w, std::string what) noexcept {
  if (w.violation.empty()) w.violation = std::move(what);
  w.kill(kill_reason::protocol);
}

/// requests_taken as the worker reports it, or next_request if it claims
/// more than was ever sent (a violation).
std::uint64_t requests_taken(worker_rec& w) noexcept {
  std::uint64_t taken = w.ch.ctl().requests_taken.load(std::memory_order_seq_cst);
  if (taken > w.next_request) {
    protocol_violation(
        w, "it reports " + std::to_string(taken) + " requests taken of " + std::to_string(w.next_request) + " sent");
    return w.next_request;
  }
  return taken;
}

// ------------------------------------------------------------ the queue

void push_pending_back(pool_core& core, call_record& rec) noexcept {
  rec.worker = -1;
  rec.next = nullptr;
  rec.prev = core.pending_tail;
  if (core.pending_tail) core.pending_tail->next = &rec;
  else core.pending_head = &rec;
  core.pending_tail = &rec;
  ++core.pending_count;
}

void push_pending_front(pool_core& core, call_record& rec) noexcept {
  rec.worker = -1;
  rec.prev = nullptr;
  rec.next = core.pending_head;
  if (core.pending_head) core.pending_head->prev = &rec;
  else core.pending_tail = &rec;
  core.pending_head = &rec;
  ++core.pending_count;
}

void unlink_pending(pool_core& core, call_record& rec) noexcept {
  if (rec.prev) rec.prev->next = rec.next;
  else core.pending_head = rec.next;
  if (rec.next) rec.next->prev = rec.prev;
  else core.pending_tail = rec.prev;
  rec.prev = rec.next = nullptr;
  --core.pending_count;
}

/// Ends a call with an error (or its result, if error is null). The call
/// being submitted right now is not woken: its submitter sees it done.
void finish(pool_core& core, call_record& rec, std::exception_ptr error, wake_batch& wake) noexcept {
  rec.error = std::move(error);
  rec.worker = -1;
  if (core.submitting == &rec) core.submitting = nullptr;
  else wake.grant(rec.waiter);
}

void fail_pending(pool_core& core, const std::exception_ptr& error, wake_batch& wake) noexcept {
  while (call_record* rec = core.pending_head) {
    unlink_pending(core, *rec);
    finish(core, *rec, error, wake);
  }
}

// ------------------------------------------------------------ dispatch

std::uint64_t queue_depth(const pool_core& core) noexcept {
  if (core.opts.task_timeout.count() > 0) return 1;  // the clock starts when the call does
  double depth = core.task_ns > 0 ? queue_budget_ns / core.task_ns : ring_slots;
  return static_cast<std::uint64_t>(std::clamp(depth, 2.0, double(ring_slots)));
}

bool accepts_calls(const pool_core& core, const worker_rec& w) noexcept {
  return !w.stopping && w.killed == kill_reason::none &&
         (core.opts.max_tasks_per_worker == 0 || w.sent < core.opts.max_tasks_per_worker);
}

/// The worker with room for another call and the fewest queued, or null.
worker_rec* pick_worker(pool_core& core) noexcept {
  std::uint64_t depth = queue_depth(core);
  worker_rec* best = nullptr;
  for (auto& w : core.workers) {
    if (!w || !accepts_calls(core, *w) || w->in_flight() >= depth) continue;
    if (!best || w->in_flight() < best->in_flight()) best = w.get();
  }
  return best;
}

void wake_worker(worker_rec& w) noexcept {
  control& ctl = w.ch.ctl();
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the slot's seq before the flag
  if (ctl.worker_sleeping.load(std::memory_order_relaxed) &&
      ctl.worker_sleeping.exchange(0, std::memory_order_acq_rel)) {
    ctl.doorbell.fetch_add(1, std::memory_order_release);
    futex_wake(ctl.doorbell, 1);
  }
}

enum class place_result { placed, no_room, failed, bad_worker };

/// Writes rec into w's request ring (arguments inline or in the arena).
place_result place(pool_core& core, worker_rec& w, call_record& rec, wake_batch& wake) noexcept {
  std::uint64_t i = w.next_request;
  slot& s = w.ch.request(i);
  std::byte* dst = s.data;
  std::uint64_t offset = inline_payload, end = 0;
  arena_cursor saved = w.request_cursor;
  if (rec.size > slot_capacity) {
    std::uint64_t cap = w.ch.arena_size;
    if (rec.size > cap) {
      finish(core, rec,
             std::make_exception_ptr(serialization_error("weft::ipc: the arguments are " + std::to_string(rec.size) +
                                                         " bytes, more than the arena of " + std::to_string(cap) +
                                                         " bytes (process_pool_options::arena_size)")),
             wake);
      ++core.counters.failed;
      return place_result::failed;
    }
    std::uint64_t tail = w.ch.ctl().request_arena_tail.load(std::memory_order_acquire);
    if (tail < w.request_tail || tail > w.request_cursor.head) {
      protocol_violation(w, "request arena tail " + std::to_string(tail) + " outside [" +
                                std::to_string(w.request_tail) + ", " + std::to_string(w.request_cursor.head) + "]");
      return place_result::bad_worker;
    }
    w.request_tail = tail;
    if (!w.request_cursor.allocate(cap, tail, rec.size, offset, end)) return place_result::no_room;
    dst = w.ch.request_arena() + offset;
  }
  try {
    rec.encode(rec, dst, rec.size);
  } catch (...) {
    w.request_cursor = saved;
    finish(core, rec, std::current_exception(), wake);
    ++core.counters.failed;
    return place_result::failed;
  }
  s.h.kind = static_cast<std::uint32_t>(request_kind::call);
  s.h.invoker = rec.invoker;
  s.h.fn = rec.fn;
  s.h.size = rec.size;
  s.h.arena_offset = offset;
  s.h.arena_end = end;
  s.h.cancel.store(0, std::memory_order_relaxed);
  s.h.seq.store(i + 1, std::memory_order_release);
  if (w.in_flight() == 0) w.busy_since = steady::now();
  w.calls[i % ring_slots] = &rec;
  rec.worker = static_cast<int>(w.id);
  rec.index = i;
  ++w.next_request;
  ++w.sent;
  ++core.running_count;
  if (core.opts.task_timeout.count() > 0) {
    w.deadline = steady::now() + core.opts.task_timeout;
    core.timer_wake.set();
  }
  return place_result::placed;
}

void send_stop(worker_rec& w) noexcept {
  std::uint64_t i = w.next_request++;
  slot& s = w.ch.request(i);
  s.h.kind = static_cast<std::uint32_t>(request_kind::stop);
  s.h.size = 0;
  s.h.arena_offset = inline_payload;
  s.h.cancel.store(0, std::memory_order_relaxed);
  s.h.seq.store(i + 1, std::memory_order_release);
  w.stopping = true;
  wake_worker(w);
}

/// Work stealing between workers: an idle worker takes back the newest
/// half of the calls another worker was handed but has not started (they
/// were assigned ahead, to batch short calls; with uneven long calls that
/// leaves one worker busy with a queue while another idles). A call is
/// taken back as a cancellation is: the cancel flag, then requests_taken
/// (each side writes its word, then reads the other's), so either we see
/// the worker took it and leave it, or it sees the flag and skips it. If
/// we lose the race after setting the flag, the worker may still skip it:
/// drain_worker then puts the call back in the queue, so nothing is lost.
/// Only from a worker that has published nothing for a while: one that
/// keeps answering will reach its queue soon, and short calls batched
/// deep are what keeps tiny tasks fast.
constexpr auto steal_after = std::chrono::microseconds(100);

void rebalance_locked(pool_core& core, wake_batch& wake) noexcept {
  steady::time_point now{};
  for (auto& idle : core.workers) {
    if (!idle || !accepts_calls(core, *idle) || idle->in_flight() != 0) continue;
    if (now == steady::time_point{}) now = steady::now();
    worker_rec* victim = nullptr;
    std::uint64_t victim_taken = 0, most = 0;
    for (auto& w : core.workers) {
      if (!w || w.get() == idle.get() || w->killed != kill_reason::none || w->in_flight() < 2) continue;
      if (now - w->busy_since < steal_after) continue;
      std::uint64_t taken = std::max(requests_taken(*w), w->next_result);
      std::uint64_t waiting = w->next_request - taken;
      if (waiting > most) {
        most = waiting;
        victim = w.get();
        victim_taken = taken;
      }
    }
    if (!victim) return;
    std::array<call_record*, ring_slots> stolen;  // newest first
    std::size_t count = 0;
    for (std::uint64_t i = victim->next_request; i-- > victim_taken && count < (most + 1) / 2;) {
      call_record* rec = victim->calls[i % ring_slots];
      if (!rec) continue;
      slot& s = victim->ch.request(i);
      s.h.cancel.store(1, std::memory_order_seq_cst);
      if (requests_taken(*victim) > i) break;  // started meanwhile: it and the older ones stay
      victim->calls[i % ring_slots] = nullptr;
      rec->worker = -1;
      --core.running_count;
      stolen[count++] = rec;
    }
    // Back to the front of the queue, oldest first, then to the idle worker.
    for (std::size_t k = 0; k < count; ++k) push_pending_front(core, *stolen[k]);
    for (; count > 0 && core.pending_head && accepts_calls(core, *idle); --count) {
      call_record& rec = *core.pending_head;
      unlink_pending(core, rec);
      place_result r = place(core, *idle, rec, wake);
      if (r == place_result::no_room || r == place_result::bad_worker) {
        push_pending_front(core, rec);
        break;
      }
    }
    wake_worker(*idle);
  }
}

/// Hands queued calls to workers while they have room; recycles workers
/// that reached max_tasks_per_worker once they are idle.
void dispatch_locked(pool_core& core, wake_batch& wake) noexcept {
  while (core.pending_head) {
    worker_rec* w = pick_worker(core);
    if (!w) break;
    call_record& rec = *core.pending_head;
    unlink_pending(core, rec);
    place_result r = place(core, *w, rec, wake);
    if (r == place_result::bad_worker) {
      push_pending_front(core, rec);
      continue;  // w is killed now: pick_worker skips it
    }
    if (r == place_result::no_room) {
      push_pending_front(core, rec);
      break;  // its arena frees up as results come back
    }
    if (r == place_result::placed) wake_worker(*w);
  }
  if (!core.pending_head) rebalance_locked(core, wake);
  if (core.opts.max_tasks_per_worker > 0 || core.closed) {
    for (auto& w : core.workers) {
      if (!w || w->stopping || w->killed != kill_reason::none || w->in_flight() != 0) continue;
      bool spent = core.opts.max_tasks_per_worker > 0 && w->sent >= core.opts.max_tasks_per_worker;
      bool done = core.closed && core.pending_count == 0 && core.admitted == 0;
      if (spent || done) send_stop(*w);
    }
  }
}

// ------------------------------------------------------------ results

/// Takes every result w has published. Returns how many.
/// Result slot i's header, checked against w's mapping; false (and w
/// killed for a violation) if it cannot be a real result.
struct checked_result {
  result_kind kind = result_kind::skipped;
  const std::byte* payload = nullptr;
  std::uint64_t size = 0;
  bool in_arena = false;
  std::uint64_t arena_end = 0;
  std::uint64_t ns = 0;
};

bool check_result(worker_rec& w, std::uint64_t i, slot& s, checked_result& out) noexcept {
  const std::uint32_t kind = read_once(s.h.kind);
  const std::uint64_t size = read_once(s.h.size);
  const std::uint64_t offset = read_once(s.h.arena_offset);
  const std::uint64_t end = read_once(s.h.arena_end);
  const std::uint64_t cap = w.ch.arena_size;
  auto bad = [&](const std::string& what) {
    protocol_violation(w, "result " + std::to_string(i) + ": " + what);
    return false;
  };
  if (kind < static_cast<std::uint32_t>(result_kind::ok) || kind > static_cast<std::uint32_t>(result_kind::skipped))
    return bad("unknown result kind " + std::to_string(kind));
  out.kind = static_cast<result_kind>(kind);
  out.size = size;
  out.ns = read_once(s.h.fn);
  out.in_arena = offset != inline_payload;
  if (!out.in_arena) {
    if (size > slot_capacity)
      return bad("inline size " + std::to_string(size) + " larger than a slot's " + std::to_string(slot_capacity) +
                 " bytes");
    out.payload = s.data;
    out.arena_end = w.result_tail;
    return true;
  }
  if (offset >= cap || size > cap - offset)
    return bad("arena offset " + std::to_string(offset) + " + size " + std::to_string(size) + " outside the " +
               std::to_string(cap) + "-byte result arena");
  if (end < w.result_tail || end - w.result_tail > 2 * cap)
    return bad("arena end " + std::to_string(end) + " not after the released " + std::to_string(w.result_tail));
  out.payload = w.ch.result_arena() + offset;
  out.arena_end = end;
  return true;
}

std::size_t drain_worker(pool_core& core, worker_rec& w, wake_batch& wake) noexcept {
  std::size_t taken = 0;
  if (!w.violation.empty()) return 0;
  while (w.next_result < w.next_request) {
    std::uint64_t i = w.next_result;
    slot& s = w.ch.result(i);
    const std::uint64_t seq = s.h.seq.load(std::memory_order_acquire);
    if (seq != i + 1) {
      // Not published yet: the slot still holds its previous sequence number.
      const std::uint64_t before = i >= ring_slots ? i + 1 - ring_slots : 0;
      if (seq != before)
        protocol_violation(w, "result slot " + std::to_string(i % ring_slots) + " holds sequence number " +
                                  std::to_string(seq) + ", expected " + std::to_string(before) + " or " +
                                  std::to_string(i + 1));
      break;
    }
    checked_result res;
    if (!check_result(w, i, s, res)) break;
    call_record* rec = std::exchange(w.calls[i % ring_slots], nullptr);
    byte_reader in(res.payload, res.size);
    auto kind = res.kind;
    if (rec && kind == result_kind::skipped) {
      // Skipped although we still wanted it: a steal that lost its race
      // (rebalance_locked). It goes back to the queue.
      --core.running_count;
      push_pending_front(core, *rec);
      rec = nullptr;
    }
    if (rec) {
      --core.running_count;
      std::exception_ptr error;
      try {
        if (kind == result_kind::ok) rec->decode(*rec, in);
        else if (kind == result_kind::error) error = error_from_worker(in);
        else error = std::make_exception_ptr(operation_cancelled{});
      } catch (...) {
        error = std::current_exception();
      }
      if (kind == result_kind::ok && !error) ++core.counters.completed;
      else ++core.counters.failed;
      finish(core, *rec, std::move(error), wake);
    }
    if (res.in_arena) {
      w.result_tail = res.arena_end;
      w.ch.ctl().result_arena_tail.store(res.arena_end, std::memory_order_release);
    }
    if (kind != result_kind::skipped && res.ns != 0) {
      double ns = static_cast<double>(res.ns);
      core.task_ns = core.task_ns == 0 ? ns : core.task_ns * 0.875 + ns * 0.125;
    }
    ++w.next_result;
    ++taken;
  }
  if (w.in_flight() == 0) w.deadline = steady::time_point::max();
  else if (taken) w.busy_since = steady::now();
  return taken;
}

std::size_t drain_locked(pool_core& core, wake_batch& wake) noexcept {
  std::size_t taken = 0;
  for (auto& w : core.workers)
    if (w) taken += drain_worker(core, *w, wake);
  if (taken) {
    ++core.activity;
    dispatch_locked(core, wake);
    core.changed.set();
  }
  return taken;
}

// ------------------------------------------------------------ workers

std::unique_ptr<worker_rec> start_worker(pool_core& core, unsigned id) {
  auto w = std::make_unique<worker_rec>();
  w->id = id;
  layout lay{core.opts.arena_size};
  int memfd = ::memfd_create("weft-worker", MFD_CLOEXEC);
  if (memfd < 0) throw std::system_error(errno, std::system_category(), "weft: memfd_create for a worker");
  if (::ftruncate(memfd, static_cast<off_t>(lay.total())) < 0) {
    int err = errno;
    ::close(memfd);
    throw std::system_error(err, std::system_category(), "weft: sizing a worker's shared memory");
  }
  void* base = ::mmap(nullptr, lay.total(), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (base == MAP_FAILED) {
    int err = errno;
    ::close(memfd);
    throw std::system_error(err, std::system_category(), "weft: mapping a worker's shared memory");
  }
  w->ch = channel_view{static_cast<std::byte*>(base), core.opts.arena_size};
  w->map_size = lay.total();
  control& ctl = w->ch.ctl();
  ctl.arena_size = core.opts.arena_size;
  ctl.initializer = reinterpret_cast<std::uintptr_t>(core.opts.initializer);
  copy_start_hooks(ctl.at_start);
  ctl.parent_sleeping.store(1, std::memory_order_relaxed);  // say so until the reader first spins
  try {
    spawned_worker s = fork_server::instance().spawn(memfd, core.eventfd);
    w->pid = s.pid;
    w->pidfd = s.pidfd;
  } catch (...) {
    ::close(memfd);
    throw;
  }
  ::close(memfd);
  return w;
}

/// Waits for the fork server to record w's exit status (it reaps the
/// worker right after the pidfd says it ended).
task<int> exit_status(worker_rec* w) {
  auto pause = std::chrono::microseconds(50);
  for (int i = 0; i < 200; ++i) {
    if (w->ch.ctl().exited.load(std::memory_order_acquire)) co_return w->ch.ctl().exit_status.load();
    co_await weft::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
  }
  co_return -1;  // the fork server is gone too
}

task<void> monitor(std::shared_ptr<pool_core> core, worker_rec* w);
task<void> reader(std::shared_ptr<pool_core> core);
task<void> timer(std::shared_ptr<pool_core> core);

/// Replaces the worker in place `id` (unless the pool is closing).
task<void> replace(std::shared_ptr<pool_core> core, unsigned id) {
  std::unique_ptr<worker_rec> fresh;
  std::exception_ptr failure;
  try {
    // A named lambda: GCC 12 destroys a capturing lambda written inside a
    // co_await expression twice (here: one reference too few on core).
    auto start = [core, id] { return start_worker(*core, id); };
    fresh = co_await weft::spawn_blocking(std::move(start));
  } catch (const operation_cancelled&) {
    throw;
  } catch (...) {
    failure = std::current_exception();
  }
  worker_rec* w = fresh.get();
  {
    wake_batch wake;
    std::lock_guard lock(core->lock);
    if (failure || core->closed) {
      if (failure && core->broken.empty()) {
        try {
          std::rethrow_exception(failure);
        } catch (const std::exception& e) {
          core->broken = e.what();
        }
        fail_pending(*core,
                     std::make_exception_ptr(pool_error("weft: process pool cannot start workers: " + core->broken)),
                     wake);
      }
      if (fresh) fresh->kill(kill_reason::shutdown);
      w = nullptr;
      // (fresh is destroyed below, unmonitored: the fork server reaps it.)
    } else {
      ++core->counters.workers_started;
      ++core->counters.workers_restarted;
      w->monitored = true;
      core->workers[id] = std::move(fresh);
      dispatch_locked(*core, wake);
    }
    core->changed.set();
  }
  if (w) weft::detail::spawn_service(monitor(core, w));
}

/// Settles the calls of a worker that died: results it published are
/// delivered; the call it was running fails (worker_crashed, or
/// timeout_error if we killed it for its deadline); calls it had not taken
/// go back to the front of the queue, in order.
void settle_dead_worker(pool_core& core, worker_rec& w, int status, wake_batch& wake) noexcept {
  drain_worker(core, w, wake);
  std::uint64_t taken = requests_taken(w);
  for (std::uint64_t i = w.next_request; i-- > w.next_result;) {  // newest first: pushed to the front
    call_record* rec = std::exchange(w.calls[i % ring_slots], nullptr);
    if (!rec) continue;
    --core.running_count;
    if (i >= taken) {
      push_pending_front(core, *rec);
      continue;
    }
    std::exception_ptr error;
    switch (w.killed) {
      case kill_reason::timeout:
        error = std::make_exception_ptr(weft::timeout_error(
            "weft::ipc::process_pool::call: timed out after " + describe_duration(core.opts.task_timeout) +
            " (process_pool_options::task_timeout); its worker process " + std::to_string(w.pid) + " was killed"));
        ++core.counters.timed_out;
        break;
      case kill_reason::protocol:
        error = std::make_exception_ptr(protocol_error(w.pid, w.violation));
        ++core.counters.crashed;
        break;
      case kill_reason::shutdown:
        error = std::make_exception_ptr(operation_cancelled{});
        ++core.counters.cancelled;
        break;
      default:
        error = std::make_exception_ptr(worker_crashed(w.pid, status));
        ++core.counters.crashed;
        break;
    }
    finish(core, *rec, std::move(error), wake);
  }
  w.next_result = w.next_request;
}

/// Lets attach() start a new monitor for w if this one ends without
/// having settled it (its runtime shut down).
struct monitor_guard {
  std::shared_ptr<pool_core> core;
  unsigned id;
  worker_rec* w;
  ~monitor_guard() {
    std::lock_guard lock(core->lock);
    if (w && core->workers[id].get() == w) w->monitored = false;
  }
};

task<void> monitor(std::shared_ptr<pool_core> core, worker_rec* w) {
  monitor_guard guard{core, w->id, w};
  for (;;) {
    int r = co_await weft::ops::poll(w->pidfd, POLLIN);
    if (r != -EINTR) break;
  }
  int status = co_await exit_status(w);
  std::unique_ptr<worker_rec> dead;
  bool respawn = false;
  unsigned id = w->id;
  {
    wake_batch wake;
    std::lock_guard lock(core->lock);
    settle_dead_worker(*core, *w, status, wake);
    dead = std::move(core->workers[id]);
    guard.w = nullptr;
    if (w->ch.ctl().init_failed.load(std::memory_order_acquire) && core->broken.empty()) {
      const char* text = w->ch.ctl().init_error;
      core->broken = std::string("the initializer failed in worker process ") + std::to_string(w->pid) + ": " +
                     std::string(text, ::strnlen(text, sizeof w->ch.ctl().init_error));
      fail_pending(*core, std::make_exception_ptr(pool_error("weft: process pool unusable: " + core->broken)), wake);
    }
    respawn = !core->closed && core->broken.empty();
    if (!respawn) fail_pending(*core, std::make_exception_ptr(pool_error(shut_down_message)), wake);
    dispatch_locked(*core, wake);
    core->changed.set();
  }
  if (respawn) co_await replace(core, id);
}

void mark_sleeping(pool_core& core) noexcept {
  for (auto& w : core.workers)
    if (w) w->ch.ctl().parent_sleeping.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the flags before we look at the rings again
}

/// Clears the attachment when the serving tasks' runtime goes away.
struct attachment_guard {
  std::shared_ptr<pool_core> core;
  ~attachment_guard() {
    std::lock_guard lock(core->lock);
    core->attached = nullptr;
  }
};

/// Takes results: looks again at once while calls flow (a caller that
/// awaits one call at a time then never pays for a wake-up), and after a
/// spin window without news sleeps on the eventfd through the driver.
task<void> reader(std::shared_ptr<pool_core> core) {
  attachment_guard guard{core};
  std::uint64_t wake_count = 0;
  std::uint64_t seen_activity = ~std::uint64_t{0};
  steady::time_point quiet_since{};
  spin_budget spin;
  const bool spins = spinning_pays();
  for (;;) {
    std::uint64_t activity;
    {
      wake_batch wake;
      std::lock_guard lock(core->lock);
      if (core->destroyed && core->running_count == 0 && core->pending_count == 0) {
        bool any = std::any_of(core->workers.begin(), core->workers.end(), [](auto& w) { return w != nullptr; });
        if (!any) co_return;
      }
      drain_locked(*core, wake);
      activity = core->activity;
    }
    if (activity != seen_activity && spins) {  // a result or a new call: keep looking
      seen_activity = activity;
      quiet_since = steady::now();
      co_await weft::yield_now();
      continue;
    }
    if (spins && steady::now() - quiet_since < spin.window()) {
      co_await weft::yield_now();
      continue;
    }
    {
      wake_batch wake;
      std::lock_guard lock(core->lock);
      mark_sleeping(*core);
      if (drain_locked(*core, wake)) continue;
    }
    auto slept_from = steady::now();
    int r = co_await weft::ops::read(core->eventfd, &wake_count, sizeof wake_count);
    if (r < 0 && r != -EAGAIN && r != -EINTR)
      throw std::system_error(-r, std::system_category(), "weft: process pool eventfd");
    spin.woke_after(steady::now() - slept_from);
  }
}

/// Kills the workers whose running call passed its deadline.
task<void> timer(std::shared_ptr<pool_core> core) {
  for (;;) {
    core->timer_wake.clear();
    steady::time_point next = steady::time_point::max();
    {
      std::lock_guard lock(core->lock);
      if (core->destroyed) co_return;
      auto now = steady::now();
      for (auto& w : core->workers) {
        if (!w || w->in_flight() == 0 || w->killed != kill_reason::none) continue;
        if (w->deadline <= now) w->kill(kill_reason::timeout);
        else next = std::min(next, w->deadline);
      }
    }
    if (next == steady::time_point::max()) {
      co_await core->timer_wake.wait();
      continue;
    }
    try {
      co_await weft::with_deadline(next, core->timer_wake.wait());
    } catch (const weft::timeout_error&) {
    }
  }
}

/// Starts the serving tasks on the current runtime.
void attach(const std::shared_ptr<pool_core>& core) {
  std::vector<worker_rec*> unmonitored;
  {
    std::lock_guard lock(core->lock);
    for (auto& w : core->workers)
      if (w && !w->monitored) {
        w->monitored = true;
        unmonitored.push_back(w.get());
      }
  }
  weft::detail::spawn_service(reader(core));
  for (worker_rec* w : unmonitored) weft::detail::spawn_service(monitor(core, w));
  if (core->opts.task_timeout.count() > 0) weft::detail::spawn_service(timer(core));
}

void cancel_call(weft::detail::wait_target* target, waiter* w, wake_batch&) noexcept {
  auto& core = static_cast<pool_core&>(*target);
  auto& rec = *static_cast<call_record*>(w->slot);
  ++core.counters.cancelled;
  if (rec.worker < 0) {
    unlink_pending(core, rec);
    return;
  }
  worker_rec* wr = core.workers[static_cast<unsigned>(rec.worker)].get();
  rec.worker = -1;
  if (!wr) return;
  std::uint64_t i = rec.index;
  wr->calls[i % ring_slots] = nullptr;
  --core.running_count;
  slot& s = wr->ch.request(i);
  s.h.cancel.store(1, std::memory_order_seq_cst);
  std::uint64_t taken = requests_taken(*wr);
  bool finished = wr->ch.result(i).h.seq.load(std::memory_order_acquire) == i + 1;
  if (taken > i && !finished) wr->kill(kill_reason::cancel);  // it is running: stop it the only way there is
}

}  // namespace

worker_rec::~worker_rec() {
  if (ch.base) ::munmap(ch.base, map_size);
  if (pidfd >= 0) ::close(pidfd);
}

void worker_rec::kill(kill_reason why) noexcept {
  if (killed == kill_reason::none) killed = why;
  if (pidfd >= 0) sys_pidfd_send_signal(pidfd, SIGKILL);
}

pool_core::pool_core(const process_pool_options& o) : wait_target(&cancel_call), opts(o) {
  target_workers = opts.workers ? opts.workers : std::max(1u, std::thread::hardware_concurrency());
  if (opts.arena_size < slot_capacity) opts.arena_size = slot_capacity;
  opts.arena_size = (opts.arena_size + page_size - 1) / page_size * page_size;
  eventfd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (eventfd < 0) throw std::system_error(errno, std::system_category(), "weft: eventfd for a process pool");
}

pool_core::~pool_core() {
  for (auto& w : workers)
    if (w) w->kill(kill_reason::shutdown);
  workers.clear();
  if (eventfd >= 0) ::close(eventfd);
}

weft::detail::wait_target& target_of(pool_core& core) noexcept { return core; }

bool admit(pool_core& core) noexcept {
  std::lock_guard lock(core.lock);
  if (core.closed) return false;
  ++core.admitted;
  return true;
}

void unadmit(pool_core& core) noexcept {
  wake_batch wake;
  std::lock_guard lock(core.lock);
  --core.admitted;
  dispatch_locked(core, wake);  // shutdown may have waited for this one
  core.changed.set();
}

bool enqueue_locked(pool_core& core, call_record& rec, waiter& w, submit_effects& fx, bool admitted) {
  w.slot = &rec;
  if (admitted) --core.admitted;
  if (!core.broken.empty()) {
    rec.error = std::make_exception_ptr(pool_error("weft: process pool unusable: " + core.broken));
    return true;
  }
  if (core.closed && !(admitted && core.closing == shutdown_mode::wait)) {
    if (core.dropped) rec.error = std::make_exception_ptr(pool_error(destroyed_message));
    else if (admitted) rec.error = std::make_exception_ptr(operation_cancelled{});
    else rec.error = std::make_exception_ptr(pool_error(shut_down_message));
    return true;
  }
  weft::runtime* here = weft::runtime::current();
  if (!core.attached && here) {
    core.attached = here;
    fx.attach = core.self.lock();
  }
  ++core.activity;
  push_pending_back(core, rec);
  w.state = waiter::queued;
  core.submitting = &rec;  // if it fails at once (too large), finish() leaves it to us
  wake_batch wake;         // other calls may finish meanwhile
  dispatch_locked(core, wake);
  if (core.submitting != &rec) {
    w.state = waiter::idle;
    return true;  // done already: do not suspend
  }
  core.submitting = nullptr;
  return false;
}

void after_enqueue(pool_core&, submit_effects& fx) noexcept {
  if (fx.attach) {
    try {
      attach(fx.attach);
    } catch (...) {
      std::lock_guard lock(fx.attach->lock);
      fx.attach->attached = nullptr;
    }
  }
}

std::shared_ptr<pool_core> make_pool_core(const process_pool_options& options) {
  auto core = std::make_shared<pool_core>(options);
  core->self = core;
  core->workers.resize(core->target_workers);
  for (unsigned i = 0; i < core->target_workers; ++i) {  // on a failure, ~pool_core kills the ones started
    core->workers[i] = start_worker(*core, i);
    ++core->counters.workers_started;
  }
  if (weft::runtime::current()) {
    std::lock_guard lock(core->lock);
    core->attached = weft::runtime::current();
  }
  if (core->attached) attach(core);
  return core;
}

void shutdown_now(pool_core& core) noexcept {
  wake_batch wake;
  std::lock_guard lock(core.lock);
  core.closed = true;
  core.closing = shutdown_mode::immediate;  // calls made before but awaited after fail too
  core.destroyed = true;
  core.dropped = true;
  auto gone = std::make_exception_ptr(pool_error(destroyed_message));
  fail_pending(core, gone, wake);
  for (auto& w : core.workers) {
    if (!w) continue;
    for (auto& rec : w->calls)
      if (rec) {
        finish(core, *rec, gone, wake);
        rec = nullptr;
        --core.running_count;
      }
    w->next_result = w->next_request;
    w->kill(kill_reason::shutdown);
  }
  if (!core.attached) core.workers.clear();  // nobody will reap them here: the fork server does
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(core.eventfd, &one, sizeof one);
  core.timer_wake.set();
}

task<void> shutdown_core(std::shared_ptr<pool_core> core, shutdown_mode mode) {
  bool need_attach = false;
  {
    wake_batch wake;
    std::lock_guard lock(core->lock);
    core->closed = true;
    core->closing = mode;
    if (mode != shutdown_mode::wait) fail_pending(*core, std::make_exception_ptr(operation_cancelled{}), wake);
    for (auto& w : core->workers) {
      if (!w) continue;
      if (mode == shutdown_mode::immediate) w->kill(kill_reason::shutdown);
    }
    dispatch_locked(*core, wake);  // stops the idle workers
    if (!core->attached) {
      core->attached = weft::runtime::current();
      need_attach = core->attached != nullptr;
    }
  }
  if (need_attach) attach(core);
  for (;;) {
    core->changed.clear();
    {
      std::lock_guard lock(core->lock);
      bool any = std::any_of(core->workers.begin(), core->workers.end(), [](auto& w) { return w != nullptr; });
      if (!any && core->pending_count == 0) break;
    }
    co_await core->changed.wait();
  }
  {
    std::lock_guard lock(core->lock);
    core->destroyed = true;  // the serving tasks may end
  }
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(core->eventfd, &one, sizeof one);
  core->timer_wake.set();
}

pool_stats stats_of(pool_core& core) {
  std::lock_guard lock(core.lock);
  pool_stats s = core.counters;
  s.workers = static_cast<unsigned>(
      std::count_if(core.workers.begin(), core.workers.end(), [](auto& w) { return w != nullptr; }));
  s.queued = core.pending_count;
  s.running = core.running_count;
  return s;
}

std::vector<int> worker_pids_of(pool_core& core) {
  std::lock_guard lock(core.lock);
  std::vector<int> pids;
  for (auto& w : core.workers)
    if (w) pids.push_back(w->pid);
  return pids;
}

unsigned worker_count_of(pool_core& core) noexcept {
  std::lock_guard lock(core.lock);
  return static_cast<unsigned>(
      std::count_if(core.workers.begin(), core.workers.end(), [](auto& w) { return w != nullptr; }));
}

std::size_t default_chunk_size(std::size_t items, unsigned workers) noexcept {
  std::size_t chunks = std::size_t{workers ? workers : 1} * 4;
  return std::max<std::size_t>(1, (items + chunks - 1) / chunks);
}

}  // namespace weft::ipc::detail

namespace weft::ipc {

process_pool::process_pool(process_pool_options options) : core_(detail::make_pool_core(options)) {}

process_pool::~process_pool() {
  if (core_) detail::shutdown_now(*core_);
}

process_pool& default_pool() {
  // Never destroyed: its workers die with the program. A forked child of
  // the program gets a pool of its own (the inherited one's workers
  // belong to the parent).
  static std::mutex mu;
  static process_pool* pool = nullptr;
  static pid_t owner = 0;
  std::lock_guard lock(mu);
  if (!pool || owner != ::getpid()) {
    process_pool_options o;
    if (const char* env = std::getenv("WEFT_PROCESS_WORKERS")) o.workers = static_cast<unsigned>(std::atoi(env));
    pool = new process_pool(o);
    owner = ::getpid();
  }
  return *pool;
}

}  // namespace weft::ipc
