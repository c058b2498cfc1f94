// weft::ipc::process_pool: run functions in worker processes — Python's
// ProcessPoolExecutor / multiprocessing.Pool, awaited instead of blocked on.
//
//   int square(int x) { return x * x; }
//
//   weft::ipc::process_pool pool{{.workers = 4, .task_timeout = std::chrono::seconds(10)}};
//   int y = co_await pool.call(square, 7);               // await one call
//   auto h = pool.submit(square, 8);                     // a join_handle<int>
//   std::vector<int> ys = co_await pool.map(square, xs); // ordered, chunked
//   auto s = pool.map_unordered(square, xs);             // completion order
//   while (auto y = co_await s.next()) use(*y);
//   co_await pool.shutdown();
//
// Workers are forked from weft's fork server (see fork_server in the
// sources), which the first runtime (or pool) forked while the process had
// one thread: they are single-threaded copies of the program as it was
// then, so functions, globals set before and code are there, and memory
// the parent allocated since is not (pass data as arguments, or use the
// shared objects of weft/ipc/shared_*.hpp). Arguments and results are
// serialized (weft/ipc/serialize.hpp) straight into memory shared with the
// worker: one request and one result ring per worker, larger payloads
// through an arena of `arena_size` bytes each way.
//
// Failures stay with their task: an exception thrown by the function
// arrives as remote_error (type name and message kept); a worker that dies
// mid-task (a crash, abort, exit(), the OOM killer) fails that task with
// worker_crashed and is replaced; a task past `task_timeout` fails with
// weft::timeout_error and its worker is killed and replaced. Tasks queued
// behind a dead worker go to another one: none is lost or run twice.
//
// Cancellation: a queued task is dropped; a running one has its worker
// killed (and replaced). The awaiting task gets operation_cancelled.
//
// The parent side lives on the runtime that first awaits the pool: a
// reader task takes results (spinning briefly while tasks flow, then
// sleeping on an eventfd through the driver), and one task per worker
// watches its pidfd. A pool may outlive that runtime; the next runtime to
// use it takes over.
#pragma once

#include <chrono>
#include <coroutine>
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

#include "weft/ipc/detail/invoke.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"
#include "weft/runtime/as_completed.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/detail/wait_queue.hpp"
#include "weft/runtime/task.hpp"

