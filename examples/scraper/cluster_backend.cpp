#include "cluster_backend.hpp"

#include <fmt/core.h>

#include <iterator>
#include <utility>

// page_job and page_outcome travel through cereal: their std::string,
// std::vector and std::pair members (page_info's, page_rules') need
// cereal's serializers for them, here where WEFT_REMOTE instantiates the
// encoding of analyze_batch's argument and result.
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "json.hpp"
#include "weft/cluster/init.hpp"

// Every rank runs the same scraper binary, so every rank holds this
// registration (a file of the program itself, not of scraper_core: a
// static library's object nobody refers to would not be linked in).
WEFT_REMOTE(scraper::analyze_batch);

namespace scraper {

cluster_backend::cluster_backend(cluster_backend_options options)
    : pool_(weft::cluster::pool_options{.workers_per_rank = options.workers_per_rank}) {}

void cluster_backend::attach(page_batcher_options& o) {
  o.submit = [this](std::vector<page_job> jobs) {
    pages_.fetch_add(jobs.size(), std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    return pool_.submit(&analyze_batch, std::move(jobs));
  };
  o.submit_workers = pool_.size();
}

weft::task<void> cluster_backend::shutdown() { return pool_.shutdown(); }

cluster_report cluster_backend::report() const {
  const weft::cluster::pool_stats s = pool_.stats();
  cluster_report r;
  r.ranks = s.ranks;
  r.workers = s.workers;
  r.pages = pages_.load(std::memory_order_relaxed);
  r.batches = batches_.load(std::memory_order_relaxed);
  r.completed = s.completed;
  r.failed = s.failed + s.crashed + s.timed_out;
  r.cancelled = s.cancelled;
  const auto& ranks = weft::cluster::ranks();
  for (std::size_t i = 1; i < ranks.size(); ++i)
    r.by_rank.push_back(
        cluster_rank_report{ranks[i].rank, ranks[i].host, i < s.finished_by_rank.size() ? s.finished_by_rank[i] : 0});
  return r;
}

std::string to_json(const cluster_report& r) {
  json::writer w;
  w.begin_object();
  w.key("ranks").value(r.ranks);
  w.key("workers").value(r.workers);
  w.key("pages").value(r.pages);
  w.key("batches").value(r.batches);
  w.key("completed").value(r.completed);
  w.key("failed").value(r.failed);
  w.key("cancelled").value(r.cancelled);
  w.key("by_rank").begin_array();
  for (const auto& k : r.by_rank) {
    w.begin_object();
    w.key("rank").value(k.rank);
    w.key("host").value(k.host);
    w.key("batches").value(k.batches);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.take();
}

std::string summary_text(const cluster_report& r) {
  std::string out =
      fmt::format("page analysis on the cluster: {} pages in {} batches to {} serving rank{} ({} workers)", r.pages,
                  r.batches, r.ranks, r.ranks == 1 ? "" : "s", r.workers);
  if (r.failed) fmt::format_to(std::back_inserter(out), ", {} batches failed as a whole", r.failed);
  out += '\n';
  for (std::size_t i = 0; i < r.by_rank.size(); ++i) {
    const auto& k = r.by_rank[i];
    fmt::format_to(std::back_inserter(out), "{}rank {} on {}: {} batches", i ? ", " : "  ", k.rank, k.host, k.batches);
  }
  if (!r.by_rank.empty()) out += '\n';
  return out;
}

}  // namespace scraper
