#include "scheduler.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "weft/runtime/errors.hpp"

namespace weft::detail {

constinit thread_local thread_context tls_context{};

namespace {

constexpr std::uintptr_t initial_bit = 1;

task_header* header_of(std::uintptr_t e) noexcept { return reinterpret_cast<task_header*>(e & ~initial_bit); }

}  // namespace

// ---------------------------------------------------------------- registry

void task_registry::sweep() noexcept {
  task_header** link = &head;
  while (task_header* t = *link) {
    if (t->is_complete()) {
      *link = t->next;
      --size;
      t->release();
    } else {
      link = &t->next;
    }
  }
  size_after_sweep = size;
}

// ---------------------------------------------------------------- worker

worker::worker(runtime_impl& rt, unsigned index) : rt_(rt), index_(index), rng_(0x9E3779B97F4A7C15ull * (index + 1)) {}

void worker::start() {
  thread_ = std::thread([this] { main(); });
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

std::uint32_t worker::random_below(std::uint32_t n) noexcept {
  // xorshift64*: cheap and good enough for picking victims.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return static_cast<std::uint32_t>(((rng_ * 0x2545F4914F6CDD1Dull) >> 32) % n);
}

void worker::main() {
  std::string name = rt_.options.thread_name + "-" + std::to_string(index_);
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
  this_thread().worker = this;
  try {
    driver_ = rt_.backend == io_backend::io_uring
                  ? make_uring_driver(rt_.options.ring_entries, rt_.options.recv_buffers, rt_.options.recv_buffer_size)
                  : make_epoll_driver();
  } catch (...) {
    std::lock_guard lock(rt_.start_mu);
    if (!rt_.start_error) rt_.start_error = std::current_exception();
    ++rt_.started;
    rt_.start_cv.notify_all();
    this_thread().worker = nullptr;
    return;
  }
  {
    std::lock_guard lock(rt_.start_mu);
    ++rt_.started;
    rt_.start_cv.notify_all();
  }
  {
    // Run nothing until every worker is up (or start-up failed).
    std::unique_lock lock(rt_.start_mu);
    rt_.start_cv.wait(lock, [&] { return rt_.started == rt_.workers.size(); });
  }
  if (!rt_.start_error) loop();
  driver_->drain();
  wheel_.clear();
  this_thread().worker = nullptr;
}

void worker::loop() {
  while (!rt_.stopping.load(std::memory_order_acquire)) {
    ++tick_;
    hand_offs_ = 0;
    std::uintptr_t e = next_task();
    if (!e) e = search();
    if (e) {
      // A searcher that found work, wherever, stops searching (and wakes
      // the next one if it was the last), or pushes would never wake anyone.
      leave_searching();
      run_entry(e);
      continue;
    }
    park();
  }
}

std::uintptr_t worker::next_task() {
  if (tick_ % event_interval == 0) {
    maintenance();
    if (std::uintptr_t e = rt_.inject.pop()) {  // fairness for outside work
      worker_counters::bump(counters_.inject_pops);
      return e;
    }
  }
  if (lifo_ && lifo_streak_ < max_lifo_polls) {
    ++lifo_streak_;
    worker_counters::bump(counters_.lifo_polls);
    return std::exchange(lifo_, 0);
  }
  lifo_streak_ = 0;
  if (std::uintptr_t e = queue_.pop()) return e;
  if (lifo_) {
    worker_counters::bump(counters_.lifo_polls);
    return std::exchange(lifo_, 0);
  }
  // Refill from the inject queue: take a share, run one.
  std::uintptr_t batch[32];
  std::size_t want = std::max<std::size_t>(1, std::min<std::size_t>(32, rt_.inject.size() / rt_.workers.size()));
  std::size_t n = rt_.inject.pop_many(batch, want);
  if (n == 0) return 0;
  worker_counters::bump(counters_.inject_pops, n);
  for (std::size_t i = 1; i < n; ++i)
    queue_.push_back(batch[i], [&](const std::uintptr_t* es, std::size_t k) { rt_.inject.push(es, k); });
  return batch[0];
}

std::uintptr_t worker::search() {
  if (rt_.workers.size() == 1) {
    if (std::uintptr_t e = rt_.inject.pop()) {
      worker_counters::bump(counters_.inject_pops);
      return e;
    }
    return 0;
  }
  if (!searching_) {
    // Cap the searchers at about half the workers: more only burn CPU.
    std::uint32_t s = rt_.num_searching.load(std::memory_order_seq_cst);
    if (2 * s >= rt_.workers.size()) return 0;
    rt_.num_searching.fetch_add(1, std::memory_order_seq_cst);
    searching_ = true;
  }
  const auto n = static_cast<std::uint32_t>(rt_.workers.size());
  const std::uint32_t start = random_below(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    worker& victim = *rt_.workers[(start + i) % n];
    if (&victim == this) continue;
    worker_counters::bump(counters_.steal_attempts);
    std::uint32_t before = queue_.size();
    if (std::uintptr_t e = victim.queue_.steal_into(queue_)) {
      worker_counters::bump(counters_.steal_operations);
      worker_counters::bump(counters_.stolen, queue_.size() - before + 1);
      return e;
    }
  }
  if (std::uintptr_t e = rt_.inject.pop()) {
    worker_counters::bump(counters_.inject_pops);
    return e;
  }
  return 0;
}

void worker::leave_searching() {
  if (!searching_) return;
  searching_ = false;
  // The last searcher to find work wakes another worker to keep looking.
  if (rt_.num_searching.fetch_sub(1, std::memory_order_seq_cst) == 1) rt_.notify_parked();
}

void worker::run_entry(std::uintptr_t e) {
  task_header* t = header_of(e);
  const bool initial = e & initial_bit;
  if (initial && !t->try_start()) {  // its joiner already ran it
    t->release();
    return;
  }
  worker_counters::bump(counters_.polled);
  auto& ctx = this_thread();
  ctx.current = t;
  in_task_ = true;
  run_seq_.store(++run_seq_local_, std::memory_order_relaxed);  // odd: in a task
  // Cancelled before it ever ran: it never runs.
  if (initial && t->root_scope.stop_requested()) resume_all(abort_unstarted(t));
  else resume_all(t->resume_point);
  run_seq_.store(++run_seq_local_, std::memory_order_relaxed);
  in_task_ = false;
  ctx.current = nullptr;
  if (initial) t->release();
}

void worker::sweep_registries() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_sweep_ < std::chrono::milliseconds(100)) return;
  last_sweep_ = now;
  if (registry_.size) registry_.sweep();
  if (index_ == 0) {  // one worker looks after the cells spawned from outside
    std::lock_guard lock(rt_.external_mu);
    if (rt_.external_registry.size) rt_.external_registry.sweep();
  }
}

