// weft::ipc::shared_map<K, V>: a hash map shared by processes (what
// multiprocessing.Manager().dict() gives, without a manager process).
//
//   weft::ipc::shared_map<std::string, long> hits;       // in the parent, then pass it to workers
//   hits.insert_or_assign("home", 1);                     // true: a new key
//   std::optional<long> n = hits.get("home");             // nullopt: no such key
//   hits.update("home", [](long& v) { ++v; }, 0L);        // atomic read-modify-write, from 0 if absent
//   hits.contains("x");  hits.erase("x");  hits.size();  hits.clear();
//   for (auto& [page, count] : hits.snapshot()) ...       // iteration is over a copy
//   co_await pool.call(count_words, hits, text);          // a handle travels to a worker
//
// A handle: copies (in any process, or sent to a worker, under the rules of
// weft/ipc/detail/shared_block.hpp) name the same map, which lives in the
// shared heap; the last handle dropped, in whichever process, frees it and
// every entry. Keys and values are stored serialized (weft/ipc/serialize.hpp),
// each in an allocation of its own, in an open-addressing table that doubles
// as it fills (never shrinking, except through clear()).
//
// Keys compare by their serialized bytes, so K must encode equal keys as
// equal bytes: strings, integers, enums, and pairs, tuples, vectors and
// ordered containers of them do; unordered containers (iteration order),
// floating point (-0.0 is not 0.0, a NaN key is found by its bits) and
// structs copied with their padding may not. A value that is itself a
// handle (a shared_value, another shared_map) is stored as its offset
// only: the map does not keep that object alive.
//
// Every operation takes the map's internal lock for one short critical
// section and never suspends, so these are plain synchronous functions
// for tasks, worker processes and threads alike, each atomic with respect
// to all others. Nothing waits on a condition, so cancellation and
// deadlines do not apply; a caller can only wait the moment another
// process or thread holds the lock (from a task, that blocks its worker
// thread as briefly). update(k, f) runs f *holding the lock*: keep it short,
// never suspend or block in it, and never use this same map inside it (that
// throws std::logic_error rather than deadlock); another shared object's
// lock taken inside f orders the two locks, so take them in one order
// everywhere.
//
// Cost (one process, Release, x86-64, measured by the [.bench] test on a busy
// 2-core machine): with 1,000 integer keys get ~70 ns and insert_or_assign
// of an existing key ~70-130 ns; with 200,000 (out of the cache) get ~350 ns,
// a new key ~0.7 us (the table's doublings included), erase ~0.3 us. Each is
// one lock (an uncontended compare-exchange), serializing the key (and the
// value) into a std::vector, one hash probe, and for get a copy of the
// value's bytes out, decoded after the lock is let go. Entries live in the
// map's own pool of slabs carved from the shared heap: a new key takes two
// cells, a value of another size one cell more (the same size class: it is
// overwritten in place), and only a new slab (each twice the last, up to
// 64 KiB) or a key or value over 8 KiB calls the shared heap's allocator,
// under its lock. snapshot() and keys() hold the lock for a copy of every
// entry; clear() holds it for a few stores and frees after letting go.
// Memory: 24 bytes a table slot, the table at most 3/4 used; per entry, a
// key cell and a value cell of 8 bytes plus the serialized bytes, rounded up
// to a size class (16-byte steps to 128, then quarter steps of each power of
// two). Erased entries' cells are reused by the same map; its slabs go back
// to the heap on clear() and with the last handle.
//
// Errors: shared_heap_exhausted (a bad_alloc) when the heap is full, with
// the map unchanged; serialization_error when a serializer refuses a key or
// a value (types that cannot be serialized at all fail to compile), with the
// map unchanged; an exception thrown by update()'s f leaves the entry as it
// was. A process that dies while it holds the lock (for the microseconds of
// an operation, or inside update()'s f) may leave the map half-updated: from
// then on every operation on it except size() throws owner_died_error (the
// first waiter notices within 50 ms). The memory is still returned when the
// last handle goes (a table, or a key or value over 8 KiB, that the dead
// process was allocating or freeing leaks). A process killed anywhere else
// loses nothing stored.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weft/ipc/detail/container_bytes.hpp"
#include "weft/ipc/detail/shared_block.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"

namespace weft::ipc {

namespace detail {

/// The untyped map that shared_map<K, V> serializes into (shared_container.cpp).
struct map_core {
  static shared_ref create(std::uint64_t type_tag);
  /// True if the key was new.
  static bool assign(const shared_ref& m, const container_bytes& key, const container_bytes& value);
  static std::optional<container_bytes> get(const shared_ref& m, const container_bytes& key);
  static bool contains(const shared_ref& m, const container_bytes& key);
  static bool erase(const shared_ref& m, const container_bytes& key);
  static void update(const shared_ref& m, const container_bytes& key, container_update_fn fn, void* context);
  static std::size_t size(const shared_ref& m);
  static void clear(const shared_ref& m);
  static std::vector<std::pair<container_bytes, container_bytes>> snapshot(const shared_ref& m);
  static std::vector<container_bytes> keys(const shared_ref& m);

