// weft::ipc::process: one function in a process of its own — Python's
// multiprocessing.Process.
//
//   void greet(std::string name) { std::printf("hello %s from %d\n", name.c_str(), getpid()); }
//   int square(int x) { return x * x; }
//
//   auto p = weft::ipc::process::start(greet, "bob");    // running now
//   int code = co_await p.join();                          // 0 returned, 1 threw, -9 SIGKILL
//   auto q = weft::ipc::process::start(square, 7);
//   int y = co_await q.result();                           // 49, or its exception
//   q.pid();  q.is_alive();  q.exitcode();  q.terminate();  q.kill();
//   auto d = weft::ipc::process::start({.daemon = true}, serve_forever, queue);
//
// Each process is forked from weft's fork server (see process_pool.hpp):
// a fresh single-threaded copy of the program as it was before the
// runtime started, so no global a previous task changed leaks into it,
// unlike a pool worker that runs call after call. Arguments go through
// the serializer (weft/ipc/serialize.hpp), as for a pool call; pass shared
// objects (process_queue, pipe ends, event, shared_value, ...) as
// arguments to talk to it while it runs. It runs the one function and
// exits: exit code 0 if the function returned, 1 if it threw (the
// exception arrives from result() as remote_error), the code given to
// exit() if it called it, and a process killed by signal N reports -N, as
// Python's exitcode does.
//
// start() forks through the fork server and returns once the process
// exists and has decoded its arguments (about a millisecond; a process
// still busy in at_worker_start hooks after 2 s is left to decode them
// later), so the caller may drop its copies of handles it passed — a pipe
// end — at once. A handle is cheap to copy; every copy
// names the same process, and dropping every handle neither kills it nor
// waits for it. At the program's exit (returning from main, or exit()),
// weft waits for the non-daemon processes still running, saying so on
// stderr, as Python joins non-daemonic children; daemon processes are
// killed instead (they also die with the program if it crashes, as every
// worker does).
//
// Cancellation and deadlines: join() and result() wait on the process's
// pidfd through the runtime's driver. A task cancelled while waiting —
// with_timeout, when_any, cancel() — throws operation_cancelled
// (timeout_error under with_timeout) and the process runs on, as Python's
// join(timeout) leaves it running; join_for(d) says whether it ended in
// time. Stop it with terminate() (SIGTERM) or kill() (SIGKILL).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weft/ipc/detail/invoke.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"
#include "weft/runtime/task.hpp"

namespace weft::ipc {

struct process_options {
  /// Killed when the program exits, instead of waited for (Python's
  /// Process.daemon).
  bool daemon = false;
  /// Bytes of shared memory for arguments larger than a ring slot (about
  /// 200 bytes), and as many for the result. Pages cost memory only once
  /// touched; a payload larger fails with serialization_error.
  std::size_t arena_size = std::size_t{16} << 20;
};

namespace detail {

struct process_state;

/// The call as start() hands it to process.cpp: the arguments are
/// encoded straight into the new process's shared memory.
struct process_call {
  std::uintptr_t invoker = 0;
  std::uintptr_t fn = 0;
  std::size_t size = 0;
  std::shared_ptr<const void> args;  // kept until the process decoded them (handles in them stay alive)
  void (*encode)(const void* args, std::byte* dst, std::size_t n) = nullptr;
};

std::shared_ptr<process_state> start_process(const process_options& options, const process_call& call);
pid_t pid_of(const process_state& s) noexcept;
bool daemon_of(const process_state& s) noexcept;
bool alive(process_state& s);
std::optional<int> exitcode_of(process_state& s);
void signal_process(process_state& s, int sig, const char* what);
task<int> join_process(std::shared_ptr<process_state> s);
task<std::optional<int>> join_process_for(std::shared_ptr<process_state> s, std::chrono::nanoseconds timeout);
int blocking_join_process(process_state& s, std::chrono::nanoseconds timeout, bool& ended);
/// The function's result once it ended: calls decode on its bytes, or
/// throws its exception (remote_error), worker_crashed if it died first,
/// protocol_error if what it left cannot be a result.
void read_process_result(process_state& s, void (*decode)(void* out, byte_reader& in), void* out);
[[noreturn]] void throw_empty_process();

}  // namespace detail

template <class R>
class basic_process;

/// A process whose result is not needed (or is void). Every
/// basic_process<R> converts to it.
using process = basic_process<void>;

/// A process running one function that returns R. Get one from
/// process::start.
template <class R>
class basic_process {
 public:
  basic_process() noexcept = default;
  /// Forgets the result type (to keep processes of different functions
  /// together).
  template <class U>
  requires std::is_void_v<R> &&(!std::is_void_v<U>)basic_process(const basic_process<U>& other) noexcept
      : state_(other.state_) {}

