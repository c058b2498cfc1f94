// scraper::frontier: what a crawl has left to do and when it may do it.
//
// Two parts, one concept:
//
//  * frontier (this header): the scheduling state every crawl runs on, in
//    memory, the fast default: the seen set (every URL ever queued, and
//    whether it was claimed for a fetch), per-origin FIFO queues with each
//    origin's politeness (next allowed start, delay) and robots.txt state,
//    and the set of origins ready to be served, earliest slot first. Plain
//    data under the crawler's scheduler lock: no I/O, no awaiting.
//
//  * frontier_store (this header): the durable or shared copy of the
//    frontier, behind one asynchronous, batched interface: "what is left
//    from before" (load) and "these links were found, these URLs are done,
//    this robots.txt came, the output has this many records" (commit). The
//    crawler calls it only when a crawl is resumable (crawl_options::state):
//    memory_frontier_store (here: a store that lives as long as the process,
//    for tests and for resuming in-process) and sqlite_frontier_store
//    (frontier_sqlite.hpp: a file, `scraper --state crawl.db`). A store
//    shared by many crawling machines (Redis) implements the same
//    interface: its commit is a pipeline of SADD/RPUSH, its load a scan.
//
//   scraper::frontier f(std::chrono::milliseconds(0), true);
//   f.push("http://127.0.0.1:8080/", 0);           // true: new
//   if (auto* o = f.next_ready()) { auto it = f.pop(o); ... }
//
//   auto store = std::make_shared<scraper::memory_frontier_store>();
//   scraper::frontier_batch b;
//   b.found.push_back({"http://127.0.0.1:8080/a", 1});
//   b.done.push_back("http://127.0.0.1:8080/");
//   co_await store->commit(std::move(b));
//   scraper::frontier_snapshot s = co_await store->load();  // pending: /a
//
// Memory (section 6 of issue 14): a URL is stored once, as the key of the
// seen set; a queue entry is a pointer to that key plus a 32-bit depth
// (the set's nodes never move), so a queued URL costs its seen-set node
// and 16 bytes of queue. bench/frontier.cpp measures it.
//
// Cancellation: frontier has no awaiting operations. A frontier_store
// operation cancelled while it waits for the blocking pool is dropped
// whole (a commit not started is not applied); one already running on the
// pool finishes (a transaction is never left half-applied), and a commit
// is atomic either way: a crash or a kill -9 loses whole batches only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crawler.hpp"
#include "robots.hpp"
#include "throttle.hpp"
#include "weft/runtime/task.hpp"

namespace scraper {

/// A queued URL and its link distance from a seed.
struct frontier_item {
  std::string url;
  std::size_t depth = 0;
};

class frontier {
 public:
  using clock = std::chrono::steady_clock;

  enum class robots_state { unknown, fetching, ready, unreachable };

  /// scheme://host:port: one queue, one politeness slot, one robots.txt.
  struct origin {
    std::string key;
    robots_state state = robots_state::unknown;
    // Set once (state ready) and never changed: immutable, so it is matched
    // outside the scheduler lock by whoever copied the pointer under it.
    std::shared_ptr<const robots_rules> rules;
    fetch_error down = fetch_error::none;  // robots.txt unreachable: why
    std::string down_message;
    clock::time_point next{};  // the earliest start of the next request
    std::chrono::milliseconds delay{0};
    bool in_ready = false;
    std::optional<paced_origin> pace;  // autothrottle (throttle.hpp): set by init_origin, never unset
    bool sitemaps_read = false;        // its sitemaps job was handed out (crawl_options::sitemaps)

   private:
    friend class frontier;
    struct entry {
      const std::string* url;  // the seen set's key
      std::uint32_t depth;
    };
    std::deque<entry> queue;
  };

  /// delay: every origin's initial gap; robots: false makes every origin
  /// ready at once, allowing everything.
  frontier(std::chrono::milliseconds delay, bool robots) : delay_(delay), robots_(robots) {}

  /// The origin of key, created (robots.txt unknown) if new.
  origin* origin_for(const std::string& key);

  /// Called on each origin as it is created (the crawler sets up its
  /// autothrottle there).
  std::function<void(origin&)> init_origin;

  /// Calls f(key, origin) for every origin.
  template <class F>
  void for_each_origin(F&& f) const {
    for (const auto& [key, o] : origins_) f(key, static_cast<const origin*>(o.get()));
  }

  /// Queues url at depth unless it was seen before. Returns whether it was
  /// queued.
  bool push(std::string url, std::size_t depth);

