#include "page_batcher.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <list>
#include <mutex>
#include <stdexcept>
#include <typeinfo>
#include <utility>

// page_job and page_outcome travel through cereal: their std::string,
// std::vector and std::pair members (page_info's, page_rules') need
// cereal's serializers for them.
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "weft/ipc/errors.hpp"
#include "weft/ipc/spawn_process.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/sync/oneshot.hpp"
#include "weft/runtime/time.hpp"

namespace scraper {

page_info analyze_job(const page_job& job) {
  if (job.rules.empty()) return analyze_page(job.url, job.body);
  return analyze_page_with(job.url, job.body, job.rules);
}

std::string exception_type_name(const std::exception& e) {
  const char* mangled = typeid(e).name();
  int status = 0;
  char* name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && name ? name : mangled;
  std::free(name);
  return out;
}

std::vector<page_outcome> analyze_batch(std::vector<page_job> jobs) {
  return analyze_batch_using<&analyze_job>(std::move(jobs));
}

batch_rule parse_batch_rule(const std::string& name) {
  if (name == "adaptive") return batch_rule::adaptive;
  if (name == "timer") return batch_rule::timer;
  if (name == "off") return batch_rule::off;
  throw std::invalid_argument("batch rule must be adaptive, timer or off, not '" + name + "'");
}

namespace {

/// What an awaiter gets: its page_info, or the exception to throw.
struct delivered {
  page_info info;
  std::exception_ptr error;
};

/// A page gathered or sent, with the way back to its awaiter.
struct slot {
  std::uint64_t id = 0;
  page_job job;
  weft::oneshot_sender<delivered> tx;
};

struct batch {
  std::vector<slot> slots;
};

using call_handle = weft::join_handle<std::vector<page_outcome>>;

}  // namespace

struct page_batcher::state {
  explicit state(page_batcher_options o) : opt(std::move(o)), idle(true) {}

  page_batcher_options opt;

  /// Looked up at the first page, not at construction: a crawl that
  /// parses nothing never starts the default pool's workers.
  weft::ipc::process_pool& pool() const { return opt.pool ? *opt.pool : weft::ipc::default_pool(); }

  // Under mu.
  mutable std::mutex mu;
  std::deque<slot> pending;  // gathered, in arrival order
  std::size_t pending_bytes = 0;
  std::uint64_t next_id = 0;
  std::size_t in_flight = 0;  // batches in the pool
  std::size_t active = 0;     // sender and timer tasks alive (close() waits for 0)
  bool timer_armed = false;
  bool closed = false;
  std::list<call_handle*> calls;  // pool calls running, for close() to cancel
  page_batcher_stats stats;

  weft::event idle;  // set while active == 0

  /// How many batches may run in the pool before adaptive gathers. Asked
  /// outside mu: the pool's own lock is taken.
  unsigned limit() const {
    if (opt.max_in_flight) return opt.max_in_flight;
    if (opt.submit) return std::max(1u, opt.submit_workers);
    return std::max(1u, pool().size());
  }

  bool full_locked() const { return pending.size() >= opt.max_pages || pending_bytes >= opt.max_bytes; }

  void started_locked() {
    if (active++ == 0) idle.clear();
  }
  void finished() {
    std::lock_guard g(mu);
    if (--active == 0) idle.set();
  }

  /// Takes the next batch off `pending`: up to max_pages pages (one with
  /// rule off) and max_bytes of bodies, but always at least one page.
  batch take_locked() {
    batch b;
    const std::size_t n = opt.rule == batch_rule::off ? 1 : std::max<std::size_t>(1, opt.max_pages);
    std::size_t bytes = 0;
    while (!pending.empty() && b.slots.size() < n) {
      const std::size_t size = pending.front().job.body.size();
      if (!b.slots.empty() && bytes + size > opt.max_bytes) break;
      bytes += size;
      pending_bytes -= size;
      b.slots.push_back(std::move(pending.front()));
      pending.pop_front();
    }
    ++in_flight;
    ++stats.batches;
    stats.sent += b.slots.size();
    stats.largest = std::max(stats.largest, b.slots.size());
    started_locked();
    return b;
  }

