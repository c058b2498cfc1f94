// weft::cluster::pool: weft::ipc::process_pool over the ranks of an MPI job
// (the ThreadPool -> ProcessPool -> MPIPoolExecutor step, without a rewrite).
//
//   int square(int x) { return x * x; }
//   WEFT_REMOTE(square);
//
//   weft::cluster::pool pool{{.task_timeout = std::chrono::seconds(10)}};
//   int y = co_await pool.call(square, 7);               // on some serving rank
//   auto h = pool.submit(square, 8);                     // a join_handle<int>
//   std::vector<int> ys = co_await pool.map(square, xs); // ordered, chunked
//   auto s = pool.map_unordered(square, xs);             // completion order
//   while (auto y = co_await s.next()) use(*y);
//   co_await pool.shutdown();
//
// Use it on rank 0 after weft::cluster::init() (see init.hpp). Every other
// rank serves: it runs the pool's tasks in a local weft::ipc::process_pool
// of `workers_per_rank` workers (0: one per core of its machine), so a task
// that crashes fails with worker_crashed, one past `task_timeout` fails with
// weft::timeout_error and has its worker killed, and an exception arrives
// as remote_error (type name and message kept): alone, exactly as on one
// machine. Functions must be registered with WEFT_REMOTE (remote.hpp); an
// unregistered one fails its call with pool_error naming the problem.
// Arguments and results use weft::ipc's serializer (serialize.hpp).
//
// How it moves: calls queue here and one progress thread (the only thread
// that calls MPI) sends them in batches, one message per rank per batch
// (so a large payload is one message, and a thousand tiny calls are one
// message too), keeping each rank's share in flight in proportion to its
// workers and to how long tasks take (about 2 ms of work queued per worker,
// the local pool's rule, at most 8192 calls). Results stream back as they finish, batched the
// same way, and wake the awaiting tasks through the runtime's normal
// wake-up path (the runtime's threads never call MPI nor wait for it).
// A serving rank times each function in its workers; calls of one that
// takes under 20 us go several to one local-pool call (about 1 ms of work
// each, spread over the rank's workers), which is what makes a million
// tiny calls cheap. If such a group's worker crashes or times out, the
// rank runs each of its calls again alone, so the one at fault fails alone
// and the others succeed; a grouped call may thus run twice.
//
// Cancellation: a call still queued here is dropped; one sent to a rank is
// cancelled there (dropped if queued, its worker killed and replaced if
// running). The awaiting task gets operation_cancelled at once. A grouped
// tiny call that is cancelled finishes on its rank and its result is dropped.
//
// Fault model: see init.hpp. A task's failure is local; losing a rank ends
// the job (Open MPI 4.1 has no recovery from a lost rank).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/cluster/remote.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/process_pool.hpp"
#include "weft/ipc/serialize.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/detail/wait_queue.hpp"
#include "weft/runtime/task.hpp"

