// scraper::page_batcher: pages to the process pool in batches, one pool
// call for many pages, each awaiter still getting its own page's result.
//
//   scraper::page_batcher batcher;                        // in a task, per crawl
//   scraper::page_info info = co_await batcher.analyze(final_url, std::move(body), rules);
//   ...
//   co_await batcher.close();                             // before the runtime ends
//
// Why: on one CPU, a pool call per page costs about 2.4 context switches
// between the crawler and the worker process (~30 µs, as much as half the
// parse). Concurrent analyze() calls are gathered into one
// pool.submit(analyze_batch, pages): a vector of pages in, a vector of
// outcomes (page_info or that page's error) out.
//
// When a batch leaves (batch_rule): `adaptive` (the default, Nagle-style)
// sends at once while fewer batches are in the pool than it has workers,
// and otherwise gathers pages until a batch comes back (or until a full
// batch is ready, which may then wait in the pool's queue beside the one
// running); `timer` gathers for `window` after the first page or until the
// batch is full; `off` sends every page alone (the old way, to compare). A
// batch holds at most max_pages pages and max_bytes of bodies (a page
// larger than max_bytes goes alone).
//
// Failures stay with their page: an exception from analyzing one page
// fails that page only (caught per page in the worker; it arrives as
// weft::ipc::remote_error, as spawn_process would deliver it). If a batch
// fails as a whole (its worker crashed: worker_crashed; or it ran past the
// pool's task_timeout: weft::timeout_error), its pages are sent again one
// by one, so only the page that crashes or hangs fails, with the error a
// lone spawn_process of it would give.
//
// Where batches go: the process pool (`pool`, weft's default pool when
// null) runs `function` on each batch; or, with `submit` set, that
// function takes each batch instead and returns the task computing its
// outcomes (the scraper's --cluster mode sends them to the ranks of an MPI
// job this way: cluster_backend.hpp), with `submit_workers` workers behind
// it. The batcher itself knows no more about where they run: gathering,
// the retry one by one and cancellation are the same either way.
//
// Cancellation: a task cancelled in analyze() throws operation_cancelled;
// its page is dropped from the batch being gathered if it was not sent
// yet, and if it was sent its result is discarded (the other pages of the
// batch get theirs). close() drops what was not sent and cancels the
// batches in the pool (their workers are killed and replaced), then waits
// for them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "extract.hpp"
#include "page.hpp"
#include "weft/ipc/process_pool.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"

namespace scraper {

/// One page of a batch, as it travels to the worker.
struct page_job {
  std::string url;   // the final URL (after redirects)
  std::string body;  // the HTML
  page_rules rules;  // empty: analyze_page, else analyze_page_with

  template <class A>
  void serialize(A& a) {
    a(url, body, rules);
  }
};

/// One page's result, as it travels back: the page_info, or the type name
/// and message of the exception analyzing the page threw.
struct page_outcome {
  bool ok = false;
  page_info info;
  std::string error_type;
  std::string error;

  template <class A>
  void serialize(A& a) {
    a(ok, info, error_type, error);
  }
};

/// A function that runs in the worker: a batch of pages in, one outcome
/// per page out, in order.
using batch_function = std::vector<page_outcome> (*)(std::vector<page_job>);

/// The production analysis of one page: analyze_page, or
/// analyze_page_with when the job has rules.
page_info analyze_job(const page_job& job);

/// What the demangled type name of e is ("std::runtime_error").
std::string exception_type_name(const std::exception& e);

/// A batch function from a per-page analysis: each page's exception is
/// caught and becomes its outcome's error, so it fails that page only.
/// Tests instantiate it with an analysis that crashes or hangs on chosen
/// URLs; production uses analyze_batch.
template <page_info (*Analyze)(const page_job&)>
std::vector<page_outcome> analyze_batch_using(std::vector<page_job> jobs) {
  std::vector<page_outcome> out(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    try {
      out[i].info = Analyze(jobs[i]);
      out[i].ok = true;
    } catch (const std::exception& e) {
      out[i].error_type = exception_type_name(e);
      out[i].error = e.what();
    } catch (...) {
      out[i].error_type = "unknown";
      out[i].error = "unknown exception";
    }
  }
  return out;
}

/// The batch function the batcher sends by default.
std::vector<page_outcome> analyze_batch(std::vector<page_job> jobs);

/// Sends one batch somewhere other than a local process pool: the pages
/// in, the task computing one outcome per page (in order) out. A failure of
/// the whole task (worker_crashed, timeout_error, ...) counts as the
/// batch's failing as a whole, as a pool call's would: its pages are sent
/// again one by one, through this function too.
using batch_submit = std::function<weft::join_handle<std::vector<page_outcome>>(std::vector<page_job>)>;

enum class batch_rule {
  adaptive,  // send while a worker is free; else gather until a batch returns or one is full
  timer,     // gather for `window` after the first page, or until full
  off,       // every page alone
};

/// "adaptive", "timer" or "off"; throws std::invalid_argument naming the
/// value otherwise.
batch_rule parse_batch_rule(const std::string& name);

struct page_batcher_options {
  batch_rule rule = batch_rule::adaptive;
  std::size_t max_pages = 16;                    // pages per batch
  std::size_t max_bytes = std::size_t{1} << 20;  // bytes of bodies per batch (a larger page goes alone)
  std::chrono::microseconds window{1000};        // timer: how long a batch gathers
  unsigned max_in_flight = 0;                    // adaptive: batches in the pool before gathering; 0: its workers
  weft::ipc::process_pool* pool = nullptr;       // nullptr: weft's default pool (spawn_process's)
  batch_function function = &analyze_batch;      // what runs in the worker (tests inject theirs)
  batch_submit submit;                           // set: batches go here, not to `pool` (nor `function`)
  unsigned submit_workers = 0;                   // with submit: the workers behind it (as the pool's size; 0: 1)
};

/// Counters since the batcher was made.
struct page_batcher_stats {
  std::uint64_t pages = 0;      // analyze() calls
  std::uint64_t batches = 0;    // pool calls with pages (retries of one page not counted)
  std::uint64_t sent = 0;       // pages sent in those batches
  std::size_t largest = 0;      // pages in the largest batch
  std::uint64_t retried = 0;    // pages sent again alone after their batch failed as a whole
  std::uint64_t dropped = 0;    // pages whose awaiter was cancelled before they were sent
  std::uint64_t discarded = 0;  // results nobody awaited any more
  std::size_t pending = 0;      // pages gathered, not sent yet
  std::size_t in_flight = 0;    // batches in the pool now
};

class page_batcher {
 public:
  explicit page_batcher(page_batcher_options options = {});
  /// Drops unsent pages (their awaiters get weft::channel_closed); batches
  /// in the pool run on and their results are discarded. Prefer close().
  ~page_batcher();
  page_batcher(const page_batcher&) = delete;
  page_batcher& operator=(const page_batcher&) = delete;

  /// The page's page_info, computed in a worker process with other pages
  /// of the moment; throws what a lone spawn_process(analyze_page...) of
  /// it would (remote_error, worker_crashed, timeout_error). Call it from
  /// a task.
  weft::task<page_info> analyze(std::string url, std::string body, page_rules rules);

  /// Stops: unsent pages fail with operation_cancelled, batches in the pool
  /// are cancelled; returns when none is left. Later analyze() calls
  /// fail with std::logic_error.
  weft::task<void> close();

  page_batcher_stats stats() const;

  struct state;  // page_batcher.cpp

 private:
  std::shared_ptr<state> st_;
};

}  // namespace scraper
