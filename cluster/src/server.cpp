// A serving rank: takes batches of calls from rank 0, runs each in a local
// weft::ipc::process_pool (one per pool rank 0 opened), and streams the
// outcomes back, batched by the progress thread.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine.hpp"
#include "registry.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/process_pool.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/channel.hpp"
#include "weft/runtime/time.hpp"

namespace weft::cluster::detail {

/// Runs in a local worker process (a fork of this rank, so the registry is
/// there): the registered function on encoded arguments.
std::vector<std::byte> run_registered(std::uint32_t id, std::uint8_t kind, std::vector<std::byte> args) {
  const remote_function* f = remote_by_id(id);
  if (!f) throw ipc::serialization_error("weft::cluster: no WEFT_REMOTE function number " + std::to_string(id));
  if (kind == 1) {
    if (!f->chunk)
      throw ipc::serialization_error(std::string("weft::cluster: map() needs a one-argument function; ") + f->name +
                                     " is not");
    return f->chunk(f->fn, args);
  }
  return f->call(f->fn, args);
}

/// Runs in a local worker process: several tiny calls in one local-pool
/// call (u32 count, then per call u32 function, u8 kind, blob arguments).
/// Each call's outcome is its own (u8 outcome, u64 ns in the worker, then
/// the result blob or the error's text, as the result record carries it):
/// an exception fails that call alone, as it would through the pool.
std::vector<std::byte> run_registered_group(std::vector<std::byte> packed) {
  wire_in in(packed.data(), packed.size());
  wire_out out;
  std::uint32_t count = in.u32();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t fid = in.u32();
    std::uint8_t kind = in.u8();
    std::vector<std::byte> args = in.blob();
    auto t0 = std::chrono::steady_clock::now();
    auto ns = [&] {
      return static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    };
    try {
      std::vector<std::byte> result = run_registered(fid, kind, std::move(args));
      out.u8(static_cast<std::uint8_t>(outcome::ok));
      out.u64(ns());
      out.blob(result);
    } catch (const ipc::serialization_error& e) {
      out.u8(static_cast<std::uint8_t>(outcome::serialization));
      out.u64(ns());
      out.str(e.what());
    } catch (const std::exception& e) {
      out.u8(static_cast<std::uint8_t>(outcome::remote_error));
      out.u64(ns());
      out.str(ipc::exception_type_name(e));
      out.str(e.what());
    } catch (...) {
      out.u8(static_cast<std::uint8_t>(outcome::remote_error));
      out.u64(ns());
      out.str("unknown exception");
      out.str("(details lost)");
    }
  }
  return std::move(out.bytes());
}

namespace {

struct local_pool {
  std::unique_ptr<ipc::process_pool> pool;
  std::string error;  // the pool could not start: every call fails with it
  std::unordered_map<std::uint64_t, join_handle<void>> tasks;
  std::size_t live = 0;
  // Per function: a moving average of one call's time in the worker, once
  // a call of it ran alone. Calls far shorter than a local-pool round trip
  // go several to one local-pool call (groups); others go alone.
  std::unordered_map<std::uint32_t, double> fn_ns;
  unsigned workers = 1;
  std::chrono::nanoseconds timeout{0};
  // What rank 0 was last told of the local workers (pool_workers).
  std::uint64_t told_started = 0, told_restarted = 0;
  unsigned told_alive = 0;
};

/// A call waiting to go into a group.
struct queued_call {
  std::uint64_t id;
  std::uint32_t fid;
  std::uint8_t kind;
  std::vector<std::byte> args;
};

// A call at most this long (worker time) may share a local-pool call with
// others; a group holds about group_budget_ns of work, so a crash or a
// cancellation costs little rerun and results keep streaming back.
constexpr double tiny_ns = 20'000;
constexpr double group_budget_ns = 1'000'000;
constexpr std::size_t max_group = 16384;

class server final : public role {
 public:
  // Batches from rank 0, in order. Bounded: if the runtime falls behind,
  // the progress thread waits (and stops reading MPI meanwhile).
  channel<std::vector<std::byte>> inbox{4096};

  void deliver(int, const std::byte* data, std::size_t n) override {
    try {
      inbox.blocking_send(std::vector<std::byte>(data, data + n));
    } catch (const channel_closed&) {
    }
  }

  bool collect(std::vector<wire_out>& out, bool) override {
    std::lock_guard lock(mu_);
    if (!outbox_.empty()) {
      out[0].append(outbox_);
      outbox_.clear();
    }
    return true;
  }