namespace weft::cluster {

using ipc::map_stream;
using ipc::shutdown_mode;

struct pool_options {
  /// Worker processes of each serving rank's local process pool; 0: one
  /// per hardware thread of that rank's machine.
  unsigned workers_per_rank = 0;
  /// As process_pool_options::task_timeout (zero: no limit).
  std::chrono::nanoseconds task_timeout{0};
  /// As process_pool_options::max_tasks_per_worker (zero: never recycle).
  std::uint64_t max_tasks_per_worker = 0;
};

/// Counters since the pool started (the fields of ipc::pool_stats that
/// apply, and what each rank did).
struct pool_stats {
  std::uint64_t completed = 0;  // returned a value
  std::uint64_t failed = 0;     // raised an exception (remote_error), or could not be sent
  std::uint64_t crashed = 0;    // their worker died (worker_crashed)
  std::uint64_t timed_out = 0;  // ran past task_timeout
  std::uint64_t cancelled = 0;  // cancelled while queued or running
  /// Worker processes the serving ranks' local pools started, and of those
  /// the replacements (after a crash, a timeout, a cancel or recycling),
  /// all ranks together, as last reported (each rank reports with the
  /// results that follow a change).
  std::uint64_t workers_started = 0;
  std::uint64_t workers_restarted = 0;
  unsigned ranks = 0;       // serving ranks
  unsigned workers = 0;     // their local workers, together (alive, as last reported)
  std::size_t queued = 0;   // waiting here to be sent
  std::size_t running = 0;  // sent to a rank, not finished
  /// Calls finished (any outcome) by each rank, indexed by rank (rank 0 serves none).
  std::vector<std::uint64_t> finished_by_rank;
};

namespace detail {

struct pool_core;  // cluster/src/pool_core.hpp
weft::detail::wait_target& target_of(pool_core& core) noexcept;

enum class call_kind : std::uint8_t { call = 0, chunk = 1 };

/// One call in flight, as the pool sees it. Lives in the awaiting frame.
struct call_record {
  std::uint32_t fid = 0;
  call_kind kind = call_kind::call;
  std::vector<std::byte> args;    // encoded arguments (moved out when sent)
  std::vector<std::byte> result;  // encoded result
  std::exception_ptr error;
  weft::detail::waiter* waiter = nullptr;
  // The pool's bookkeeping, under its lock.
  call_record* prev = nullptr;
  call_record* next = nullptr;
  std::uint64_t id = 0;
  int rank = -1;  // -1: queued here
};

/// A call made before shutdown() counts as submitted even if its task only
/// awaits it later: admit() says whether the pool still takes calls; an
/// admitted call never awaited gives its place back (unadmit).
bool admit(pool_core& core) noexcept;
void unadmit(pool_core& core) noexcept;
/// Under the pool's lock: true if rec is done at once (an error), else queued.
bool enqueue_locked(pool_core& core, call_record& rec, weft::detail::waiter& w, bool admitted);
void after_enqueue(pool_core& core) noexcept;
std::shared_ptr<pool_core> make_pool_core(const pool_options& options);
void shutdown_now(pool_core& core) noexcept;
task<void> shutdown_core(std::shared_ptr<pool_core> core, shutdown_mode mode);
pool_stats stats_of(pool_core& core);
unsigned worker_count_of(pool_core& core) noexcept;
std::exception_ptr unregistered_error(std::uintptr_t fn, bool for_map);

/// Awaits one remote call whose result decodes as R (void: nothing).
/// Movable until awaited (with_timeout works on it).
template <class R>
class call_awaiter : weft::detail::task_wait {
 public:
  call_awaiter(std::shared_ptr<pool_core> core, std::uint32_t fid, call_kind kind, std::vector<std::byte> args,
               std::exception_ptr error)
      : task_wait(target_of(*core)), core_(std::move(core)), early_error_(std::move(error)) {
    rec_.fid = fid;
    rec_.kind = kind;
    rec_.args = std::move(args);
    admitted_ = admit(*core_);
  }
  call_awaiter(call_awaiter&& o) noexcept
      : task_wait(std::move(o)),
        core_(std::move(o.core_)),
        early_error_(std::move(o.early_error_)),
        admitted_(std::exchange(o.admitted_, false)) {
    rec_.fid = o.rec_.fid;
    rec_.kind = o.rec_.kind;
    rec_.args = std::move(o.rec_.args);
  }

  ~call_awaiter() {
    if (admitted_) unadmit(*core_);
  }

  bool await_ready() const noexcept { return early_error_ != nullptr; }

  bool await_suspend(std::coroutine_handle<> h) {
    std::shared_ptr<pool_core> core = core_;  // *this may be gone once another thread resumes us
    bool suspended = suspend_task(h, "weft::cluster::pool::call", [&](weft::detail::waiter& w) {
      rec_.waiter = &w;
      return enqueue_locked(*core, rec_, w, std::exchange(admitted_, false));
    });
    after_enqueue(*core);
    return suspended;
  }

  R await_resume() {
    if (early_error_) std::rethrow_exception(early_error_);
    finish_wait();
    if (rec_.error) std::rethrow_exception(rec_.error);
    if constexpr (!std::is_void_v<R>) {
      ipc::byte_reader in(rec_.result.data(), rec_.result.size());
      return ipc::decode<R>(in);
    }
  }

 private:
  std::shared_ptr<pool_core> core_;
  std::exception_ptr early_error_;
  call_record rec_;
  bool admitted_ = false;
};

template <class... P, class... A>
std::vector<std::byte> encode_arguments(A&&... args) {
  std::tuple<std::decay_t<P>...> values(std::forward<A>(args)...);
  return std::apply(
      [](const auto&... v) {
        std::vector<std::byte> out(ipc::encoded_size(v...));
        ipc::byte_writer w(out.data(), out.size());
        (ipc::encode(w, v), ...);
        return out;
      },
      values);
}

}  // namespace detail

class pool {
 public:
  /// Opens the pool on every serving rank (lazily, with the first call).
  /// Requires weft::cluster::init() on this rank 0.
  explicit pool(pool_options options = {});
  /// Cancels what is unfinished (shutdown_mode::immediate) unless shut down already.
  ~pool();
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  /// `co_await pool.call(f, args...)`: f(args...) on a serving rank. f is a
  /// function registered with WEFT_REMOTE; the arguments are converted to
  /// f's parameter types and serialized now. Movable until awaited.
  template <class R, class... P, class... A>
  auto call(R (*f)(P...), A... args) {
    static_assert(sizeof...(P) == sizeof...(A), "weft::cluster::pool::call: wrong number of arguments for f");
    const auto* entry = detail::find_remote(reinterpret_cast<std::uintptr_t>(f));
    std::exception_ptr error;
    std::vector<std::byte> bytes;
    if (!entry) {
      error = detail::unregistered_error(reinterpret_cast<std::uintptr_t>(f), false);
    } else {
      try {
        bytes = detail::encode_arguments<P...>(std::move(args)...);
      } catch (...) {
        error = std::current_exception();
      }
    }
    return detail::call_awaiter<std::decay_t<R>>(core_, entry ? entry->id : 0, detail::call_kind::call,
                                                 std::move(bytes), std::move(error));
  }

