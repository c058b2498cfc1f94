// fmt::formatter specializations for the ipc module's public types, so that
// they print with fmt::format / fmt::print like any other value:
//
//   ipc::pool_stats   one line, key=value pairs named after the fields:
//                     "completed=120 failed=1 crashed=0 timed_out=0
//                     cancelled=0 workers=4 queued=0 running=2
//                     workers_started=5 workers_restarted=1"
//   remote_error, worker_crashed (protocol_error), serialization_error,
//   pool_error, owner_died_error, shared_heap_exhausted, broken_barrier,
//   and any type derived from them
//                     their what(): "std::out_of_range: index 5 out of
//                     range", "weft: worker process 4242 died from signal
//                     9 (SIGKILL)"
//
//   weft::ipc::process_pool pool{{.workers = 4}};
//   ...
//   fmt::print("pool: {}\n", pool.stats());  // pool: completed=120 failed=1 ...
//   catch (const weft::ipc::worker_crashed& e) { fmt::print(stderr, "{}\n", e); }
//
// Each takes the specs of a string ("{:>40}", "{:.60}"), applied to the
// whole text. A process's exit code is a plain int (see process.hpp).
// Includes weft/runtime/format.hpp (metrics, runtime errors).
//
// Cancellation does not apply: formatting does not wait.
#pragma once

#include <concepts>
#include <string_view>

#include <fmt/format.h>

#include "weft/ipc/barrier.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/process_pool.hpp"
#include "weft/runtime/format.hpp"

namespace weft::ipc::detail {

/// The ipc module's exceptions and the types derived from them (see
/// weft::detail::runtime_exception). protocol_error is a worker_crashed.
template <class E>
concept ipc_exception = weft::detail::own_exception_formatters &&
    (std::derived_from<E, remote_error> || std::derived_from<E, worker_crashed> ||
     std::derived_from<E, serialization_error> || std::derived_from<E, pool_error> ||
     std::derived_from<E, owner_died_error> || std::derived_from<E, shared_heap_exhausted> ||
     std::derived_from<E, broken_barrier>);

}  // namespace weft::ipc::detail

/// "completed=120 failed=1 crashed=0 timed_out=0 cancelled=0 workers=4
/// queued=0 running=2 workers_started=5 workers_restarted=1": every field,
/// the outcomes first, then the workers and the calls in flight.
template <>
struct fmt::formatter<weft::ipc::pool_stats> : weft::detail::text_formatter {
  auto format(const weft::ipc::pool_stats& s, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return format_text(ctx,
                       "completed={} failed={} crashed={} timed_out={} cancelled={} workers={} queued={} running={} "
                       "workers_started={} workers_restarted={}",
                       s.completed, s.failed, s.crashed, s.timed_out, s.cancelled, s.workers, s.queued, s.running,
                       s.workers_started, s.workers_restarted);
  }
};

/// what(): "<type>: <message>" for a remote_error, how the worker died for
/// a worker_crashed, the message given for the others.
template <class E>
requires weft::ipc::detail::ipc_exception<E>
struct fmt::formatter<E, char> : weft::detail::what_formatter {
};