  /// Starts f(args...) in a new process.
  template <class F, class... A>
  requires(!std::same_as<std::decay_t<F>, process_options>) static auto start(F f, A... args) {
    return start(process_options{}, f, std::move(args)...);
  }
  template <class F, class... A>
  static auto start(process_options options, F f, A... args) {
    detail::check_callable<F>();
    return launch<F, wire_t<A>...>(options, f, wire_t<A>(std::move(args))...);
  }

  /// Its process id (it stays valid until every handle is gone: the pid
  /// is not reused before, as weft holds a pidfd for it).
  pid_t pid() const { return detail::pid_of(state()); }
  bool daemon() const { return detail::daemon_of(state()); }
  /// True until it ends.
  bool is_alive() const { return detail::alive(state()); }
  /// std::nullopt while it runs; then 0 (returned), 1 (threw), the code it
  /// gave exit(), or -N if signal N killed it.
  std::optional<int> exitcode() const { return detail::exitcode_of(state()); }

  /// Waits for it to end; its exitcode().
  task<int> join() const { return detail::join_process(shared()); }
  /// Waits at most `timeout`: its exit code, or std::nullopt if it still
  /// runs (it is not stopped).
  template <class Rep, class Period>
  task<std::optional<int>> join_for(std::chrono::duration<Rep, Period> timeout) const {
    return detail::join_process_for(shared(), std::chrono::ceil<std::chrono::nanoseconds>(timeout));
  }
  /// join() for plain threads and worker processes: blocks the calling
  /// thread (std::logic_error on a runtime worker thread).
  int blocking_join() const {
    bool ended = false;
    return detail::blocking_join_process(state(), std::chrono::nanoseconds::max(), ended);
  }
  template <class Rep, class Period>
  std::optional<int> blocking_join_for(std::chrono::duration<Rep, Period> timeout) const {
    bool ended = false;
    int code = detail::blocking_join_process(state(), std::chrono::ceil<std::chrono::nanoseconds>(timeout), ended);
    if (!ended) return std::nullopt;
    return code;
  }

  /// Waits for it to end, then its function's result: the value, its
  /// exception as remote_error, worker_crashed if it died before returning
  /// (killed, crashed, called exit()). May be awaited more than once.
  task<R> result() const { return result_task(shared()); }

  /// SIGTERM (Python's terminate()): it ends without running its at-exit
  /// handlers; exitcode() becomes -15. No effect once it ended.
  void terminate() const { detail::signal_process(state(), 15, "terminate"); }
  /// SIGKILL: cannot be caught; exitcode() becomes -9.
  void kill() const { detail::signal_process(state(), 9, "kill"); }

  /// False for a default-constructed or moved-from handle.
  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  template <class>
  friend class basic_process;

  explicit basic_process(std::shared_ptr<detail::process_state> s) noexcept : state_(std::move(s)) {}

  detail::process_state& state() const {
    if (!state_) detail::throw_empty_process();
    return *state_;
  }
  const std::shared_ptr<detail::process_state>& shared() const {
    state();
    return state_;
  }

  template <class F, class... W>
  static auto launch(const process_options& options, F f, W... args) {
    using T = detail::call_result_t<F, W...>;
    auto tuple = std::make_shared<const std::tuple<W...>>(std::move(args)...);
    detail::process_call call;
    call.invoker = reinterpret_cast<std::uintptr_t>(&detail::invoke_call<F, W...>);
    call.fn = detail::function_word(f);
    call.size = std::apply([](const auto&... a) { return encoded_size(a...); }, *tuple);
    call.args = std::move(tuple);
    call.encode = [](const void* p, std::byte* dst, std::size_t n) {
      byte_writer out(dst, n);
      std::apply([&](const auto&... a) { (ipc::encode(out, a), ...); }, *static_cast<const std::tuple<W...>*>(p));
    };
    return basic_process<T>(detail::start_process(options, call));
  }

  static task<R> result_task(std::shared_ptr<detail::process_state> s) {
    co_await detail::join_process(s);
    if constexpr (std::is_void_v<R>) {
      detail::read_process_result(*s, nullptr, nullptr);
    } else {
      std::optional<R> out;
      detail::read_process_result(
          *s, [](void* o, byte_reader& in) { static_cast<std::optional<R>*>(o)->emplace(ipc::decode<R>(in)); }, &out);
      co_return std::move(*out);
    }
  }

  std::shared_ptr<detail::process_state> state_;
};

}  // namespace weft::ipc
