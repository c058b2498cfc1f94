// The in-memory frontier and the in-memory store.
#include "frontier.hpp"

#include <algorithm>
#include <limits>

#include "url.hpp"

namespace scraper {

frontier::origin* frontier::origin_for(const std::string& key) {
  auto& slot = origins_[key];
  if (!slot) {
    slot = std::make_unique<origin>();
    slot->key = key;
    slot->delay = delay_;
    if (!robots_) {
      slot->state = robots_state::ready;
      slot->rules = std::make_shared<const robots_rules>(robots_rules::allow_all());
    }
    if (init_origin) init_origin(*slot);
  }
  return slot.get();
}

bool frontier::push(std::string url, std::size_t depth) {
  auto [it, fresh] = seen_.try_emplace(std::move(url), false);
  if (!fresh) return false;
  origin* o = origin_for(origin_of(it->first));
  o->queue.push_back(origin::entry{
      &it->first, static_cast<std::uint32_t>(std::min<std::size_t>(depth, std::numeric_limits<std::uint32_t>::max()))});
  ++queued_;
  schedule(o);
  return true;
}

frontier_item frontier::pop(origin* o) {
  unschedule(o);
  frontier_item it{*o->queue.front().url, o->queue.front().depth};
  o->queue.pop_front();
  --queued_;
  schedule(o);
  return it;
}

void frontier::schedule(origin* o) {
  if (o->in_ready || o->queue.empty() || o->state == robots_state::fetching) return;
  ready_.emplace(o->next, o);
  o->in_ready = true;
}

void frontier::unschedule(origin* o) {
  if (!o->in_ready) return;
  ready_.erase({o->next, o});
  o->in_ready = false;
}

frontier::clock::time_point frontier::take_slot(origin* o) {
  const bool was = o->in_ready;
  unschedule(o);
  clock::time_point t = std::max(clock::now(), o->next);
  o->next = t + o->delay;
  if (was) schedule(o);
  return t;
}

// ---------------------------------------------------------------- stores

std::string crawl_fingerprint(const crawl_options& o) {
  std::string f = "version=1\n";
  for (const auto& s : o.seeds) {
    auto n = normalize_url(s);
    f += "seed=" + (n ? *n : s) + "\n";
  }
  f += "same_host=" + std::string(o.same_host ? "yes" : "no") + "\n";
  f += "max_depth=" + std::to_string(o.max_depth) + "\n";
  f += "robots=" + std::string(o.robots ? "yes" : "no") + "\n";
  f += "user_agent=" + o.user_agent + "\n";
  f += "analyze=" + std::string(o.analyze ? "yes" : "no") + "\n";
  // What decides the links followed and what a record holds: a state file
  // resumed with other rules would mix two crawls in one output.
  f += "sitemaps=" + std::string(o.sitemaps ? "yes" : "no") + "\n";
  for (const auto& a : o.allow) f += "allow=" + a + "\n";
  for (const auto& d : o.deny) f += "deny=" + d + "\n";
  for (const auto& x : o.rules.follow) f += "follow=" + x + "\n";
  for (const auto& r : o.rules.fields) f += "field=" + r.name + "=" + r.xpath + "\n";
  return f;
}

weft::task<frontier_snapshot> memory_frontier_store::load() {
  frontier_snapshot s;
  {
    std::lock_guard g(mu_);
    std::vector<std::pair<std::uint64_t, frontier_item>> pending;
    for (const auto& [url, st] : urls_) {
      if (st.done) s.done.push_back(url);
      else pending.emplace_back(st.order, frontier_item{url, st.depth});
    }
    std::sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& p : pending) s.pending.push_back(std::move(p.second));
    s.robots = robots_;
    s.sitemaps_read.assign(sitemaps_read_.begin(), sitemaps_read_.end());
    s.records = records_;
    s.output_offset = offset_;
  }
  co_return s;
}

weft::task<void> memory_frontier_store::commit(frontier_batch b) {
  {
    std::lock_guard g(mu_);
    for (auto& f : b.found) {
      auto [it, fresh] = urls_.try_emplace(std::move(f.url));
      if (fresh) {
        it->second.depth = f.depth;
        it->second.order = order_++;
      }
    }
    for (auto& d : b.done) {
      auto [it, fresh] = urls_.try_emplace(std::move(d));
      if (fresh) it->second.order = order_++;
      it->second.done = true;
    }
    for (auto& r : b.robots) {
      auto same = [&](const robots_entry& e) { return e.origin == r.origin; };
      auto it = std::find_if(robots_.begin(), robots_.end(), same);
      if (it != robots_.end()) *it = std::move(r);
      else robots_.push_back(std::move(r));
    }
    for (auto& o : b.sitemaps_read) sitemaps_read_.insert(std::move(o));
    records_ = b.records;
    offset_ = b.output_offset;
  }
  co_return;
}

}  // namespace scraper