  /// The batches the rule says to send now.
  std::vector<batch> ready_locked(unsigned lim, bool timer_fired) {
    std::vector<batch> out;
    while (!pending.empty() && !closed) {
      bool go = false;
      switch (opt.rule) {
        case batch_rule::off: go = true; break;
        case batch_rule::adaptive:
          // A free worker takes what is there; a full batch may also wait
          // in the pool's queue (one per worker), so that a worker finishing
          // a batch finds the next one without waiting for this process.
          go = in_flight < lim || (full_locked() && in_flight < 2 * std::size_t{lim});
          break;
        case batch_rule::timer: go = timer_fired || full_locked(); break;
      }
      if (!go) break;
      out.push_back(take_locked());
    }
    return out;
  }

  /// Hands d to the slot's awaiter, or counts it discarded if it is gone.
  void deliver(slot& s, delivered d) {
    if (!s.tx.send(std::move(d))) {
      std::lock_guard g(mu);
      ++stats.discarded;
    }
  }
};

namespace {

using state = page_batcher::state;

delivered from_outcome(page_outcome&& o) {
  delivered d;
  if (o.ok) d.info = std::move(o.info);
  else d.error = std::make_exception_ptr(weft::ipc::remote_error(std::move(o.error_type), std::move(o.error)));
  return d;
}

/// Removes a pool call from close()'s list when it ends.
struct registration {
  state& st;
  std::list<call_handle*>::iterator it;
  ~registration() {
    std::lock_guard g(st.mu);
    st.calls.erase(it);
  }
};

/// A batch to the pool, or to the submit function. A plain function, not
/// a conditional expression in the coroutine below: written there, g++ 12
/// (-O3) built a call() whose crawl crashed (SIGSEGV resuming a task in
/// extract_test's crawl), a coroutine code-generation bug like the
/// braced-temporary one CONTRIBUTING.md warns of.
call_handle start_call(const state& st, std::vector<page_job> jobs) {
  if (st.opt.submit) return st.opt.submit(std::move(jobs));
  return st.pool().submit(st.opt.function, std::move(jobs));
}

/// One pool call (or submit() call), cancellable by close().
weft::task<std::vector<page_outcome>> call(std::shared_ptr<state> st, std::vector<page_job> jobs) {
  call_handle h = start_call(*st, std::move(jobs));
  std::list<call_handle*>::iterator it;
  {
    std::lock_guard g(st->mu);
    it = st->calls.insert(st->calls.end(), &h);
    if (st->closed) h.cancel();
  }
  registration reg{*st, it};
  co_return co_await h;
}

weft::task<void> send_batch(std::shared_ptr<state> st, batch b);

void launch(const std::shared_ptr<state>& st, std::vector<batch> batches) {
  for (auto& b : batches) weft::spawn(send_batch(st, std::move(b))).detach();
}

bool is_cancelled(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const weft::operation_cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

weft::task<void> send_batch(std::shared_ptr<state> st, batch b) {
  std::vector<page_job> jobs;
  jobs.reserve(b.slots.size());
  for (const slot& s : b.slots) jobs.push_back(s.job);  // a copy: kept for a retry one by one
  std::vector<page_outcome> out;
  std::exception_ptr whole;
  try {
    out = co_await call(st, std::move(jobs));
    if (out.size() != b.slots.size())
      throw std::runtime_error("page_batcher: a batch of " + std::to_string(b.slots.size()) + " pages returned " +
                               std::to_string(out.size()) + " results");
  } catch (...) {
    whole = std::current_exception();
  }
  // A worker is free again: send what gathered meanwhile before handing
  // out these results, so that the worker parses while we deliver.
  const unsigned lim = st->limit();
  std::vector<batch> next;
  bool closed = false;
  {
    std::lock_guard g(st->mu);
    --st->in_flight;
    next = st->ready_locked(lim, false);
    closed = st->closed;
  }
  launch(st, std::move(next));

  if (!whole) {
    for (std::size_t i = 0; i < b.slots.size(); ++i) st->deliver(b.slots[i], from_outcome(std::move(out[i])));
  } else if (b.slots.size() == 1 || closed || is_cancelled(whole)) {
    for (slot& s : b.slots) {
      delivered d;
      d.error = whole;
      st->deliver(s, std::move(d));
    }
  } else {
    // The batch failed as a whole (a crash, a timeout): each page again,
    // alone, so that only the page that causes it fails.
    std::vector<call_handle> singles;
    singles.reserve(b.slots.size());
    {
      std::lock_guard g(st->mu);
      st->stats.retried += b.slots.size();
    }
    for (slot& s : b.slots) {
      std::vector<page_job> one;
      one.push_back(std::move(s.job));
      singles.push_back(weft::spawn(call(st, std::move(one))));
    }
    for (std::size_t i = 0; i < b.slots.size(); ++i) {
      delivered d;
      try {
        std::vector<page_outcome> r = co_await singles[i];
        if (r.size() != 1)
          throw std::runtime_error("page_batcher: a batch of 1 page returned " + std::to_string(r.size()) + " results");
        d = from_outcome(std::move(r[0]));
      } catch (...) {
        d.error = std::current_exception();
      }
      st->deliver(b.slots[i], std::move(d));
    }
  }
  st->finished();
}

/// Rule timer: sends what gathered once the window has passed.
weft::task<void> timer_task(std::shared_ptr<state> st) {
  co_await weft::sleep_for(st->opt.window);
  const unsigned lim = st->limit();
  std::vector<batch> ready;
  {
    std::lock_guard g(st->mu);
    st->timer_armed = false;
    ready = st->ready_locked(lim, true);
  }
  launch(st, std::move(ready));
  st->finished();
}

}  // namespace

page_batcher::page_batcher(page_batcher_options options) {
  if (!options.function) throw std::invalid_argument("page_batcher: no batch function");
  st_ = std::make_shared<state>(std::move(options));
}

page_batcher::~page_batcher() {
  std::deque<slot> dropped;
  std::lock_guard g(st_->mu);
  st_->closed = true;
  dropped.swap(st_->pending);
  st_->pending_bytes = 0;
}

weft::task<page_info> page_batcher::analyze(std::string url, std::string body, page_rules rules) {
  std::shared_ptr<state> st = st_;
  auto channel = weft::oneshot<delivered>();
  weft::oneshot_receiver<delivered> rx = std::move(channel.second);
  const unsigned lim = st->limit();
  std::uint64_t id = 0;
  std::vector<batch> ready;
  bool arm = false;
  {
    std::lock_guard g(st->mu);
    if (st->closed) throw std::logic_error("page_batcher: analyze() after close()");
    id = st->next_id++;
    ++st->stats.pages;
    st->pending_bytes += body.size();
    slot s;
    s.id = id;
    s.job.url = std::move(url);
    s.job.body = std::move(body);
    s.job.rules = std::move(rules);
    s.tx = std::move(channel.first);
    st->pending.push_back(std::move(s));
    ready = st->ready_locked(lim, false);
    if (st->opt.rule == batch_rule::timer && !st->pending.empty() && !st->timer_armed) {
      st->timer_armed = arm = true;
      st->started_locked();
    }
  }
  launch(st, std::move(ready));
  if (arm) weft::spawn(timer_task(st)).detach();
  try {
    delivered d = co_await rx;
    if (d.error) std::rethrow_exception(d.error);
    co_return std::move(d.info);
  } catch (const weft::operation_cancelled&) {
    // Not sent yet: out of its batch. Sent: the sender finds nobody to
    // hand the result to and discards it.
    std::lock_guard g(st->mu);
    auto it = std::find_if(st->pending.begin(), st->pending.end(), [id](const slot& s) { return s.id == id; });
    if (it != st->pending.end()) {
      st->pending_bytes -= it->job.body.size();
      st->pending.erase(it);
      ++st->stats.dropped;
    }
    throw;
  }
}

weft::task<void> page_batcher::close() {
  std::shared_ptr<state> st = st_;
  std::deque<slot> dropped;
  {
    std::lock_guard g(st->mu);
    st->closed = true;
    dropped.swap(st->pending);
    st->pending_bytes = 0;
    for (call_handle* h : st->calls) h->cancel();
  }
  for (slot& s : dropped) {
    delivered d;
    d.error = std::make_exception_ptr(weft::operation_cancelled());
    st->deliver(s, std::move(d));
  }
  co_await st->idle.wait_uncancellable();
}

page_batcher_stats page_batcher::stats() const {
  std::lock_guard g(st_->mu);
  page_batcher_stats s = st_->stats;
  s.pending = st_->pending.size();
  s.in_flight = st_->in_flight;
  return s;
}

}  // namespace scraper
