// weft::metrics_text: runtime_metrics in the Prometheus text format.
#include "weft/runtime/metrics.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <iterator>
#include <string>

#include "weft/runtime/runtime.hpp"

namespace weft {

namespace {

/// One per-worker counter: its name (after "weft_", before "_total"), help
/// text and member.
struct worker_counter {
  const char* name;
  const char* help;
  std::uint64_t worker_metrics::*field;
};

constexpr worker_counter worker_counters[] = {
    {"tasks_polled", "Times a task was resumed from a run queue.", &worker_metrics::tasks_polled},
    {"tasks_spawned", "Tasks spawned on this worker.", &worker_metrics::tasks_spawned},
    {"tasks_completed", "Tasks that finished on this worker.", &worker_metrics::tasks_completed},
    {"tasks_stolen", "Tasks this worker took from other workers.", &worker_metrics::tasks_stolen},
    {"steal_attempts", "Other workers this worker tried to steal from.", &worker_metrics::steal_attempts},
    {"steal_operations", "Successful steals (each takes a batch of tasks).", &worker_metrics::steal_operations},
    {"parks", "Times this worker slept in its I/O driver.", &worker_metrics::parks},
    {"wakeups", "Times another thread woke this worker.", &worker_metrics::wakeups},
    {"inject_pops", "Tasks taken from the global inject queue.", &worker_metrics::inject_pops},
    {"local_overflows", "Times half the local queue moved to the inject queue.", &worker_metrics::local_overflows},
    {"lifo_polls", "Tasks run from the LIFO slot.", &worker_metrics::lifo_polls},
    {"hand_offs", "Joiners resumed directly by a finishing task.", &worker_metrics::hand_offs},
    {"io_completions", "I/O driver events processed.", &worker_metrics::io_completions},
    {"timers_fired", "Timers that fired.", &worker_metrics::timers_fired},
    {"stalls", "Tasks reported running past runtime_options::stall_threshold without suspending.",
     &worker_metrics::stalls},
};

void header(std::string& out, const char* name, const char* help, const char* type) {
  fmt::format_to(std::back_inserter(out), "# HELP weft_{} {}\n# TYPE weft_{} {}\n", name, help, name, type);
}

void gauge(std::string& out, const char* name, const char* help, std::uint64_t value) {
  header(out, name, help, "gauge");
  fmt::format_to(std::back_inserter(out), "weft_{} {}\n", name, value);
}

}  // namespace

std::string metrics_text(const runtime_metrics& m) {
  std::string out;
  out.reserve(4096 + m.workers.size() * 640);
  gauge(out, "workers", "Worker threads of the runtime.", m.workers.size());
  for (const worker_counter& c : worker_counters) {
    const std::string name = std::string(c.name) + "_total";
    header(out, name.c_str(), c.help, "counter");
    for (std::size_t i = 0; i < m.workers.size(); ++i)
      fmt::format_to(std::back_inserter(out), "weft_{}{{worker=\"{}\"}} {}\n", name, i, m.workers[i].*c.field);
  }
  header(out, "local_queue_depth", "Tasks in the worker's local run queue.", "gauge");
  for (std::size_t i = 0; i < m.workers.size(); ++i)
    fmt::format_to(std::back_inserter(out), "weft_local_queue_depth{{worker=\"{}\"}} {}\n", i,
                   m.workers[i].local_queue_depth);
  gauge(out, "inject_queue_depth", "Tasks in the global inject queue.", m.inject_queue_depth);
  gauge(out, "live_tasks", "Tasks spawned and not yet finished.", m.live_tasks);
  gauge(out, "blocking_threads", "Threads of the blocking pool (spawn_blocking), busy or idle.", m.blocking_threads);
  gauge(out, "blocking_idle", "Blocking pool threads waiting for a job.", m.blocking_idle);
  gauge(out, "blocking_queue_depth", "Jobs waiting for a blocking pool thread.", m.blocking_queue_depth);
  return out;
}

std::string metrics_text(const runtime& rt) { return metrics_text(rt.metrics()); }

}  // namespace weft
