// The public runtime object, spawning and completion bookkeeping.
#include "weft/runtime/runtime.hpp"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "scheduler.hpp"
#include "stall_detector.hpp"
#include "weft/runtime/detail/start_hooks.hpp"
#include "weft/runtime/errors.hpp"

namespace weft {

const char* to_string(io_backend b) noexcept {
  switch (b) {
    case io_backend::automatic: return "automatic";
    case io_backend::io_uring: return "io_uring";
    case io_backend::epoll: return "epoll";
  }
  return "?";
}

worker_metrics& worker_metrics::operator+=(const worker_metrics& o) noexcept {
  tasks_polled += o.tasks_polled;
  tasks_spawned += o.tasks_spawned;
  tasks_completed += o.tasks_completed;
  tasks_stolen += o.tasks_stolen;
  steal_attempts += o.steal_attempts;
  steal_operations += o.steal_operations;
  parks += o.parks;
  wakeups += o.wakeups;
  inject_pops += o.inject_pops;
  local_overflows += o.local_overflows;
  lifo_polls += o.lifo_polls;
  hand_offs += o.hand_offs;
  io_completions += o.io_completions;
  timers_fired += o.timers_fired;
  stalls += o.stalls;
  local_queue_depth += o.local_queue_depth;
  return *this;
}

namespace detail {

namespace {

// Runtimes alive now, by id: cells name their runtime by a 32-bit id
// (slot and generation) rather than a pointer, which keeps cells small
// and tells a handle dropped after its runtime died that it is gone.
struct runtime_table {
  static constexpr std::size_t max = 1024;
  std::mutex mu;
  std::array<std::atomic<runtime_impl*>, max> slots{};
  std::array<std::uint16_t, max> generation{};  // guarded by mu