void worker::schedule_local(std::uintptr_t entry, bool lifo, bool notify) {
  if (lifo && in_task_) {
    std::uintptr_t prev = std::exchange(lifo_, entry);
    if (!prev) return;  // the LIFO slot cannot be stolen: no one to wake for it
    entry = prev;
  }
  if (queue_.size() >= queue_capacity) compact();
  auto pushed = queue_.push_back(entry, [&](const std::uintptr_t* es, std::size_t n) { rt_.inject.push(es, n); });
  if (pushed.overflowed) {
    worker_counters::bump(counters_.overflows);
    if (notify) rt_.notify_parked();  // the inject queue's push is no seq_cst store
  } else if (notify && pushed.was_empty) {
    rt_.notify_parked_after_push();
  }
}

void worker::compact() {
  // Fork-join code (a task that spawns, then joins each child inline)
  // leaves the spawn entries of children its joins already ran: drop those
  // instead of moving half the queue to the inject queue.
  std::uintptr_t all[queue_capacity];
  const std::uint32_t n = queue_.take_all(all);
  std::uintptr_t* keep = all;
  std::size_t kept = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uintptr_t e = all[i];
    task_header* t = header_of(e);
    if ((e & initial_bit) && (t->state.load(std::memory_order_acquire) & task_header::started)) t->release();
    else keep[kept++] = e;
  }
  for (std::size_t i = 0; i < kept; ++i)
    queue_.push_back(keep[i], [&](const std::uintptr_t* es, std::size_t n) { rt_.inject.push(es, n); });
}