namespace weft::ipc {

struct process_pool_options {
  /// Worker processes; 0 means one per hardware thread.
  unsigned workers = 0;
  /// A task running longer fails with weft::timeout_error and its worker is
  /// killed and replaced (zero: no limit). With a limit, each worker holds
  /// one task at a time, so the clock starts when the task does.
  std::chrono::nanoseconds task_timeout{0};
  /// A worker is replaced after this many tasks (zero: never), like
  /// multiprocessing.Pool's maxtasksperchild: for code that leaks.
  std::uint64_t max_tasks_per_worker = 0;
  /// Runs once in each worker before its first task (a function pointer or
  /// a captureless lambda). If it throws, the pool cannot start workers and
  /// every task fails with pool_error naming the exception.
  void (*initializer)() = nullptr;
  /// Bytes of shared memory per worker for arguments larger than a ring
  /// slot, and as many for results. Pages cost memory only once touched. A
  /// payload larger than this fails its task with serialization_error.
  std::size_t arena_size = std::size_t{64} << 20;
};

/// Counters since the pool started.
struct pool_stats {
  std::uint64_t completed = 0;  // returned a value
  std::uint64_t failed = 0;     // raised an exception (remote_error), or could not be sent
  std::uint64_t crashed = 0;    // their worker died (worker_crashed)
  std::uint64_t timed_out = 0;  // ran past task_timeout
  std::uint64_t cancelled = 0;  // cancelled while queued or running
  std::uint64_t workers_started = 0;
  std::uint64_t workers_restarted = 0;  // replacements after a crash, timeout, cancel or recycling
  unsigned workers = 0;                 // alive now
  std::size_t queued = 0;               // waiting for a worker
  std::size_t running = 0;              // handed to a worker
};

enum class shutdown_mode {
  wait,            // finish every task submitted, then stop the workers
  cancel_pending,  // drop queued tasks (operation_cancelled), finish running ones
  immediate,       // kill the workers now: unfinished tasks fail with operation_cancelled
};

namespace detail {

struct pool_core;  // ipc/src/pool_core.hpp
weft::detail::wait_target& target_of(pool_core& core) noexcept;

/// One call in flight, as the pool sees it. Lives in the awaiting frame.
struct call_record {
  std::uintptr_t invoker = 0;
  std::uintptr_t fn = 0;
  std::size_t size = 0;  // encoded arguments
  const void* owner = nullptr;
  void (*encode)(const call_record&, std::byte* dst, std::size_t n) = nullptr;
  void (*decode)(call_record&, byte_reader& in) = nullptr;
  weft::detail::waiter* waiter = nullptr;
  std::exception_ptr error;
  // The pool's bookkeeping, under its lock.
  call_record* prev = nullptr;
  call_record* next = nullptr;
  int worker = -1;  // -1: queued in the pool
  std::uint64_t index = 0;
};

/// System calls decided under the pool's lock, made after it.
struct submit_effects {
  std::shared_ptr<pool_core> attach;  // the serving tasks must be started on this runtime
};

bool enqueue_locked(pool_core& core, call_record& rec, weft::detail::waiter& w, submit_effects& fx, bool admitted);
/// A call made before shutdown() counts as submitted even if its task
/// only awaits it later: admit() says whether the pool still takes calls;
/// an admitted call never awaited gives its place back.
bool admit(pool_core& core) noexcept;
void unadmit(pool_core& core) noexcept;
void after_enqueue(pool_core& core, submit_effects& fx) noexcept;
std::shared_ptr<pool_core> make_pool_core(const process_pool_options& options);
void shutdown_now(pool_core& core) noexcept;
task<void> shutdown_core(std::shared_ptr<pool_core> core, shutdown_mode mode);
pool_stats stats_of(pool_core& core);
std::vector<int> worker_pids_of(pool_core& core);
unsigned worker_count_of(pool_core& core) noexcept;

/// Awaits one call: R is what the invoker returns, W... the wire types of
/// the arguments. Movable until awaited (with_timeout works on it).
template <class R, class... W>
class call_awaiter : weft::detail::task_wait {
 public:
  call_awaiter(std::shared_ptr<pool_core> core, invoker_fn invoker, std::uintptr_t fn, std::tuple<W...> args)
      : task_wait(target_of(*core)), core_(std::move(core)), invoker_(invoker), fn_(fn), args_(std::move(args)) {
    admitted_ = admit(*core_);
  }
  call_awaiter(call_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<std::tuple<W...>>)
      : task_wait(std::move(o)),
        core_(std::move(o.core_)),
        invoker_(o.invoker_),
        fn_(o.fn_),
        args_(std::move(o.args_)),
        admitted_(std::exchange(o.admitted_, false)) {}
  ~call_awaiter() {
    if (admitted_) unadmit(*core_);
  }

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> h) {
    rec_.invoker = reinterpret_cast<std::uintptr_t>(invoker_);
    rec_.fn = fn_;
    rec_.owner = this;
    rec_.encode = &encode_arguments;
    rec_.decode = &decode_result;
    rec_.size = std::apply([](const auto&... a) { return encoded_size(a...); }, args_);
    std::shared_ptr<pool_core> core = core_;  // *this may be gone once another thread resumes us
    submit_effects fx;
    bool suspended = suspend_task(h, "weft::ipc::process_pool::call", [&](weft::detail::waiter& w) {
      rec_.waiter = &w;
      return enqueue_locked(*core, rec_, w, fx, std::exchange(admitted_, false));
    });
    after_enqueue(*core, fx);
    return suspended;
  }

  R await_resume() {
    finish_wait();
    if (rec_.error) std::rethrow_exception(rec_.error);
    if constexpr (!std::is_void_v<R>) return std::move(*result_);
  }

 private:
  static void encode_arguments(const call_record& rec, std::byte* dst, std::size_t n) {
    auto* self = static_cast<const call_awaiter*>(rec.owner);
    byte_writer out(dst, n);
    std::apply([&](const auto&... a) { (ipc::encode(out, a), ...); }, self->args_);
  }
  static void decode_result(call_record& rec, byte_reader& in) {
    if constexpr (!std::is_void_v<R>) {
      auto* self = static_cast<call_awaiter*>(const_cast<void*>(rec.owner));
      self->result_.emplace(ipc::decode<R>(in));
    }
  }

  struct none {};
  std::shared_ptr<pool_core> core_;
  invoker_fn invoker_;
  std::uintptr_t fn_;
  std::tuple<W...> args_;
  std::conditional_t<std::is_void_v<R>, none, std::optional<R>> result_;
  call_record rec_;
  bool admitted_ = false;
};

/// The default chunk size of map(): Python's (about four chunks per worker).
std::size_t default_chunk_size(std::size_t items, unsigned workers) noexcept;

}  // namespace detail

/// Results of map_unordered() in the order they finish.
template <class R>
class map_stream {
 public:
  explicit map_stream(std::vector<join_handle<std::vector<R>>> chunks)
      : chunks_(weft::as_completed(std::move(chunks))) {}