  /// Marks url seen (not queued): a URL done in an earlier run.
  void mark_seen(std::string url) { seen_.try_emplace(std::move(url), true); }

  /// Claims url for a fetch: false if it was claimed before (fetched as a
  /// redirect's target meanwhile). A URL never seen is claimed too.
  bool claim(const std::string& url) {
    bool& claimed = seen_[url];
    if (claimed) return false;
    claimed = true;
    return true;
  }

  /// A redirect reached url: marks it fetched. Returns whether it had been
  /// fetched (or claimed) before: the page is a duplicate.
  bool reached(const std::string& url) {
    auto [it, fresh] = seen_.try_emplace(url, true);
    if (fresh) return false;
    const bool was = it->second;
    it->second = true;
    return was;
  }

  /// The ready origin with the earliest slot, or null when none is.
  origin* next_ready() const { return ready_.empty() ? nullptr : ready_.begin()->second; }
  bool has_queue(const origin* o) const { return !o->queue.empty(); }
  /// Takes the oldest URL of o's queue (which must not be empty), keeping
  /// o's place in the ready set right.
  frontier_item pop(origin* o);

  /// Puts o in the ready set if it has work and may be served.
  void schedule(origin* o);
  void unschedule(origin* o);
  /// The start time of o's next request, reserved.
  clock::time_point take_slot(origin* o);

  std::size_t seen() const noexcept { return seen_.size(); }
  std::size_t queued() const noexcept { return queued_; }

 private:
  std::chrono::milliseconds delay_;
  bool robots_;
  std::unordered_map<std::string, std::unique_ptr<origin>> origins_;
  std::set<std::pair<clock::time_point, origin*>> ready_;  // origins with queued URLs, earliest slot first
  std::unordered_map<std::string, bool> seen_;             // URL -> claimed (fetched or being fetched)
  std::size_t queued_ = 0;
};

// ---------------------------------------------------------------- stores

/// A robots.txt response, kept so that a resumed crawl does not ask again.
struct robots_entry {
  std::string origin;  // scheme://host:port
  int status = 0;
  std::string body;
};

/// What one commit applies, atomically.
struct frontier_batch {
  std::vector<frontier_item> found;  // links queued; a URL already known keeps its first depth
  std::vector<std::string> done;     // URLs finished: recorded, refused by robots.txt, or reached by a redirect
  std::vector<robots_entry> robots;
  /// Origins whose sitemaps were read: their URLs are in `found` of this
  /// batch or an earlier one, so a resumed crawl does not read them again.
  std::vector<std::string> sitemaps_read;
  std::uint64_t records = 0;        // records in the output, in all, with this batch
  std::uint64_t output_offset = 0;  // the output's size holding exactly those records
};

/// What a store holds: the frontier to resume from.
struct frontier_snapshot {
  std::vector<frontier_item> pending;  // found and not done (in flight at a kill included), in the order found
  std::vector<std::string> done;
  std::vector<robots_entry> robots;
  std::vector<std::string> sitemaps_read;  // origins
  std::uint64_t records = 0;
  std::uint64_t output_offset = 0;
};

/// The identity of a crawl, for a store to refuse another crawl's state:
/// one "key=value" line each for the normalized seeds and the options that
/// change which URLs are crawled or what their records hold (same_host,
/// max_depth, robots, user_agent, analyze, sitemaps, allow, deny, the
/// follow XPaths and the extraction rules). max_pages, concurrency, delays,
/// autothrottle and timeouts may change between runs.
std::string crawl_fingerprint(const crawl_options& o);

/// The durable (or shared) frontier. Operations are batched and
/// asynchronous; an implementation never blocks a runtime worker thread.
class frontier_store {
 public:
  virtual ~frontier_store() = default;
  /// Everything committed so far.
  virtual weft::task<frontier_snapshot> load() = 0;
  /// Applies b whole, or not at all.
  virtual weft::task<void> commit(frontier_batch b) = 0;
};

/// A store in memory: lives as long as the object (a crawler made again
/// with it resumes); the reference behaviour for the other stores.
class memory_frontier_store final : public frontier_store {
 public:
  weft::task<frontier_snapshot> load() override;
  weft::task<void> commit(frontier_batch b) override;

 private:
  struct url_state {
    std::size_t depth = 0;
    std::uint64_t order = 0;
    bool done = false;
  };
  std::mutex mu_;
  std::unordered_map<std::string, url_state> urls_;
  std::uint64_t order_ = 0;
  std::vector<robots_entry> robots_;
  std::set<std::string> sitemaps_read_;
  std::uint64_t records_ = 0, offset_ = 0;
};

}  // namespace scraper