bool worker::may_hand_off() noexcept {
  if (hand_offs_ >= max_hand_offs) return false;
  ++hand_offs_;
  worker_counters::bump(counters_.hand_offs);
  return true;
}

std::size_t worker::fire_timers() {
  if (wheel_.size() == 0) return 0;
  return wheel_.advance(wheel_.now_tick());
}

void worker::maintenance() {
  std::size_t n = driver_->wait(std::chrono::milliseconds(0));
  if (n) worker_counters::bump(counters_.io_completions, n);
  fire_timers();
}

void worker::park() {
  // Submit what the tasks queued, reap what is ready, fire due timers:
  // that may be all the work we were missing.
  maintenance();
  if (!queue_.empty() || lifo_) return;
  sweep_registries();

  if (searching_) {
    searching_ = false;
    rt_.num_searching.fetch_sub(1, std::memory_order_seq_cst);
  }
  {
    std::lock_guard lock(rt_.sleepers_mu);
    rt_.sleepers.push_back(index_);
    rt_.num_idle.fetch_add(1, std::memory_order_seq_cst);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);

  bool work = rt_.any_work() || rt_.stopping.load(std::memory_order_acquire);
  if (!work) {
    std::optional<std::chrono::milliseconds> timeout;
    if (auto next = wheel_.next_expiry()) {
      std::uint64_t now = wheel_.now_tick();
      // Capped: a timer years away must not overflow a driver's timeout.
      constexpr std::uint64_t max_wait_ms = 3'600'000;
      timeout = std::chrono::milliseconds(*next > now ? std::min(*next - now, max_wait_ms) : 0);
    }
    worker_counters::bump(counters_.parks);
    std::size_t n = driver_->wait(timeout);
    if (n) worker_counters::bump(counters_.io_completions, n);
  }

  {
    std::lock_guard lock(rt_.sleepers_mu);
    if (notified_.exchange(false, std::memory_order_acq_rel)) {
      // notify_parked() took us off the list and counted us as searching.
      searching_ = true;
      worker_counters::bump(counters_.wakeups);
    } else {
      auto it = std::find(rt_.sleepers.begin(), rt_.sleepers.end(), index_);
      if (it != rt_.sleepers.end()) rt_.sleepers.erase(it);
      rt_.num_idle.fetch_sub(1, std::memory_order_seq_cst);
    }
  }
  fire_timers();
}

worker_metrics worker::snapshot() const noexcept {
  auto r = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  worker_metrics m;
  m.tasks_polled = r(counters_.polled);
  m.tasks_spawned = r(counters_.spawned);
  m.tasks_completed = r(counters_.completed);
  m.tasks_stolen = r(counters_.stolen);
  m.steal_attempts = r(counters_.steal_attempts);
  m.steal_operations = r(counters_.steal_operations);
  m.parks = r(counters_.parks);
  m.wakeups = r(counters_.wakeups);
  m.inject_pops = r(counters_.inject_pops);
  m.local_overflows = r(counters_.overflows);
  m.lifo_polls = r(counters_.lifo_polls);
  m.hand_offs = r(counters_.hand_offs);
  m.io_completions = r(counters_.io_completions);
  m.timers_fired = wheel_.fired_total();
  m.stalls = stalls_.load(std::memory_order_relaxed);
  m.local_queue_depth = queue_.size();
  return m;
}

// ---------------------------------------------------------------- runtime_impl

void runtime_impl::notify_parked() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  notify_parked_after_push();
}

