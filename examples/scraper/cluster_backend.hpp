// scraper::cluster_backend: the crawl's page analysis on the serving ranks
// of an MPI job (weft::cluster::pool), plugged into page_batcher through its
// submit hook: the scraper's --cluster mode. Built only with weft::cluster.
//
//   weft::cluster::init(argc, argv);         // first in main: ranks 1..N-1 serve there
//   ...                                      // rank 0, in a task on its runtime:
//   scraper::cluster_backend cluster({.workers_per_rank = 0});
//   crawl_options o;
//   cluster.attach(o.batching);              // batches now go to the serving ranks
//   crawl_stats s = co_await scraper::crawler(o, sink).run();
//   co_await cluster.shutdown();
//   scraper::cluster_report r = cluster.report();   // what each rank did, for --stats
//
// Each batch of pages (with its extraction rules) travels as one pool call
// of scraper::analyze_batch, registered with WEFT_REMOTE in
// cluster_backend.cpp, which every rank of the scraper holds. A serving
// rank runs it in a local process pool, so a page that crashes or hangs
// its worker fails alone there, as on one machine (page_batcher retries
// the batch page by page). Rank 0 fetches every page; the serving ranks
// need no network access to the crawled sites.
//
// Cancellation: page_batcher cancels its calls as it would a local pool's
// (a call still queued on rank 0 is dropped, one on a rank is cancelled
// there and its worker killed). shutdown() waits for the calls left; the
// destructor cancels them.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "page_batcher.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/runtime/task.hpp"

namespace scraper {

struct cluster_backend_options {
  unsigned workers_per_rank = 0;  // local workers on each serving rank; 0: one per core of its machine
};
static_assert(std::is_trivially_copyable_v<cluster_backend_options>);

/// What one serving rank did.
struct cluster_rank_report {
  int rank = 0;
  std::string host;
  std::uint64_t batches = 0;  // pool calls it finished (any outcome)
};

/// What the cluster did for a crawl: --stats' "cluster" object.
struct cluster_report {
  unsigned ranks = 0;           // serving ranks
  unsigned workers = 0;         // their local workers, together
  std::uint64_t pages = 0;      // pages sent to the serving ranks (retries alone included)
  std::uint64_t batches = 0;    // pool calls made with them
  std::uint64_t completed = 0;  // calls that returned outcomes
  std::uint64_t failed = 0;     // calls that failed as a whole: an exception, a crash, a timeout
  std::uint64_t cancelled = 0;  // calls cancelled (the crawl stopped)
  std::vector<cluster_rank_report> by_rank;
};

/// {"ranks":2,"workers":4,"pages":..,"batches":..,"completed":..,"failed":..,"cancelled":..,
///  "by_rank":[{"rank":1,"host":"..","batches":..},..]}
std::string to_json(const cluster_report& r);
/// One line or two for the summary: where the analysis ran.
std::string summary_text(const cluster_report& r);

class cluster_backend {
 public:
  /// Opens the pool; on rank 0, after weft::cluster::init(), from a task.
  explicit cluster_backend(cluster_backend_options options = {});
  cluster_backend(const cluster_backend&) = delete;
  cluster_backend& operator=(const cluster_backend&) = delete;

  /// Points o's submit hook at the serving ranks (and its worker count at
  /// theirs). The backend must outlive the batcher made from o.
  void attach(page_batcher_options& o);

  /// Waits for the calls left, then stops the serving ranks' local pools.
  weft::task<void> shutdown();

  cluster_report report() const;

 private:
  weft::cluster::pool pool_;
  std::atomic<std::uint64_t> pages_{0};
  std::atomic<std::uint64_t> batches_{0};
};

}  // namespace scraper
