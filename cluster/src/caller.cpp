// Rank 0: the pools' queues, what the progress thread sends for them, and
// how outcomes coming back complete the awaiting tasks.
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine.hpp"
#include "weft/cluster/init.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/sync/event.hpp"

namespace weft::cluster::detail {

using weft::detail::wait_target;
using weft::detail::waiter;
using weft::detail::wake_batch;

namespace {

constexpr const char* shut_down_message = "weft::cluster: the pool is shut down";
constexpr const char* destroyed_message = "weft::cluster: the pool was destroyed";
constexpr const char* no_servers_message =
    "weft::cluster: the job has no serving ranks (started without mpirun, or with mpirun -n 1): start it with "
    "mpirun -n 2 or more";
// Work queued per worker on its rank, in nanoseconds of measured task time
// (the local pool's rule: enough to hide a round trip, not so much that
// one rank hoards the tail of a map).
constexpr double queue_budget_ns = 2e6;
// Tiny calls: deep enough that a batch fills every local worker for a
// while (the serving rank groups them into few local-pool calls).
constexpr unsigned max_depth = 8192;
// A batch message grows to about this before the rest waits for the next one.
constexpr std::size_t batch_bytes = std::size_t{64} << 20;

}  // namespace

struct pool_core : wait_target {
  explicit pool_core(const pool_options& o);

  std::uint32_t id = 0;
  pool_options opts;
  std::vector<unsigned> workers;  // per rank (0 for rank 0)
  unsigned total_workers = 0;
  weft::event done;  // shutdown finished on every rank