void runtime_impl::notify_parked_after_push() noexcept {
  if (num_searching.load(std::memory_order_seq_cst) != 0 || num_idle.load(std::memory_order_seq_cst) == 0) return;
  worker* w = nullptr;
  {
    std::lock_guard lock(sleepers_mu);
    if (num_searching.load(std::memory_order_relaxed) != 0 || sleepers.empty()) return;
    w = workers[sleepers.back()].get();
    sleepers.pop_back();
    num_idle.fetch_sub(1, std::memory_order_seq_cst);
    num_searching.fetch_add(1, std::memory_order_seq_cst);
    w->notified_.store(true, std::memory_order_release);
  }
  w->driver_->unpark();
}

bool runtime_impl::any_work() const noexcept {
  if (inject.size()) return true;
  for (const auto& w : workers)
    if (!w->queue_.empty()) return true;
  return false;
}

void runtime_impl::push_inject(std::uintptr_t e) noexcept {
  inject.push(e);
  notify_parked();
}

void runtime_impl::submit(task_header* cell) noexcept {
  worker* w = this_worker_ptr();
  const auto entry = reinterpret_cast<std::uintptr_t>(cell) | initial_bit;
  cell->rt_id = id;
  // Spawned by a service task (or its descendants): a service task too.
  if (const task_header* parent = this_thread().current;
      parent && (parent->state.load(std::memory_order_relaxed) & task_header::service))
    cell->set_flags(task_header::service);
  if (w && &w->rt() == this) {
    w->registry().insert(cell);
    worker_counters::bump(w->counters_.spawned);
    w->schedule_local(entry, false);
  } else {
    {
      std::lock_guard lock(external_mu);
      external_registry.insert(cell);
    }
    external_spawns.fetch_add(1, std::memory_order_relaxed);
    push_inject(entry);
  }
}

void runtime_impl::wake(task_header* t) noexcept {
  if (destroying_) return;
  worker* w = this_worker_ptr();
  const auto entry = reinterpret_cast<std::uintptr_t>(t);
  if (w && &w->rt() == this) {
    w->schedule_local(entry, true);
  } else {
    foreign_wakers.fetch_add(1, std::memory_order_acq_rel);
    push_inject(entry);
    foreign_wakers.fetch_sub(1, std::memory_order_release);
  }
}

void print_unhandled(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "weft: unhandled exception in a detached task: %s\n", ex.what());
  } catch (...) {
    std::fprintf(stderr, "weft: unhandled non-standard exception in a detached task\n");
  }
}

void runtime_impl::report(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const operation_cancelled&) {
    return;  // cancellation is an expected way to end
  } catch (...) {
  }
  if (!options.unhandled_exception) return print_unhandled(e);
  try {
    options.unhandled_exception(e);
  } catch (...) {
    print_unhandled(std::current_exception());
  }
}

runtime_metrics runtime_impl::metrics() const {
  runtime_metrics m;
  for (const auto& w : workers) m.workers.push_back(w->snapshot());
  m.inject_queue_depth = inject.size();
  worker_metrics t = m.total();
  const std::uint64_t spawned = t.tasks_spawned + external_spawns.load(std::memory_order_relaxed);
  m.live_tasks = spawned > t.tasks_completed ? spawned - t.tasks_completed : 0;
  const blocking_pool::figures b = blocking.snapshot();
  m.blocking_threads = b.threads;
  m.blocking_idle = b.idle;
  m.blocking_queue_depth = b.queued;
  return m;
}

}  // namespace weft::detail

namespace weft::detail {

void schedule_yield(task_header* t) noexcept {
  worker* w = this_worker_ptr();
  const auto entry = reinterpret_cast<std::uintptr_t>(t);
  runtime_impl* rt = runtime_of(t);
  // A yield re-queues the task that was running here: that makes no new
  // work for a sleeping worker, so wake nobody (as Tokio's yield_now).
  if (w && &w->rt() == rt) w->schedule_local(entry, false, false);
  else rt->push_inject(entry);
}

}  // namespace weft::detail