  /// The next result, or std::nullopt after the last. A chunk whose call
  /// failed rethrows here; the other chunks go on.
  task<std::optional<R>> next() {
    while (pos_ == current_.size()) {
      auto done = co_await chunks_.next();
      if (!done) co_return std::nullopt;
      current_ = co_await done->handle;
      pos_ = 0;
    }
    co_return std::move(current_[pos_++]);
  }
  /// Cancels the chunks not yet finished.
  void cancel() noexcept { chunks_.cancel_all(); }

 private:
  as_completed_stream<std::vector<R>> chunks_;
  std::vector<R> current_;
  std::size_t pos_ = 0;
};

class process_pool {
 public:
  explicit process_pool(process_pool_options options = {});
  /// Kills the workers (shutdown_mode::immediate) unless shut down already.
  ~process_pool();
  process_pool(const process_pool&) = delete;
  process_pool& operator=(const process_pool&) = delete;

  /// `co_await pool.call(f, args...)`: f(args...) in a worker process.
  /// Arguments are copied (serialized) now; f's result, or its exception
  /// as remote_error. Movable until awaited.
  // (Arguments are taken by value: GCC 12 cannot keep a reference to a
  // string literal's array in a coroutine frame.)
  template <class F, class... A>
  auto call(F f, A... args) {
    detail::check_callable<F>();
    return make_call<F, wire_t<A>...>(f, wire_t<A>(std::move(args))...);
  }

  /// Like call(), as a spawned task: a join_handle to await later, cancel,
  /// or pass to weft::as_completed.
  template <class F, class... A>
  auto submit(F f, A... args) {
    auto awaiter = call(f, std::move(args)...);
    using R = decltype(awaiter.await_resume());
    return weft::spawn(run_call<R>(std::move(awaiter)));
  }

  /// f over items in worker processes, results in order (Pool.map). Items
  /// travel in chunks of chunk_size (0: about four chunks per worker); a
  /// failing item fails the whole map with its exception, and the other
  /// chunks are cancelled. For an f returning void the results are
  /// std::monostate, one per item.
  template <class F, std::ranges::input_range Range>
  auto map(F f, Range&& items, std::size_t chunk_size = 0) {
    using T = std::ranges::range_value_t<Range>;
    using R = detail::map_result_t<F, T>;
    return collect<R>(submit_chunks<F, T>(f, std::forward<Range>(items), chunk_size));
  }

  /// Like map(), results as they finish (Pool.imap_unordered).
  template <class F, std::ranges::input_range Range>
  auto map_unordered(F f, Range&& items, std::size_t chunk_size = 0) {
    using T = std::ranges::range_value_t<Range>;
    using R = detail::map_result_t<F, T>;
    return map_stream<R>(submit_chunks<F, T>(f, std::forward<Range>(items), chunk_size));
  }

  /// Stops the pool: later calls fail with pool_error; see shutdown_mode.
  /// Returns when the workers are gone.
  task<void> shutdown(shutdown_mode mode = shutdown_mode::wait) { return detail::shutdown_core(core_, mode); }

  pool_stats stats() const { return detail::stats_of(*core_); }
  /// Worker processes alive now.
  unsigned size() const noexcept { return detail::worker_count_of(*core_); }
  /// Their process ids (for monitoring and tests).
  std::vector<int> worker_pids() const { return detail::worker_pids_of(*core_); }

 private:
  template <class F, class... W>
  auto make_call(F f, W... args) {
    using R = detail::call_result_t<F, W...>;
    return detail::call_awaiter<R, W...>(core_, &detail::invoke_call<F, W...>, detail::function_word(f),
                                         std::tuple<W...>(std::move(args)...));
  }

  template <class R, class Awaiter>
  static task<R> run_call(Awaiter awaiter) {
    co_return co_await std::move(awaiter);
  }

  template <class F, class T, class Range>
  auto submit_chunks(F f, Range&& items, std::size_t chunk_size) {
    detail::check_callable<F>();
    using R = detail::map_result_t<F, T>;
    std::vector<T> all;
    if constexpr (std::ranges::sized_range<Range>) all.reserve(std::ranges::size(items));
    for (auto&& item : items) all.push_back(std::forward<decltype(item)>(item));
    if (chunk_size == 0) chunk_size = detail::default_chunk_size(all.size(), size());
    std::vector<join_handle<std::vector<R>>> chunks;
    chunks.reserve((all.size() + chunk_size - 1) / chunk_size);
    for (std::size_t i = 0; i < all.size(); i += chunk_size) {
      std::size_t end = std::min(all.size(), i + chunk_size);
      std::vector<T> chunk(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(i)),
                           std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(end)));
      detail::call_awaiter<std::vector<R>, std::vector<T>> awaiter(
          core_, &detail::invoke_chunk<F, T>, detail::function_word(f), std::tuple<std::vector<T>>(std::move(chunk)));
      chunks.push_back(weft::spawn(run_call<std::vector<R>>(std::move(awaiter))));
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

}  // namespace weft::ipc