  void post(const wire_out& m) {
    {
      std::lock_guard lock(mu_);
      outbox_.append(m);
    }
    engine::get().poke();
  }

  task<void> serve();

 private:
  task<void> run_one(std::shared_ptr<local_pool> lp, std::uint32_t pool_id, std::uint64_t id, std::uint32_t fid,
                     std::uint8_t kind, std::vector<std::byte> args);
  task<void> run_group(std::shared_ptr<local_pool> lp, std::uint32_t pool_id, std::vector<queued_call> calls);
  void start_one(const std::shared_ptr<local_pool>& lp, std::uint32_t pool_id, queued_call c);
  void start_groups(const std::shared_ptr<local_pool>& lp, std::uint32_t pool_id, std::vector<queued_call>& calls);
  task<void> close_pool(std::uint32_t pool_id, ipc::shutdown_mode mode);

  std::mutex mu_;
  wire_out outbox_;
  std::unordered_map<std::uint32_t, std::shared_ptr<local_pool>> pools_;
};

int wait_status_of(const ipc::worker_crashed& e) {
  if (e.signal() != 0) return e.signal();             // WIFSIGNALED: the signal in the low bits
  if (e.exit_code() >= 0) return e.exit_code() << 8;  // WIFEXITED
  return SIGKILL;
}

/// Reads one call's outcome as run_registered_group wrote it (the tail of
/// a result record) and returns its worker time.
std::uint64_t skip_outcome(wire_in& in) {
  auto o = static_cast<outcome>(in.u8());
  std::uint64_t ns = in.u64();
  if (o == outcome::ok) {
    in.blob();
  } else if (o == outcome::remote_error) {
    in.str();
    in.str();
  } else {
    in.str();  // the worker writes only ok, remote_error, serialization
  }
  return ns;
}

/// Appends a pool_workers record to r when the local pool's workers
/// changed since rank 0 was last told (started, replaced, alive), so that
/// rank 0's stats() shows them without a message of their own.
void note_workers(local_pool& lp, std::uint32_t pool_id, wire_out& r) {
  if (!lp.pool) return;
  const ipc::pool_stats s = lp.pool->stats();
  if (s.workers_started == lp.told_started && s.workers_restarted == lp.told_restarted && s.workers == lp.told_alive)
    return;
  lp.told_started = s.workers_started;
  lp.told_restarted = s.workers_restarted;
  lp.told_alive = s.workers;
  r.u8(static_cast<std::uint8_t>(msg::pool_workers));
  r.u32(pool_id);
  r.u32(s.workers);
  r.u64(s.workers_started);
  r.u64(s.workers_restarted);
}

void note_time(local_pool& lp, std::uint32_t fid, std::uint64_t ns) {
  auto [it, fresh] = lp.fn_ns.try_emplace(fid, double(ns));
  if (!fresh) it->second = it->second * 0.875 + double(ns) * 0.125;
}

task<void> server::run_one(std::shared_ptr<local_pool> lp, std::uint32_t pool_id, std::uint64_t id, std::uint32_t fid,
                           std::uint8_t kind, std::vector<std::byte> args) {
  wire_out r;
  r.u8(static_cast<std::uint8_t>(msg::result));
  r.u32(pool_id);
  r.u64(id);
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  };
  auto fail = [&](outcome o, const std::string& message) {
    r.u8(static_cast<std::uint8_t>(o));
    r.u64(elapsed());
    r.str(message);
  };
  try {
    if (!lp->pool) throw ipc::pool_error(lp->error);
    // A group of one: the worker times the call itself (what decides
    // whether later calls of this function are grouped) and reports its
    // exceptions as the pool would.
    wire_out g;
    g.u32(1);
    g.u32(fid);
    g.u8(kind);
    g.blob(args);
    std::vector<std::byte>().swap(args);
    std::vector<std::byte> out = co_await lp->pool->call(&run_registered_group, std::move(g.bytes()));
    wire_in in(out.data(), out.size());
    note_time(*lp, fid, skip_outcome(in));
    r.raw(out.data(), out.size());
  } catch (const ipc::remote_error& e) {
    r.u8(static_cast<std::uint8_t>(outcome::remote_error));
    r.u64(elapsed());
    r.str(e.type_name());
    r.str(e.message());
  } catch (const ipc::worker_crashed& e) {
    r.u8(static_cast<std::uint8_t>(outcome::crashed));
    r.u64(elapsed());
    r.i32(e.pid());
    r.i32(wait_status_of(e));
    r.str(e.what());
  } catch (const weft::timeout_error& e) {
    fail(outcome::timed_out, e.what());
  } catch (const weft::operation_cancelled&) {
    r.u8(static_cast<std::uint8_t>(outcome::cancelled));
    r.u64(elapsed());
  } catch (const ipc::serialization_error& e) {
    fail(outcome::serialization, e.what());
  } catch (const ipc::pool_error& e) {
    fail(outcome::pool_error, e.what());
  } catch (const std::exception& e) {
    r.u8(static_cast<std::uint8_t>(outcome::remote_error));
    r.u64(elapsed());
    r.str(ipc::exception_type_name(e));
    r.str(e.what());
  }
  note_workers(*lp, pool_id, r);
  post(r);
  lp->tasks.erase(id);  // our own handle: dropping it lets this task end normally
  --lp->live;
}