  /// Like call(), as a spawned task: a join_handle to await later, cancel,
  /// or pass to weft::as_completed.
  template <class R, class... P, class... A>
  auto submit(R (*f)(P...), A... args) {
    return weft::spawn(run_call<std::decay_t<R>>(call(f, std::move(args)...)));
  }

  /// f over items on the serving ranks, results in order. Items travel in
  /// chunks of chunk_size (0: about four chunks per worker), one call
  /// each; a failing item fails the whole map with its exception, and the
  /// other chunks are cancelled. f takes one argument; for an f returning
  /// void the results are std::monostate, one per item.
  template <class R, class P, std::ranges::input_range Range>
  auto map(R (*f)(P), Range&& items, std::size_t chunk_size = 0) {
    return collect<detail::item_result_t<R>>(submit_chunks(f, std::forward<Range>(items), chunk_size));
  }

  /// Like map(), results as they finish.
  template <class R, class P, std::ranges::input_range Range>
  auto map_unordered(R (*f)(P), Range&& items, std::size_t chunk_size = 0) {
    return map_stream<detail::item_result_t<R>>(submit_chunks(f, std::forward<Range>(items), chunk_size));
  }

  /// Stops the pool: later calls fail with pool_error; see
  /// weft::ipc::shutdown_mode. Returns when every serving rank's local
  /// workers are gone.
  task<void> shutdown(shutdown_mode mode = shutdown_mode::wait) { return detail::shutdown_core(core_, mode); }

  pool_stats stats() const { return detail::stats_of(*core_); }
  /// Worker processes over all serving ranks.
  unsigned size() const noexcept { return detail::worker_count_of(*core_); }

 private:
  template <class R, class Awaiter>
  static task<R> run_call(Awaiter awaiter) {
    co_return co_await std::move(awaiter);
  }

  template <class R, class P, class Range>
  auto submit_chunks(R (*f)(P), Range&& items, std::size_t chunk_size) {
    using T = std::decay_t<P>;
    using out_t = detail::item_result_t<R>;
    const auto* entry = detail::find_remote(reinterpret_cast<std::uintptr_t>(f));
    std::vector<T> all;
    if constexpr (std::ranges::sized_range<Range>) all.reserve(std::ranges::size(items));
    for (auto&& item : items) all.emplace_back(std::forward<decltype(item)>(item));
    if (chunk_size == 0) chunk_size = ipc::detail::default_chunk_size(all.size(), size());
    std::vector<join_handle<std::vector<out_t>>> chunks;
    chunks.reserve((all.size() + chunk_size - 1) / chunk_size);
    for (std::size_t i = 0; i < all.size(); i += chunk_size) {
      std::size_t end = std::min(all.size(), i + chunk_size);
      std::exception_ptr error;
      std::vector<std::byte> bytes;
      if (!entry) {
        error = detail::unregistered_error(reinterpret_cast<std::uintptr_t>(f), true);
      } else {
        try {
          std::vector<T> chunk(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(i)),
                               std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(end)));
          bytes = detail::encode_value(chunk);
        } catch (...) {
          error = std::current_exception();
        }
      }
      detail::call_awaiter<std::vector<out_t>> awaiter(core_, entry ? entry->id : 0, detail::call_kind::chunk,
                                                       std::move(bytes), std::move(error));
      chunks.push_back(weft::spawn(run_call<std::vector<out_t>>(std::move(awaiter))));
    }
    return chunks;
  }

  template <class R>
  static task<std::vector<R>> collect(std::vector<join_handle<std::vector<R>>> chunks) {
    std::vector<R> out;
    std::exception_ptr failure;
    for (auto& chunk : chunks) {
      if (failure) {
        chunk.cancel();
        continue;
      }
      try {
        std::vector<R> part = co_await chunk;
        out.insert(out.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
      } catch (...) {
        failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
    co_return out;
  }

  std::shared_ptr<detail::pool_core> core_;
};

}  // namespace weft::cluster
