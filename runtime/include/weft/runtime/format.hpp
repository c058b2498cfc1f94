// fmt::formatter specializations for the runtime's public types, so that
// they print with fmt::format / fmt::print like any other value:
//
//   runtime_metrics   one line, key=value pairs named after the fields:
//                     "workers=4 live_tasks=2 tasks_spawned=130 ..." (below)
//   worker_metrics    one line with every counter of one worker (or of
//                     m.total(), the sums over all workers)
//   io_backend        its name: "io_uring", "epoll", "automatic"
//   operation_cancelled, timeout_error, channel_closed, and any type derived
//                     from them: their what() ("weft: operation timed out")
//
//   weft::runtime rt{{.workers = 4}};
//   rt.block_on(serve());
//   auto m = rt.metrics();
//   fmt::print("{} on {}\n", m, rt.io_backend());  // workers=4 ... on io_uring
//   fmt::print("totals: {}\n", m.total());          // every counter, summed
//   for (auto& w : m.workers) fmt::print("  {}\n", w);
//   catch (const weft::timeout_error& e) { fmt::print(stderr, "{}\n", e); }
//
// Each takes the specs of a string ("{:>40}", "{:-^60}", "{:.20}"), applied
// to the whole text (exceptions only with fmt 9: fmt 10 and later format
// them with fmt/std.h's formatter, also as what()). Durations (timeouts,
// clock::duration) are formatted by fmt itself: include <fmt/chrono.h>.
//
// Cancellation does not apply: formatting does not wait.
#pragma once

#include <concepts>
#include <exception>
#include <iterator>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#if FMT_VERSION >= 100000
#include <fmt/std.h>  // its formatter of every std::exception (see below)
#endif

#include "weft/runtime/errors.hpp"
#include "weft/runtime/metrics.hpp"
#include "weft/runtime/runtime_options.hpp"

namespace weft::detail {

/// Base of the formatters that write a value as a line of text: the text
/// is formatted whole, then given a string's specs ("{:>40}", "{:.20}").
struct text_formatter : fmt::formatter<std::string_view> {
 protected:
  template <class... Args>
  auto format_text(fmt::format_context& ctx, fmt::format_string<Args...> text, Args&&... args) const
      -> decltype(ctx.out()) {
    fmt::memory_buffer buf;
    fmt::format_to(std::back_inserter(buf), text, std::forward<Args>(args)...);
    return fmt::formatter<std::string_view>::format(std::string_view(buf.data(), buf.size()), ctx);
  }
};

/// Formats an exception as its what(), taking the specs of a string. The
/// formatters of weft's error types (here and in the io, http and ipc
/// format.hpp) derive from it.
struct what_formatter : fmt::formatter<std::string_view> {
  auto format(const std::exception& e, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(e.what(), ctx);
  }
};

/// fmt 10 and later format any std::exception as its what() themselves
/// (fmt/std.h), through a partial specialization that would be ambiguous
/// beside weft's: there weft's exception formatters stand aside (same
/// text; fmt's specs, "{:t}" for the type name, instead of a string's).
inline constexpr bool own_exception_formatters = FMT_VERSION < 100000;

/// The runtime's exceptions, and the types derived from them: fmt looks a
/// formatter up by the exact type, so the formatter below is a partial
/// specialization constrained on this rather than one per class.
template <class E>
concept runtime_exception = own_exception_formatters &&
    (std::derived_from<E, operation_cancelled> || std::derived_from<E, timeout_error> ||
     std::derived_from<E, channel_closed>);

}  // namespace weft::detail

/// "workers=4 live_tasks=2 tasks_spawned=130 tasks_completed=128
/// tasks_polled=410 tasks_stolen=12 local_queue_depth=1 inject_queue_depth=0
/// io_completions=96 timers_fired=3 parks=57 wakeups=41 blocking_threads=1
/// blocking_idle=1 blocking_queue_depth=0": the worker counters (tasks_* to
/// wakeups) summed over the workers, the rest as in runtime_metrics. What a
/// dashboard line needs; format m.total() for the other counters as well.
template <>
struct fmt::formatter<weft::runtime_metrics> : weft::detail::text_formatter {
  auto format(const weft::runtime_metrics& m, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    const weft::worker_metrics t = m.total();
    return format_text(ctx,
                       "workers={} live_tasks={} tasks_spawned={} tasks_completed={} tasks_polled={} "
                       "tasks_stolen={} local_queue_depth={} inject_queue_depth={} io_completions={} "
                       "timers_fired={} parks={} wakeups={} blocking_threads={} blocking_idle={} "
                       "blocking_queue_depth={}",
                       m.workers.size(), m.live_tasks, t.tasks_spawned, t.tasks_completed, t.tasks_polled,
                       t.tasks_stolen, t.local_queue_depth, m.inject_queue_depth, t.io_completions, t.timers_fired,
                       t.parks, t.wakeups, m.blocking_threads, m.blocking_idle, m.blocking_queue_depth);
  }
};

/// Every counter, in the order weft/runtime/metrics.hpp declares them:
/// "tasks_polled=410 tasks_spawned=130 tasks_completed=128 tasks_stolen=12
/// steal_attempts=70 steal_operations=9 parks=57 wakeups=41 inject_pops=5
/// local_overflows=0 lifo_polls=88 hand_offs=14 io_completions=96
/// timers_fired=3 stalls=0 local_queue_depth=1".
template <>
struct fmt::formatter<weft::worker_metrics> : weft::detail::text_formatter {
  auto format(const weft::worker_metrics& w, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return format_text(ctx,
                       "tasks_polled={} tasks_spawned={} tasks_completed={} tasks_stolen={} steal_attempts={} "
                       "steal_operations={} parks={} wakeups={} inject_pops={} local_overflows={} lifo_polls={} "
                       "hand_offs={} io_completions={} timers_fired={} stalls={} local_queue_depth={}",
                       w.tasks_polled, w.tasks_spawned, w.tasks_completed, w.tasks_stolen, w.steal_attempts,
                       w.steal_operations, w.parks, w.wakeups, w.inject_pops, w.local_overflows, w.lifo_polls,
                       w.hand_offs, w.io_completions, w.timers_fired, w.stalls, w.local_queue_depth);
  }
};

/// weft::to_string(b): "io_uring", "epoll", "automatic".
template <>
struct fmt::formatter<weft::io_backend> : fmt::formatter<std::string_view> {
  auto format(weft::io_backend b, fmt::format_context& ctx) const -> decltype(ctx.out()) {
    return fmt::formatter<std::string_view>::format(weft::to_string(b), ctx);
  }
};

/// what(): "weft: operation cancelled", "weft: operation timed out",
/// "weft: channel closed", or the message given to the constructor.
template <class E>
requires weft::detail::runtime_exception<E>
struct fmt::formatter<E, char> : weft::detail::what_formatter {
};