  // Under the lock.
  call_record* pending_head = nullptr;
  call_record* pending_tail = nullptr;
  std::size_t pending_count = 0;
  std::unordered_map<std::uint64_t, call_record*> running;
  std::vector<std::pair<int, std::uint64_t>> cancels;  // (rank, task) to cancel there
  std::vector<unsigned> in_flight;                     // per rank: sent, outcome not back
  std::vector<std::uint64_t> finished_by_rank;
  /// Per rank, what its local pool last reported of its workers.
  struct workers_report {
    unsigned alive = 0;
    std::uint64_t started = 0, restarted = 0;
  };
  std::vector<workers_report> reported;
  pool_stats counters;
  std::uint64_t next_id = 1;
  std::size_t admitted = 0;  // calls made before shutdown, not yet enqueued
  double task_ns = 0;
  bool opened = false;
  bool closed = false;
  bool shutdown_sent = false;
  bool finished = false;
  shutdown_mode closing = shutdown_mode::wait;
  unsigned acks_left = 0;
};

namespace {

void push_pending_back(pool_core& core, call_record& rec) noexcept {
  rec.next = nullptr;
  rec.prev = core.pending_tail;
  if (core.pending_tail) core.pending_tail->next = &rec;
  else core.pending_head = &rec;
  core.pending_tail = &rec;
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

void finish(call_record& rec, std::exception_ptr error, wake_batch& wake) noexcept {
  rec.error = std::move(error);
  wake.grant(rec.waiter);
}

void fail_pending(pool_core& core, const std::exception_ptr& error, wake_batch& wake) noexcept {
  while (call_record* rec = core.pending_head) {
    unlink_pending(core, *rec);
    finish(*rec, error, wake);
  }
}

void fail_running(pool_core& core, const std::exception_ptr& error, wake_batch& wake) noexcept {
  for (auto& [id, rec] : core.running) finish(*rec, error, wake);
  core.running.clear();  // their outcomes are dropped when they come
}

void cancel_hook(wait_target* t, waiter* w, wake_batch&) noexcept {
  auto& core = static_cast<pool_core&>(*t);
  auto* rec = static_cast<call_record*>(w->slot);
  if (rec->rank < 0) {
    unlink_pending(core, *rec);
  } else {
    core.running.erase(rec->id);
    core.cancels.emplace_back(rec->rank, rec->id);
    engine::get().poke();
  }
  ++core.counters.cancelled;
}

/// Every pool the progress thread serves, by id.
struct pool_table {
  std::mutex mu;
  std::unordered_map<std::uint32_t, std::shared_ptr<pool_core>> pools;
  std::uint32_t next_id = 1;
};

pool_table& table() {
  // Never destroyed: the progress thread uses it until finalize(), which
  // runs from atexit, after static destructors of later-constructed objects.
  static pool_table* t = new pool_table;
  return *t;
}

std::shared_ptr<pool_core> find_pool(std::uint32_t id) {
  pool_table& t = table();
  std::lock_guard lock(t.mu);
  auto it = t.pools.find(id);
  return it == t.pools.end() ? nullptr : it->second;
}

unsigned depth_per_worker(const pool_core& core) noexcept {
  if (core.task_ns <= 0) return 2;
  return static_cast<unsigned>(std::clamp(queue_budget_ns / core.task_ns, 2.0, double(max_depth)));
}

/// The serving rank with room for another call and the least work per
/// worker in flight, or -1.
int pick_rank(const pool_core& core, const std::vector<wire_out>& out, unsigned depth) noexcept {
  int best = -1;
  double best_load = 0;
  for (std::size_t r = 1; r < core.workers.size(); ++r) {
    unsigned w = core.workers[r];
    if (core.in_flight[r] >= w * depth || out[r].size() >= batch_bytes) continue;
    double load = double(core.in_flight[r]) / w;
    if (best < 0 || load < best_load) {
      best = static_cast<int>(r);
      best_load = load;
    }
  }
  return best;
}

/// Under the lock: what this pool sends now.
bool collect_pool(pool_core& core, std::vector<wire_out>& out, wake_batch& wake) {
  const int n = static_cast<int>(core.workers.size());
  if (!core.opened) {
    for (int r = 1; r < n; ++r) {
      auto& o = out[static_cast<std::size_t>(r)];
      o.u8(static_cast<std::uint8_t>(msg::open_pool));
      o.u32(core.id);
      o.u32(core.opts.workers_per_rank);
      o.i64(core.opts.task_timeout.count());
      o.u64(core.opts.max_tasks_per_worker);
    }
    core.opened = true;
  }
  unsigned depth = depth_per_worker(core);
  while (core.pending_head) {
    int r = pick_rank(core, out, depth);
    if (r < 0) break;
    call_record& rec = *core.pending_head;
    unlink_pending(core, rec);
    if (rec.args.size() > std::size_t{1} << 30) {
      finish(rec,
             std::make_exception_ptr(
                 ipc::serialization_error("weft::cluster: the arguments are " + std::to_string(rec.args.size()) +
                                          " bytes, more than the 1 GiB one MPI message of a batch may carry")),
             wake);
      ++core.counters.failed;
      continue;
    }
    rec.id = core.next_id++;
    rec.rank = r;
    core.running.emplace(rec.id, &rec);
    ++core.in_flight[static_cast<std::size_t>(r)];
    auto& o = out[static_cast<std::size_t>(r)];
    o.u8(static_cast<std::uint8_t>(msg::call));
    o.u32(core.id);
    o.u64(rec.id);
    o.u32(rec.fid);
    o.u8(static_cast<std::uint8_t>(rec.kind));
    o.blob(rec.args);
    std::vector<std::byte>().swap(rec.args);  // sent: its memory goes back now
  }
  for (auto& [r, id] : core.cancels) {
    auto& o = out[static_cast<std::size_t>(r)];
    o.u8(static_cast<std::uint8_t>(msg::cancel));
    o.u32(core.id);
    o.u64(id);
  }
  core.cancels.clear();
  if (core.closed && !core.shutdown_sent &&
      (core.closing != shutdown_mode::wait || (!core.pending_head && core.admitted == 0))) {
    for (int r = 1; r < n; ++r) {
      auto& o = out[static_cast<std::size_t>(r)];
      o.u8(static_cast<std::uint8_t>(msg::shutdown_pool));
      o.u32(core.id);
      o.u8(static_cast<std::uint8_t>(core.closing));
    }
    core.shutdown_sent = true;
    core.acks_left = static_cast<unsigned>(n - 1);
    if (core.acks_left == 0) core.finished = true;
  }
  return core.finished;
}

std::exception_ptr error_of(outcome o, wire_in& in, pool_stats& counters) {
  switch (o) {
    case outcome::ok: ++counters.completed; return nullptr;
    case outcome::remote_error: {
      std::string type = in.str();
      std::string message = in.str();
      ++counters.failed;
      return std::make_exception_ptr(ipc::remote_error(std::move(type), std::move(message)));
    }
    case outcome::crashed: {
      int pid = in.i32();
      int status = in.i32();
      in.str();
      ++counters.crashed;
      return std::make_exception_ptr(ipc::worker_crashed(pid, status));
    }
    case outcome::timed_out: ++counters.timed_out; return std::make_exception_ptr(weft::timeout_error(in.str()));
    case outcome::cancelled: ++counters.cancelled; return std::make_exception_ptr(weft::operation_cancelled{});
    case outcome::serialization: ++counters.failed; return std::make_exception_ptr(ipc::serialization_error(in.str()));
    case outcome::pool_error: ++counters.failed; return std::make_exception_ptr(ipc::pool_error(in.str()));
  }
  throw std::runtime_error("weft::cluster: unknown outcome");
}

class caller final : public role {
 public:
  void deliver(int src, const std::byte* data, std::size_t n) override {
    wire_in in(data, n);
    const auto r = static_cast<std::size_t>(src);
    while (!in.done()) {
      auto type = static_cast<msg>(in.u8());
      std::uint32_t pool_id = in.u32();
      std::shared_ptr<pool_core> core = pool_id == last_id_ ? last_ : find_pool(pool_id);
      last_id_ = pool_id;
      last_ = core;
      if (type == msg::result) {
        std::uint64_t id = in.u64();
        auto o = static_cast<outcome>(in.u8());
        std::uint64_t ns = in.u64();
        std::vector<std::byte> result;
        if (o == outcome::ok) result = in.blob();
        if (!core) {  // gone: skip the record's payload
          pool_stats ignored;
          error_of(o, in, ignored);
          continue;
        }
        wake_batch wake;
        std::lock_guard lock(core->lock);
        --core->in_flight[r];
        ++core->finished_by_rank[r];
        if (ns > 0) core->task_ns = core->task_ns == 0 ? double(ns) : core->task_ns * 0.875 + double(ns) * 0.125;
        auto it = core->running.find(id);
        if (it == core->running.end()) {  // cancelled meanwhile, or given up by shutdown
          pool_stats ignored;
          error_of(o, in, ignored);
          continue;
        }
        call_record& rec = *it->second;
        core->running.erase(it);
        std::exception_ptr error = error_of(o, in, core->counters);
        rec.result = std::move(result);
        finish(rec, std::move(error), wake);
      } else if (type == msg::pool_workers) {
        const unsigned alive = in.u32();
        const std::uint64_t started = in.u64(), restarted = in.u64();
        if (!core) continue;
        std::lock_guard lock(core->lock);
        core->reported[r] = {alive, started, restarted};
      } else if (type == msg::pool_closed) {
        if (!core) continue;
        bool done = false;
        {
          wake_batch wake;
          std::lock_guard lock(core->lock);
          if (core->acks_left > 0 && --core->acks_left == 0) {
            core->finished = true;
            fail_running(*core, std::make_exception_ptr(operation_cancelled{}), wake);
            done = true;
          }
        }
        if (done) retire(core);
      } else {
        throw std::runtime_error("weft::cluster: rank 0 got an unknown message type");
      }
    }
  }

  bool collect(std::vector<wire_out>& out, bool stopping) override {
    std::vector<std::shared_ptr<pool_core>> pools;
    {
      pool_table& t = table();
      std::lock_guard lock(t.mu);
      pools.reserve(t.pools.size());
      for (auto& [id, p] : t.pools) pools.push_back(p);
    }
    for (auto& core : pools) {
      bool done;
      {
        wake_batch wake;
        std::lock_guard lock(core->lock);
        bool was = core->finished;
        done = collect_pool(*core, out, wake) && !was;
      }
      if (done) retire(core);
    }
    if (stopping && !exit_sent_) {
      for (std::size_t r = 1; r < out.size(); ++r) out[r].u8(static_cast<std::uint8_t>(msg::exit));
      exit_sent_ = true;
    }
    return exit_sent_;
  }

 private:
  void retire(const std::shared_ptr<pool_core>& core) {
    {
      pool_table& t = table();
      std::lock_guard lock(t.mu);
      t.pools.erase(core->id);
    }
    if (last_ == core) last_.reset();
    core->done.set();
  }

  std::uint32_t last_id_ = 0;
  std::shared_ptr<pool_core> last_;
  bool exit_sent_ = false;
};

}  // namespace

pool_core::pool_core(const pool_options& o) : wait_target(&cancel_hook), opts(o) {
  const auto& all = weft::cluster::ranks();
  workers.assign(all.size(), 0);
  for (std::size_t r = 1; r < all.size(); ++r) {
    workers[r] = o.workers_per_rank ? o.workers_per_rank : all[r].cores;
    total_workers += workers[r];
  }
  in_flight.assign(all.size(), 0);
  finished_by_rank.assign(all.size(), 0);
  reported.assign(all.size(), {});
}

role& caller_role() {
  static caller c;
  return c;
}

wait_target& target_of(pool_core& core) noexcept { return core; }

bool admit(pool_core& core) noexcept {
  std::lock_guard lock(core.lock);
  if (core.closed) return false;
  ++core.admitted;
  return true;
}

void unadmit(pool_core& core) noexcept {
  {
    std::lock_guard lock(core.lock);
    --core.admitted;
  }
  engine::get().poke();  // shutdown(wait) may have waited for this one
}

bool enqueue_locked(pool_core& core, call_record& rec, waiter& w, bool admitted) {
  w.slot = &rec;
  if (admitted) --core.admitted;
  if (core.workers.size() < 2) {
    rec.error = std::make_exception_ptr(ipc::pool_error(no_servers_message));
    return true;
  }
  if (core.closed && !(admitted && core.closing == shutdown_mode::wait && !core.shutdown_sent)) {
    // Made before shutdown(cancel_pending / immediate): cancelled as if it
    // had been queued; made after: refused.
    if (admitted) {
      rec.error = std::make_exception_ptr(operation_cancelled{});
      ++core.counters.cancelled;
    } else {
      rec.error = std::make_exception_ptr(ipc::pool_error(shut_down_message));
    }
    return true;
  }
  push_pending_back(core, rec);
  w.state = waiter::queued;
  return false;
}

void after_enqueue(pool_core&) noexcept { engine::get().poke(); }

std::shared_ptr<pool_core> make_pool_core(const pool_options& options) {
  if (!engine::get().running() || weft::cluster::rank() != 0)
    throw std::logic_error(
        "weft::cluster::pool: call weft::cluster::init(argc, argv) first, and use pools on rank 0 only");
  auto core = std::make_shared<pool_core>(options);
  pool_table& t = table();
  {
    std::lock_guard lock(t.mu);
    core->id = t.next_id++;
    t.pools.emplace(core->id, core);
  }
  engine::get().poke();
  return core;
}

void shutdown_now(pool_core& core) noexcept {
  {
    wake_batch wake;
    std::lock_guard lock(core.lock);
    if (!core.closed) {
      core.closed = true;
      core.closing = shutdown_mode::immediate;
    }
    auto gone = std::make_exception_ptr(ipc::pool_error(destroyed_message));
    fail_pending(core, gone, wake);
    fail_running(core, gone, wake);
  }
  engine::get().poke();
}

task<void> shutdown_core(std::shared_ptr<pool_core> core, shutdown_mode mode) {
  {
    wake_batch wake;
    std::lock_guard lock(core->lock);
    if (!core->closed) {
      core->closed = true;
      core->closing = mode;
    }
    auto cancelled = std::make_exception_ptr(operation_cancelled{});
    if (mode != shutdown_mode::wait) {
      core->counters.cancelled += core->pending_count;
      fail_pending(*core, cancelled, wake);
    }
    if (mode == shutdown_mode::immediate) {
      core->counters.cancelled += core->running.size();
      fail_running(*core, cancelled, wake);
    }
  }
  engine::get().poke();
  co_await core->done.wait();
}

pool_stats stats_of(pool_core& core) {
  std::lock_guard lock(core.lock);
  pool_stats s = core.counters;
  s.ranks = static_cast<unsigned>(core.workers.size() > 0 ? core.workers.size() - 1 : 0);
  s.workers = core.total_workers;
  // Until a rank has reported (its first results), count its configured workers as alive.
  unsigned alive = 0;
  bool any = false;
  for (std::size_t r = 1; r < core.reported.size(); ++r) {
    const auto& w = core.reported[r];
    s.workers_started += w.started;
    s.workers_restarted += w.restarted;
    if (w.started) any = true;
    alive += w.started ? w.alive : core.workers[r];
  }
  if (any) s.workers = alive;
  s.queued = core.pending_count;
  s.running = core.running.size();
  s.finished_by_rank = core.finished_by_rank;
  return s;
}

unsigned worker_count_of(pool_core& core) noexcept { return core.total_workers; }

std::exception_ptr unregistered_error(std::uintptr_t fn, bool for_map) {
  char addr[32];
  std::snprintf(addr, sizeof addr, "%#llx", static_cast<unsigned long long>(fn));
  std::string what = std::string("weft::cluster::pool::") + (for_map ? "map" : "call") + ": the function at " + addr +
                     " is not registered: add WEFT_REMOTE(f) after its definition";
  if (!engine::get().running()) what += " (and call weft::cluster::init(argc, argv) first)";
  return std::make_exception_ptr(ipc::pool_error(what));
}

}  // namespace weft::cluster::detail

namespace weft::cluster {

pool::pool(pool_options options) : core_(detail::make_pool_core(options)) {}

pool::~pool() {
  if (core_) detail::shutdown_now(*core_);
}

}  // namespace weft::cluster