task<void> server::run_group(std::shared_ptr<local_pool> lp, std::uint32_t pool_id, std::vector<queued_call> calls) {
  wire_out g;
  g.u32(static_cast<std::uint32_t>(calls.size()));
  for (auto& c : calls) {
    g.u32(c.fid);
    g.u8(c.kind);
    g.blob(c.args);
  }
  std::vector<std::byte> out;
  bool failed = false;
  try {
    out = co_await lp->pool->call(&run_registered_group, std::move(g.bytes()));
  } catch (const std::exception&) {
    failed = true;
  }
  if (failed) {
    // A crash, a timeout or the pool closing: every call again alone, so
    // the one at fault fails alone and the others get their own outcome.
    for (auto& c : calls) start_one(lp, pool_id, std::move(c));
    co_return;
  }
  wire_out r;
  wire_in in(out.data(), out.size());
  for (auto& c : calls) {
    const std::byte* from = in.at();
    note_time(*lp, c.fid, skip_outcome(in));
    r.u8(static_cast<std::uint8_t>(msg::result));
    r.u32(pool_id);
    r.u64(c.id);
    r.raw(from, static_cast<std::size_t>(in.at() - from));
  }
  note_workers(*lp, pool_id, r);
  post(r);
  lp->live -= calls.size();
}

void server::start_one(const std::shared_ptr<local_pool>& lp, std::uint32_t pool_id, queued_call c) {
  auto h = weft::spawn(run_one(lp, pool_id, c.id, c.fid, c.kind, std::move(c.args)));
  if (!h.is_finished()) lp->tasks.emplace(c.id, std::move(h));
}

/// Tiny calls that came in one batch: split over the local workers, each
/// group about group_budget_ns of work. A cancel for a grouped call finds
/// no task here; rank 0 has already dropped it, and it is too short to
/// be worth a worker's life.
void server::start_groups(const std::shared_ptr<local_pool>& lp, std::uint32_t pool_id,
                          std::vector<queued_call>& calls) {
  if (calls.empty()) return;
  double budget = group_budget_ns;
  if (lp->timeout.count() > 0) budget = std::min(budget, double(lp->timeout.count()) / 4);
  std::size_t per_worker = (calls.size() + lp->workers - 1) / lp->workers;
  std::vector<queued_call> group;
  double group_ns = 0;
  auto flush = [&] {
    if (group.size() == 1) start_one(lp, pool_id, std::move(group.front()));
    else if (!group.empty()) weft::spawn(run_group(lp, pool_id, std::move(group))).detach();
    group.clear();
    group_ns = 0;
  };
  for (auto& c : calls) {
    double ns = std::max(lp->fn_ns[c.fid], 50.0);
    if (!group.empty() && (group_ns + ns > budget || group.size() >= per_worker || group.size() >= max_group)) flush();
    group_ns += ns;
    group.push_back(std::move(c));
  }
  flush();
  calls.clear();
}

task<void> server::close_pool(std::uint32_t pool_id, ipc::shutdown_mode mode) {
  auto it = pools_.find(pool_id);
  if (it != pools_.end()) {
    std::shared_ptr<local_pool> lp = it->second;
    if (lp->pool) co_await lp->pool->shutdown(mode);
    // Their outcomes go out before pool_closed (one ordered stream to rank 0).
    while (lp->live > 0) co_await weft::sleep_for(std::chrono::milliseconds(1));
    pools_.erase(pool_id);
  }
  wire_out m;
  m.u8(static_cast<std::uint8_t>(msg::pool_closed));
  m.u32(pool_id);
  post(m);
}

