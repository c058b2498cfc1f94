// weft::spawn_process(f, args...): run one function in a worker process and
// await its result, without stalling the event loop.
//
//   std::uint64_t count_primes(std::uint64_t lo, std::uint64_t hi);
//   auto n = co_await weft::spawn_process(count_primes, 0, 10'000'000);
//   auto h = weft::spawn_process(count_primes, 0, 10'000'000);  // running already
//   ...                                                          // other work meanwhile
//   auto m = co_await h;                                         // a weft::join_handle
//
// The call starts at once, as process_pool::submit's does (and Python's
// executor.submit): spawn_process returns a join_handle, which a task may
// await later, cancel, or pass to weft::as_completed / when_any. Call it
// from a task (it spawns one on the current runtime).
//
// It uses the default process pool (one worker per core, started on first
// use; see process_pool.hpp for what travels and how failures arrive):
// f's exception arrives as weft::ipc::remote_error, a worker that dies as
// weft::ipc::worker_crashed. Cancelling the handle (or the task awaiting
// it as a temporary, `co_await spawn_process(...)`, or giving up on it in
// with_timeout / when_any) drops a queued call and kills the worker of a
// running one (it is replaced), so
// `co_await weft::with_timeout(2s, weft::spawn_process(f, x))` bounds a call
// that might hang.
#pragma once

#include <utility>

#include "weft/ipc/process_pool.hpp"

namespace weft {

namespace ipc {

/// The pool behind spawn_process: created on first use with default
/// options (WEFT_PROCESS_WORKERS overrides the worker count), kept until
/// the program exits.
process_pool& default_pool();

/// Same as weft::spawn_process.
template <class F, class... A>
auto spawn_process(F f, A... args) {
  return default_pool().submit(f, std::move(args)...);
}

}  // namespace ipc

/// f(args...) in a worker process, started now: a join_handle to await.
template <class F, class... A>
auto spawn_process(F f, A... args) {
  return ipc::default_pool().submit(f, std::move(args)...);
}

}  // namespace weft
