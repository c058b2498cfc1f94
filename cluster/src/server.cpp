// A serving rank: takes batches of calls from rank 0, runs each in a local
// weft::ipc::process_pool (one per pool rank 0 opened), and streams the
// outcomes back, batched by the progress thread.
#include <sys/wait.h>

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

namespace {

struct local_pool {
  std::unique_ptr<ipc::process_pool> pool;
  std::string error;  // the pool could not start: every call fails with it
  std::unordered_map<std::uint64_t, join_handle<void>> tasks;
  std::size_t live = 0;
};

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
    std::vector<std::byte> result = co_await lp->pool->call(&run_registered, fid, kind, std::move(args));
    r.u8(static_cast<std::uint8_t>(outcome::ok));
    r.u64(elapsed());
    r.blob(result);
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
  post(r);
  lp->tasks.erase(id);  // our own handle: dropping it lets this task end normally
  --lp->live;
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
    while (!in.done()) {
      auto type = static_cast<msg>(in.u8());
      if (type == msg::open_pool) {
        std::uint32_t pool_id = in.u32();
        ipc::process_pool_options o;
        o.workers = in.u32();
        o.task_timeout = std::chrono::nanoseconds(in.i64());
        o.max_tasks_per_worker = in.u64();
        auto lp = std::make_shared<local_pool>();
        try {
          lp->pool = std::make_unique<ipc::process_pool>(o);
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
        auto h = weft::spawn(run_one(lp, pool_id, id, fid, kind, std::move(args)));
        if (!h.is_finished()) lp->tasks.emplace(id, std::move(h));
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