task<void> server::serve() {
  for (;;) {
    std::optional<std::vector<std::byte>> batch = co_await inbox.recv();
    if (!batch) co_return;
    wire_in in(batch->data(), batch->size());
    // Tiny calls of this batch, grouped when the batch is read (or when
    // another message comes, to keep the order rank 0 sent).
    std::vector<queued_call> grouped;
    std::shared_ptr<local_pool> grouped_lp;
    std::uint32_t grouped_pool = 0;
    while (!in.done()) {
      auto type = static_cast<msg>(in.u8());
      if (type != msg::call && grouped_lp) {
        start_groups(grouped_lp, grouped_pool, grouped);
        grouped_lp.reset();
      }
      if (type == msg::open_pool) {
        std::uint32_t pool_id = in.u32();
        ipc::process_pool_options o;
        o.workers = in.u32();
        o.task_timeout = std::chrono::nanoseconds(in.i64());
        o.max_tasks_per_worker = in.u64();
        auto lp = std::make_shared<local_pool>();
        try {
          lp->pool = std::make_unique<ipc::process_pool>(o);
          lp->workers = std::max(1u, lp->pool->size());
          lp->timeout = o.task_timeout;
        } catch (const std::exception& e) {
          lp->error = std::string("weft::cluster: rank ") + std::to_string(engine::get().rank) +
                      " cannot start its local process pool: " + e.what();
        }
        pools_[pool_id] = std::move(lp);
      } else if (type == msg::call) {
        std::uint32_t pool_id = in.u32();
        std::uint64_t id = in.u64();
        std::uint32_t fid = in.u32();
        std::uint8_t kind = in.u8();
        std::vector<std::byte> args = in.blob();
        auto it = pools_.find(pool_id);
        std::shared_ptr<local_pool> lp;
        if (it != pools_.end()) {
          lp = it->second;
        } else {
          lp = std::make_shared<local_pool>();
          lp->error = "weft::cluster: the pool is closed on rank " + std::to_string(engine::get().rank);
        }
        ++lp->live;
        auto known = lp->fn_ns.find(fid);
        if (lp->pool && known != lp->fn_ns.end() && known->second < tiny_ns) {
          if (grouped_pool != pool_id) {
            if (grouped_lp) start_groups(grouped_lp, grouped_pool, grouped);
            grouped_lp = lp;
            grouped_pool = pool_id;
          }
          grouped.push_back(queued_call{id, fid, kind, std::move(args)});
        } else {
          start_one(lp, pool_id, queued_call{id, fid, kind, std::move(args)});
        }
      } else if (type == msg::cancel) {
        std::uint32_t pool_id = in.u32();
        std::uint64_t id = in.u64();
        auto it = pools_.find(pool_id);
        if (it != pools_.end()) {
          auto t = it->second->tasks.find(id);
          if (t != it->second->tasks.end()) t->second.cancel();
        }
      } else if (type == msg::shutdown_pool) {
        std::uint32_t pool_id = in.u32();
        auto mode = static_cast<ipc::shutdown_mode>(in.u8());
        weft::spawn(close_pool(pool_id, mode)).detach();
      } else if (type == msg::exit) {
        for (auto& [id, lp] : pools_) {
          for (auto& [tid, h] : lp->tasks) h.cancel();
          if (lp->pool) co_await lp->pool->shutdown(ipc::shutdown_mode::immediate);
        }
        co_return;
      } else {
        std::fprintf(stderr, "weft::cluster: rank %d got an unknown message type %u\n", engine::get().rank,
                     static_cast<unsigned>(type));
        std::abort();
      }
    }
    if (grouped_lp) start_groups(grouped_lp, grouped_pool, grouped);
  }
}

}  // namespace

[[noreturn]] void serve_forever() {
  engine& e = engine::get();
  int code = 0;
  {
    server s;
    e.start(&s);
    try {
      weft::runtime_options opts;
      opts.workers = 1;  // the work is in the local pool's processes; one thread keeps the bookkeeping simple
      opts.thread_name = "weft-rank";
      opts.report_unfinished = false;
      weft::runtime rt{opts};
      rt.block_on(s.serve());
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "weft::cluster: rank %d stops serving: %s\n", e.rank, ex.what());
      code = 1;
    }
    s.inbox.close();
    e.stop();  // sends the last outcomes, finalizes MPI
  }
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace weft::cluster::detail