  std::uint32_t add(runtime_impl* rt) {
    std::lock_guard lock(mu);
    for (std::size_t i = 0; i < max; ++i)
      if (!slots[i].load(std::memory_order_relaxed)) {
        slots[i].store(rt, std::memory_order_release);
        return static_cast<std::uint32_t>(++generation[i]) << 16 | static_cast<std::uint32_t>(i);
      }
    throw std::runtime_error("weft: too many runtimes alive at once");
  }
  void remove(std::uint32_t id) {
    std::lock_guard lock(mu);
    slots[id & 0xffff].store(nullptr, std::memory_order_release);
  }
  // mu held.
  runtime_impl* alive(std::uint32_t id) {
    std::size_t i = id & 0xffff;
    return generation[i] == (id >> 16) ? slots[i].load(std::memory_order_relaxed) : nullptr;
  }
};
runtime_table table;

io_backend choose_backend(io_backend wanted) {
  if (wanted == io_backend::automatic) {
    if (const char* env = std::getenv("WEFT_IO")) {
      std::string_view v(env);
      if (v == "epoll") return io_backend::epoll;
      if (v == "uring" || v == "io_uring") wanted = io_backend::io_uring;
      else if (!v.empty() && v != "auto" && v != "automatic")
        throw std::invalid_argument("WEFT_IO must be uring, epoll or auto, not '" + std::string(v) + "'");
    }
  }
  if (wanted == io_backend::epoll) return io_backend::epoll;
  if (uring_supported()) return io_backend::io_uring;
  if (wanted == io_backend::io_uring)
    throw std::runtime_error("weft: io_uring was requested but the kernel refuses it");
  return io_backend::epoll;
}

std::mutex start_hooks_mu;
std::array<void (*)(), 8> start_hooks{};

}  // namespace

void add_start_hook(void (*f)()) noexcept {
  std::lock_guard lock(start_hooks_mu);
  for (auto& slot : start_hooks) {
    if (slot == f) return;
    if (!slot) {
      slot = f;
      return;
    }
  }
  std::abort();  // more layers than slots: a programming error
}

void run_start_hooks() noexcept {
  std::array<void (*)(), 8> hooks;
  {
    std::lock_guard lock(start_hooks_mu);
    hooks = start_hooks;
  }
  for (auto f : hooks)
    if (f) f();
}

runtime_impl::runtime_impl(weft::runtime& o, runtime_options opts)
    : owner(o),
      options(std::move(opts)),
      blocking(options.thread_name, options.max_blocking_threads, options.blocking_keep_alive) {
  // A receive into 0 bytes returns 0, which every caller reads as the
  // peer's end of stream: refuse it here rather than close connections.
  if (options.recv_buffer_size == 0)
    throw std::invalid_argument("weft::runtime_options: recv_buffer_size is 0; it must be at least 1 byte");
  run_start_hooks();  // before any thread or ring of ours exists
  backend = choose_backend(options.io);
  id = table.add(this);
  unsigned n = options.workers ? options.workers : std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  workers.reserve(n);
  for (unsigned i = 0; i < n; ++i) workers.push_back(std::make_unique<worker>(*this, i));
  for (auto& w : workers) w->start();
  std::unique_lock lock(start_mu);
  start_cv.wait(lock, [&] { return started == workers.size(); });
  if (start_error) {
    lock.unlock();
    for (auto& w : workers) w->join();
    table.remove(id);
    std::rethrow_exception(start_error);
  }
  lock.unlock();
  if (options.stall_threshold.count() > 0) stalls = std::make_unique<stall_detector>(*this);
}

runtime_impl::~runtime_impl() {
  shutdown();
  table.remove(id);
}

void runtime_impl::shutdown() noexcept {
  if (destroying_) return;
  stalls.reset();  // its thread signals workers: gone before they are
  // First, while the workers still run: the tasks of dropped and running
  // jobs wake and end normally.
  blocking.shutdown();
  stopping.store(true, std::memory_order_release);
  for (auto& w : workers) w->driver_->unpark();
  for (auto& w : workers) w->join();
  while (foreign_wakers.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  destroying_ = true;
  const std::size_t unfinished = destroy_remaining_tasks();
  if (unfinished > 0 && options.report_unfinished) {
    const bool one = unfinished == 1;
    std::fprintf(stderr,
                 "weft: runtime shut down with %zu task%s unfinished; %s destroyed "
                 "(runtime_options::report_unfinished = false silences this)\n",
                 unfinished, one ? "" : "s", one ? "it was" : "they were");
  }
}

std::size_t runtime_impl::destroy_remaining_tasks() noexcept {
  // Queue entries made by spawn hold a reference; the rest are wake-ups of
  // tasks the registry still knows.
  auto drop_entry = [](std::uintptr_t e) {
    if (e & 1) reinterpret_cast<task_header*>(e & ~std::uintptr_t{1})->release();
  };
  for (auto& w : workers) {
    while (std::uintptr_t e = w->queue_.pop()) drop_entry(e);
    if (w->lifo_) drop_entry(std::exchange(w->lifo_, 0));
  }
  while (std::uintptr_t e = inject.pop()) drop_entry(e);

  // Nothing runs any more: first stop every unfinished task without running
  // its stop callback, so that a frame destroyed below that cancels another
  // task (a handle given up on, a child_set) finds it stopped already and
  // touches no awaiter, timer or driver of it.
  auto abandon_unfinished = [](task_registry& r) {
    for (task_header* t = r.head; t; t = t->next)
      if (!t->is_complete()) t->root_scope.abandon();
  };
  for (auto& w : workers) abandon_unfinished(w->registry_);
  abandon_unfinished(external_registry);

  std::size_t unfinished = 0;  // not counting service tasks
  auto destroy_unfinished = [&unfinished](task_registry& r) {
    // The registry's reference keeps every listed cell alive meanwhile.
    for (task_header* t = r.head; t; t = t->next) {
      if (t->is_complete()) continue;
      if (!(t->state.load(std::memory_order_relaxed) & task_header::service)) ++unfinished;
      // Destroying the frame runs its destructors, which may drop handles
      // of other cells (they stay valid: handles hold references).
      auto root = std::exchange(t->root, {});
      this_thread().current = t;
      if (root) root.destroy();
      this_thread().current = nullptr;
      // The frame may have left its suspension point's stop callback
      // registered: a handle's cancel() (from a frame destroyed later)
      // must not run it.
      t->root_scope.abandon();
      t->scope = &t->root_scope;
      t->ops->abort(t);
      t->set_flags(task_header::started | task_header::complete);
      // Joiners still alive hear of it (the dead ones unregistered when
      // their frames were destroyed); nothing runs any more, so ignore
      // whom they would wake.
      if (join_listener* l = t->joiner.exchange(listener_done, std::memory_order_acq_rel)) l->notify(l);
    }
  };
  auto release_all = [](task_registry& r) {
    while (task_header* t = r.head) {
      r.head = t->next;
      t->release();
    }
    r.size = r.size_after_sweep = 0;
  };
  for (auto& w : workers) destroy_unfinished(w->registry_);
  destroy_unfinished(external_registry);
  for (auto& w : workers) release_all(w->registry_);
  release_all(external_registry);
  return unfinished;
}

runtime_impl* runtime_of(const task_header* t) noexcept {
  return table.slots[t->rt_id & 0xffff].load(std::memory_order_acquire);
}

runtime_impl& current_runtime() {
  worker* w = this_worker_ptr();
  if (!w) throw std::logic_error("weft::spawn called outside a runtime worker (use runtime::spawn)");
  return w->rt();
}

void submit_cell(task_header* cell, runtime_impl& rt) noexcept { rt.submit(cell); }

void schedule_wake(task_header* t) noexcept { runtime_of(t)->wake(t); }

bool may_hand_off() noexcept {
  worker* w = this_worker_ptr();
  return w && w->may_hand_off();
}

void report_unjoined_error(task_header* cell, std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const operation_cancelled&) {
    return;
  } catch (...) {
  }
  {
    std::lock_guard lock(table.mu);
    if (runtime_impl* rt = table.alive(cell->rt_id)) {
      rt->report(std::move(e));
      return;
    }
  }
  print_unhandled(e);
}

std::coroutine_handle<> finish_task(task_header* t, bool failed) noexcept {
  if (worker* w = this_worker_ptr()) w->count_completed();
  // Once `complete` is set, the registry's sweep (on the worker that owns
  // t, maybe another thread) may drop the frame's reference, and a joiner
  // or a dropped handle the last other one: t could be freed while this
  // function still uses it (the joiner exchange below would then write into
  // a reused cell). So the flag comes with a reference of our own, in the
  // same atomic step, dropped when t is no longer needed.
  const auto prev = t->state.fetch_add(task_header::complete + task_header::ref_unit, std::memory_order_acq_rel) &
                    (task_header::ref_unit - 1);  // complete was not set: adding it sets it
  join_listener* l = t->joiner.exchange(listener_done, std::memory_order_acq_rel);
  task_header* next = l ? l->notify(l) : nullptr;
  // Nobody will join it: its failure goes to the handler. (Read only now:
  // with a handle alive the joiner may be consuming the result already.)
  // A task given up on (quiet) is not reported, whatever it ended with.
  if (failed && (prev & task_header::handle_dropped) && !(prev & task_header::quiet))
    runtime_of(t)->report(t->ops->error(t));
  t->release();
  if (next) {
    if (may_hand_off()) return hand_off(next);
    schedule_wake(next);
  }
  this_thread().current = nullptr;
  return std::noop_coroutine();
}

std::coroutine_handle<> abort_unstarted(task_header* t) noexcept {
  if (auto root = std::exchange(t->root, {})) root.destroy();
  t->ops->abort(t);
  return finish_task(t, true);
}

void check_may_block(const char* what) {
  if (this_worker_ptr())
    throw std::logic_error(std::string(what) + " called on a runtime worker thread; co_await instead");
}

void block_until_complete(task_header* cell) {
  check_may_block("weft: blocking wait");
  // The notifier signals under the mutex, so this frame cannot be gone
  // before notify_one() returns.
  struct waiter : join_listener {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  } w;
  w.notify = [](join_listener* l) noexcept -> task_header* {
    auto* self = static_cast<waiter*>(l);
    std::lock_guard lock(self->mu);
    self->done = true;
    self->cv.notify_one();
    return nullptr;
  };
  join_listener* expected = nullptr;
  if (!cell->joiner.compare_exchange_strong(expected, &w, std::memory_order_acq_rel)) return;
  std::unique_lock lock(w.mu);
  w.cv.wait(lock, [&] { return w.done; });
}

}  // namespace detail

runtime::runtime(runtime_options options) : impl_(std::make_unique<detail::runtime_impl>(*this, std::move(options))) {}

runtime::~runtime() { impl_->shutdown(); }

unsigned runtime::worker_count() const noexcept { return static_cast<unsigned>(impl_->workers.size()); }

io_backend runtime::io_backend() const noexcept { return impl_->backend; }

runtime_metrics runtime::metrics() const { return impl_->metrics(); }

runtime* runtime::current() noexcept {
  detail::worker* w = detail::this_worker_ptr();
  return w ? &w->rt().owner : nullptr;
}

std::optional<std::size_t> this_worker() noexcept {
  detail::worker* w = detail::this_worker_ptr();
  if (!w) return std::nullopt;
  return w->index();
}

}  // namespace weft