  template <class T>
  static container_bytes to_bytes(const T& v) {
    return to_container_bytes(v, "weft::ipc::shared_map");
  }
  template <class T>
  static T from_bytes(const std::byte* p, std::size_t n) {
    return from_container_bytes<T>(p, n, "weft::ipc::shared_map", "an entry's");
  }
};

}  // namespace detail

template <class K, class V>
class shared_map {
  static_assert(serializable<K>, "weft::ipc::shared_map<K, V>: K must be serializable (weft/ipc/serialize.hpp)");
  static_assert(serializable<V>, "weft::ipc::shared_map<K, V>: V must be serializable (weft/ipc/serialize.hpp)");

 public:
  using key_type = K;
  using mapped_type = V;

  /// A new, empty map. Allocates its header in the shared heap (the table
  /// comes with the first key): throws shared_heap_exhausted.
  shared_map() : ref_(detail::map_core::create(type_tag())) {}

  /// Sets key to value; true if the key was new.
  bool insert_or_assign(const K& key, const V& value) const {
    return detail::map_core::assign(ref_, to_bytes(key), to_bytes(value));
  }
  /// The value (a copy), or nullopt if the key is absent.
  std::optional<V> get(const K& key) const {
    std::optional<detail::container_bytes> bytes = detail::map_core::get(ref_, to_bytes(key));
    if (!bytes) return std::nullopt;
    return detail::map_core::from_bytes<V>(bytes->data(), bytes->size());
  }
  bool contains(const K& key) const { return detail::map_core::contains(ref_, to_bytes(key)); }
  /// Removes the key; false if it was absent.
  bool erase(const K& key) const { return detail::map_core::erase(ref_, to_bytes(key)); }

  /// Atomic read-modify-write: under the map's lock, decodes the value (or
  /// takes `initial` if the key is absent), calls f(V&), stores the result
  /// and returns a copy of it. f runs holding the lock (see the top of this
  /// file); if f, or the value's serializer, throws, nothing is stored.
  template <class F>
  requires std::invocable<F&, V&> V update(const K& key, F&& f, V initial = V{})
  const {
    struct context {
      F& f;
      V& initial;
      std::optional<V> result;
    };
    context ctx{f, initial, std::nullopt};
    detail::map_core::update(
        ref_, to_bytes(key),
        [](void* p, const std::byte* current, std::size_t n, bool found, detail::container_bytes& out) {
          auto& c = *static_cast<context*>(p);
          if (found) c.result.emplace(detail::map_core::from_bytes<V>(current, n));
          else c.result.emplace(std::move(c.initial));
          std::invoke(c.f, *c.result);
          out = detail::map_core::to_bytes(*c.result);
        },
        &ctx);
    return std::move(*ctx.result);
  }

  /// Entries right now (already stale when it returns). Takes no lock, and
  /// does not throw even for a map broken by a dead process.
  std::size_t size() const { return detail::map_core::size(ref_); }
  bool empty() const { return size() == 0; }
  /// Removes every entry.
  void clear() const { detail::map_core::clear(ref_); }

  /// A copy of every entry, in no particular order, taken at one instant.
  std::vector<std::pair<K, V>> snapshot() const {
    std::vector<std::pair<K, V>> out;
    auto entries = detail::map_core::snapshot(ref_);
    out.reserve(entries.size());
    for (const auto& [k, v] : entries)
      out.emplace_back(detail::map_core::from_bytes<K>(k.data(), k.size()),
                       detail::map_core::from_bytes<V>(v.data(), v.size()));
    return out;
  }
  /// A copy of every key, in no particular order, taken at one instant.
  std::vector<K> keys() const {
    std::vector<K> out;
    auto keys = detail::map_core::keys(ref_);
    out.reserve(keys.size());
    for (const auto& k : keys) out.push_back(detail::map_core::from_bytes<K>(k.data(), k.size()));
    return out;
  }

  /// False only for a moved-from handle.
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  /// Handles to this map, in all processes together.
  std::uint32_t use_count() const noexcept { return ref_.use_count(); }

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::map;
  static constexpr const char* type_name = "weft::ipc::shared_map";
  static std::uint64_t type_tag() noexcept { return detail::type_tag_of<std::pair<K, V>>(); }
  explicit shared_map(detail::shared_ref r) noexcept : ref_(std::move(r)) {}

  template <class T>
  static detail::container_bytes to_bytes(const T& v) {
    return detail::map_core::to_bytes(v);
  }

  detail::shared_ref ref_;
};

template <class K, class V>
struct serializer<shared_map<K, V>> : detail::handle_serializer<shared_map<K, V>> {};

}  // namespace weft::ipc
