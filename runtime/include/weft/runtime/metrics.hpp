// Scheduler counters, per worker, for tests, tuning and dashboards, and
// their rendering in the Prometheus text format for a /metrics endpoint.
//
//   auto m = rt.metrics();
//   fmt::print("stolen: {}\n", m.total().tasks_stolen);
//   std::string page = weft::metrics_text(rt);  // serve as text/plain; version=0.0.4
//
// A snapshot is read without stopping the workers: each counter is exact
// on its own, but counters of one snapshot may be a few events apart.
// Nothing here suspends, so cancellation does not apply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft {

class runtime;

struct worker_metrics {
  std::uint64_t tasks_polled = 0;      // times a task was resumed from a run queue
  std::uint64_t tasks_spawned = 0;     // spawns made on this worker
  std::uint64_t tasks_completed = 0;   // tasks that finished on this worker
  std::uint64_t tasks_stolen = 0;      // tasks this worker took from others
  std::uint64_t steal_attempts = 0;    // victims this worker tried
  std::uint64_t steal_operations = 0;  // successful steals (batches)
  std::uint64_t parks = 0;             // times it slept in its driver
  std::uint64_t wakeups = 0;           // times another thread woke it
  std::uint64_t inject_pops = 0;       // tasks taken from the global inject queue
  std::uint64_t local_overflows = 0;   // times half its queue moved to the inject queue
  std::uint64_t lifo_polls = 0;        // tasks run from the LIFO slot
  std::uint64_t hand_offs = 0;         // joiners resumed directly by a finishing task
  std::uint64_t io_completions = 0;    // driver events processed
  std::uint64_t timers_fired = 0;
  std::uint64_t stalls = 0;             // tasks reported running past runtime_options::stall_threshold
  std::uint64_t local_queue_depth = 0;  // at the time of the snapshot

  worker_metrics& operator+=(const worker_metrics& o) noexcept;
};

struct runtime_metrics {
  std::vector<worker_metrics> workers;
  std::uint64_t inject_queue_depth = 0;
  std::uint64_t live_tasks = 0;  // spawned, not yet finished (approximate while running)
  // The blocking pool (spawn_blocking), at the time of the snapshot.
  std::uint64_t blocking_threads = 0;      // pool threads alive, busy or idle
  std::uint64_t blocking_idle = 0;         // of those, waiting for a job
  std::uint64_t blocking_queue_depth = 0;  // jobs waiting for a thread

  worker_metrics total() const noexcept {
    worker_metrics t;
    for (const auto& w : workers) t += w;
    return t;
  }
};

/// The snapshot in the Prometheus text exposition format (version 0.0.4):
/// one `# HELP` and `# TYPE` per metric, named `weft_...`; the per-worker
/// counters (`weft_tasks_polled_total{worker="0"}`, ...) as counters with a
/// `worker` label, the queue depths and the blocking pool as gauges. Serve
/// it with `Content-Type: text/plain; version=0.0.4`.
std::string metrics_text(const runtime_metrics& m);
/// metrics_text(rt.metrics()).
std::string metrics_text(const runtime& rt);

}  // namespace weft
