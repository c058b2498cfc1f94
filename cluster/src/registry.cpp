// The WEFT_REMOTE registry: filled by static initializers, frozen (sorted
// by name, numbered) by weft::cluster::init().
#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "registry.hpp"
#include "weft/cluster/remote.hpp"

namespace weft::cluster::detail {

namespace {

struct registry {
  std::mutex mu;
  std::vector<remote_function> entries;
  std::unordered_map<std::uintptr_t, std::size_t> by_fn;
  bool frozen = false;
};

registry& the_registry() {
  static registry r;  // constructed on first use: static initializers of other files register
  return r;
}

std::uint64_t fnv(std::uint64_t h, const void* p, std::size_t n) noexcept {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

void register_remote(const char* name, const char* signature, std::uintptr_t fn, raw_invoker call,
                     raw_invoker chunk) noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  for (auto& e : r.entries)
    if (e.fn == fn && std::strcmp(e.name, name) == 0) return;  // the same registration seen from two files
  r.entries.push_back(remote_function{name, signature, fn, call, chunk, 0});
}

registry_summary freeze_registry() {
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  registry_summary s;
  if (!r.frozen) {
    std::sort(r.entries.begin(), r.entries.end(), [](const remote_function& a, const remote_function& b) {
      int c = std::strcmp(a.name, b.name);
      return c != 0 ? c < 0 : std::strcmp(a.signature, b.signature) < 0;
    });
    for (std::size_t i = 0; i < r.entries.size(); ++i) {
      r.entries[i].id = static_cast<std::uint32_t>(i);
      r.by_fn[r.entries[i].fn] = i;
    }
    r.frozen = true;
  }
  std::uint64_t h = 14695981039346656037ULL;
  for (std::size_t i = 0; i < r.entries.size(); ++i) {
    const auto& e = r.entries[i];
    h = fnv(h, e.name, std::strlen(e.name) + 1);
    h = fnv(h, e.signature, std::strlen(e.signature) + 1);
    if (i > 0 && std::strcmp(r.entries[i - 1].name, e.name) == 0) {
      if (!s.duplicate.empty()) s.duplicate += ", ";
      s.duplicate += e.name;
    }
  }
  s.hash = h;
  s.count = static_cast<std::uint32_t>(r.entries.size());
  return s;
}

const remote_function* find_remote(std::uintptr_t fn) noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  if (!r.frozen) return nullptr;
  auto it = r.by_fn.find(fn);
  return it == r.by_fn.end() ? nullptr : &r.entries[it->second];
}

const remote_function* remote_by_id(std::uint32_t id) noexcept {
  registry& r = the_registry();
  std::lock_guard lock(r.mu);
  return r.frozen && id < r.entries.size() ? &r.entries[id] : nullptr;
}

std::uint64_t hash_bytes(std::uint64_t h, const void* p, std::size_t n) noexcept { return fnv(h, p, n); }

}  // namespace weft::cluster::detail
