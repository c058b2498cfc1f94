// The untyped cores of shared_map and shared_list: byte strings in the
// shared heap under a robust process-shared lock.
//
// Each key, value and list element is a blob, an allocation of its own:
// {length, bytes}. A map is an open-addressing table (linear probing,
// tombstones for erased keys) of {hash, key blob, value blob} slots, at
// most 3/4 used, rebuilt at twice the live entries when it gets there; a
// list is an array of blob pointers. Raw pointers are fine: the heap lies
// at the same address in every process.
//
// Blobs of up to 8 KiB come from the container's own pool: slabs carved
// from the shared heap (the first small, each next one twice as large up
// to 64 KiB), one size class per slab, freed cells kept on a list per
// class. Allocating and freeing a cell is a few stores under the
// container's lock, never the heap's; clear() and the last handle give
// the slabs back whole. (Straight from the heap, each small blob would cost
// a walk of the heap's address-sorted free list on every allocation and
// free: a map with half its keys erased took 0.36 ms an erase and a minute
// to clear 100,000 entries.) Larger blobs, the table and the array come
// from the heap.
//
// A process may be killed at any instruction, also while it holds the
// lock. Every change is ordered so that the structure stays walkable at
// each step (a slot's key pointer, the table pointer, a list's count and
// the slab list are written last, and what goes back to the heap is freed
// only after nothing points at it), so the last handle can still free
// everything: what the dead process was allocating or freeing leaks, or
// stays in a slab until the slabs go. What a torn overwrite or a lost
// count would mean to a reader cannot be told, so whoever takes the lock
// over marks it inconsistent for good and every later operation throws
// owner_died_error (as process_queue does).
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "robust_mutex.hpp"
#include "shared_heap.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/shared_list.hpp"
#include "weft/ipc/shared_map.hpp"

namespace weft::ipc::detail {

namespace {

// Orders the stores around it for a process killed at any instruction: a
// compiler barrier (x86 keeps one thread's stores in order, and the lock's
// release publishes them all to the next holder), as in the shared heap.
inline void step() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

shared_heap& heap() noexcept {
  static shared_heap& h = shared_heap::instance();
  return h;
}

std::uintptr_t as_word(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }

// Blocks to hand back to the heap once the lock is let go (declared before
// the lock guard, so destroyed after it). Holds only what nothing points
// at any more.
class deferred_free {
 public:
  deferred_free() = default;
  deferred_free(const deferred_free&) = delete;
  deferred_free& operator=(const deferred_free&) = delete;
  ~deferred_free() {
    for (int i = 0; i < n_; ++i) heap().deallocate(p_[i]);
  }
  void add(void* p) noexcept {
    if (p) p_[n_++] = p;
  }

 private:
  void* p_[3] = {};
  int n_ = 0;
};

// ------------------------------------------------------------------ pool

constexpr unsigned pool_classes = 32;
constexpr std::uint64_t max_pooled = 8192;  // a blob's bytes, its length included
constexpr std::uint64_t max_slab = 64 * 1024;

// The cell size class of an allocation of `bytes`: 16 to 128 in steps of
// 16, then four steps per doubling up to max_pooled. False: too large.
bool class_of(std::uint64_t bytes, unsigned& index, std::uint64_t& cell) noexcept {
  if (bytes <= 128) {
    index = bytes == 0 ? 0 : static_cast<unsigned>((bytes - 1) / 16);
    cell = (index + 1) * 16;
    return true;
  }
  if (bytes > max_pooled) return false;
  const unsigned shift = static_cast<unsigned>(std::bit_width(bytes - 1)) - 1;  // 2^shift < bytes <= 2^(shift+1)
  const std::uint64_t base = std::uint64_t{1} << shift;
  const std::uint64_t stride = base / 4;
  const std::uint64_t q = (bytes - base + stride - 1) / stride;  // 1..4
  cell = base + q * stride;
  index = 8 + (shift - 7) * 4 + static_cast<unsigned>(q - 1);
  return true;
}

struct pool_class {
  std::uintptr_t free = 0;  // a freed cell; its first word links the next
  std::uintptr_t bump = 0;  // the next never-used cell of the newest slab
  std::uintptr_t end = 0;   // that slab's end
  std::uint64_t slabs = 0;  // slabs made for this class so far
};

struct slab_header {
  std::uintptr_t next;   // the slab made before (0: none)
  std::uint64_t unused;  // keeps the cells 16-aligned
};

// The blobs of one container, under its lock.
struct blob_pool {
  std::uintptr_t slabs = 0;  // every slab, linked through its header; written last
  pool_class classes[pool_classes];
};

// `bytes` from the pool (from the heap above max_pooled). Throws
// shared_heap_exhausted with the pool as it was, less a slab it may have
// linked.
void* pool_allocate(blob_pool& p, std::uint64_t bytes) {
  unsigned index = 0;
  std::uint64_t cell = 0;
  if (!class_of(bytes, index, cell)) return heap().allocate(bytes, 16);
  pool_class& c = p.classes[index];
  if (c.free) {
    const std::uintptr_t r = c.free;
    c.free = *reinterpret_cast<const std::uintptr_t*>(r);
    return reinterpret_cast<void*>(r);
  }
  if (c.bump == 0 || c.end - c.bump < cell) {
    // A new slab: 8 cells, twice as many each time, up to max_slab.
    const std::uint64_t most = std::max<std::uint64_t>(1, max_slab / cell);
    const std::uint64_t cells = std::min<std::uint64_t>(most, std::uint64_t{8} << std::min<std::uint64_t>(c.slabs, 16));
    auto* s = ::new (heap().allocate(sizeof(slab_header) + cells * cell, 16)) slab_header{p.slabs, 0};
    step();
    p.slabs = as_word(s);  // linked: freed with the pool from now on
    step();
    c.bump = as_word(s + 1);
    c.end = c.bump + cells * cell;
    ++c.slabs;
  }
  const std::uintptr_t r = c.bump;
  c.bump += cell;
  return reinterpret_cast<void*>(r);
}

// Takes back what pool_allocate gave for `bytes`: at once if pooled, else
// through `garbage`.
void pool_free(blob_pool& p, void* q, std::uint64_t bytes, deferred_free& garbage) noexcept {
  unsigned index = 0;
  std::uint64_t cell = 0;
  if (!class_of(bytes, index, cell)) {
    garbage.add(q);
    return;
  }
  pool_class& c = p.classes[index];
  *static_cast<std::uintptr_t*>(q) = c.free;
  step();
  c.free = as_word(q);
}

// Hands every slab back to the heap (the caller made sure nothing uses them).
void free_slabs(std::uintptr_t slabs) noexcept {
  while (slabs) {
    auto* s = reinterpret_cast<slab_header*>(slabs);
    slabs = s->next;
    heap().deallocate(s);
  }
}

// ------------------------------------------------------------------ blobs

struct blob {
  std::uint64_t size;
  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(this + 1); }
};

blob* as_blob(std::uintptr_t p) noexcept { return reinterpret_cast<blob*>(p); }
std::uint64_t blob_bytes(std::uint64_t size) noexcept { return sizeof(blob) + size; }
bool pooled(const blob* b) noexcept { return blob_bytes(b->size) <= max_pooled; }

blob* make_blob(blob_pool& p, const container_bytes& bytes) {
  if (bytes.size() > heap().size()) throw shared_heap_exhausted(bytes.size(), heap().size());
  auto* b = ::new (pool_allocate(p, blob_bytes(bytes.size()))) blob{bytes.size()};
  if (!bytes.empty()) std::memcpy(b->data(), bytes.data(), bytes.size());
  return b;
}

void free_blob(blob_pool& p, blob* b, deferred_free& garbage) noexcept {
  if (b) pool_free(p, b, blob_bytes(b->size), garbage);
}

container_bytes copy_out(const blob* b) { return container_bytes(b->data(), b->data() + b->size); }

bool equal(const blob* b, const container_bytes& bytes) noexcept {
  return b->size == bytes.size() && (bytes.empty() || std::memcmp(b->data(), bytes.data(), bytes.size()) == 0);
}

// Replaces the blob in `slot` by `bytes`: in place when the new bytes fit
// the old cell (the same size class, or the same size), else a new blob.
// Throws shared_heap_exhausted with the slot unchanged.
void store_blob(blob_pool& p, std::uintptr_t& slot, const container_bytes& bytes, deferred_free& garbage) {
  blob* old = as_blob(slot);
  if (old) {
    unsigned a = 0, b = 0;
    std::uint64_t cell_a = 0, cell_b = 0;
    const bool same_cell =
        class_of(blob_bytes(old->size), a, cell_a) && class_of(blob_bytes(bytes.size()), b, cell_b) && a == b;
    if (same_cell || old->size == bytes.size()) {
      if (!bytes.empty()) std::memcpy(old->data(), bytes.data(), bytes.size());
      old->size = bytes.size();
      return;
    }
  }
  blob* fresh = make_blob(p, bytes);
  step();
  slot = as_word(fresh);  // one store: the new blob replaces the old
  step();
  free_blob(p, old, garbage);
}

// Hands back the blobs that did not come from slabs, of `n` blob words.
void free_unpooled(const std::uintptr_t* words, std::uint64_t n, std::uint64_t stride) noexcept {
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uintptr_t w = words[i * stride];
    if (w > 1 && !pooled(as_blob(w))) heap().deallocate(as_blob(w));
  }
}

// ------------------------------------------------------------------ lock

[[noreturn]] void throw_broken(const char* what) {
  throw owner_died_error(std::string(what) +
                         ": a process died while it held its lock, so it may be half-updated; it cannot be used any "
                         "more (its memory is still freed when the last handle goes)");
}

// Holds a container's lock for one short critical section. Knows the
// locks this thread holds, so that a use of the same container from inside
// update()'s f (or a serializer run under the lock) throws instead of
// waiting for itself forever.
class locked {
 public:
  locked(mutex_state& s, const char* what) : s_(s) {
    for (const locked* l = top_; l; l = l->prev_)
      if (&l->s_ == &s)
        throw std::logic_error(std::string(what) +
                               ": used from inside its own update() (or a serializer run under its lock); that would "
                               "wait for itself forever");
    robust_lock(s, nullptr, weft::clock::time_point::max());  // no token, no deadline: always acquired
    owns_ = true;
    prev_ = top_;
    top_ = this;
    // Sticky: set by whoever took the lock over from a dead holder.
    if (s.inconsistent.load(std::memory_order_relaxed)) {
      unlock();
      throw_broken(what);
    }
  }
  locked(const locked&) = delete;
  locked& operator=(const locked&) = delete;
  ~locked() { unlock(); }
  void unlock() noexcept {
    if (!owns_) return;
    owns_ = false;
    top_ = prev_;
    robust_unlock(s_);
  }

 private:
  mutex_state& s_;
  bool owns_ = false;
  const locked* prev_ = nullptr;
  static thread_local const locked* top_;
};

thread_local const locked* locked::top_ = nullptr;

// ------------------------------------------------------------------ map

constexpr const char* map_name = "weft::ipc::shared_map";
constexpr std::uintptr_t empty_slot = 0;
constexpr std::uintptr_t tombstone = 1;
constexpr std::uint64_t npos = ~std::uint64_t{0};
constexpr std::uint64_t min_slots = 8;

bool live(std::uintptr_t key) noexcept { return key > tombstone; }

struct map_slot {
  std::uint64_t hash;
  std::uintptr_t key;    // empty_slot, tombstone or a blob; written last
  std::uintptr_t value;  // a blob when key is one
};

struct map_table {
  std::uint64_t capacity;  // a power of two
  std::uint64_t used;      // live slots and tombstones
  map_slot* slots() noexcept { return reinterpret_cast<map_slot*>(this + 1); }
};

struct map_state {
  mutex_state lock;
  std::atomic<std::uint64_t> count{0};  // live entries; read without the lock by size()
  map_table* table = nullptr;           // none until the first key
  blob_pool pool;
};

map_state& map_of(const shared_ref& r) {
  if (!r) throw std::logic_error(no_object_message);
  return *r.object<map_state>();
}

// The same function in every process of the program (libstdc++'s has no
// per-process seed), which the table, read by all of them, depends on.
std::uint64_t hash_of(const container_bytes& key) noexcept {
  return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

struct probe {
  std::uint64_t found = npos;  // the key's slot
  std::uint64_t free = npos;   // where it would go: the first tombstone or empty slot met
};

probe find(map_table* t, std::uint64_t h, const container_bytes& key) noexcept {
  probe r;
  if (!t) return r;
  const std::uint64_t mask = t->capacity - 1;
  map_slot* slots = t->slots();
  // Never full (at most 3/4 used), so an empty slot ends every probe.
  for (std::uint64_t i = h & mask, n = 0; n < t->capacity; i = (i + 1) & mask, ++n) {
    const map_slot& s = slots[i];
    if (s.key == empty_slot) {
      if (r.free == npos) r.free = i;
      return r;
    }
    if (s.key == tombstone) {
      if (r.free == npos) r.free = i;
    } else if (s.hash == h && equal(as_blob(s.key), key)) {
      r.found = i;
      return r;
    }
  }
  return r;
}

map_table* new_table(std::uint64_t capacity) {
  if (capacity > (heap().size() - sizeof(map_table)) / sizeof(map_slot))
    throw shared_heap_exhausted(capacity * sizeof(map_slot), heap().size());
  void* p = heap().allocate(sizeof(map_table) + capacity * sizeof(map_slot), alignof(map_table));
  auto* t = ::new (p) map_table{capacity, 0};
  std::memset(static_cast<void*>(t->slots()), 0, capacity * sizeof(map_slot));
  return t;
}

// A table with room for `entries` live ones at most half full, holding the
// current live entries (no tombstones); the old table goes to `garbage`.
// Throws shared_heap_exhausted with the map unchanged.
void rebuild(map_state& m, std::uint64_t entries, deferred_free& garbage) {
  std::uint64_t capacity = min_slots;
  while (capacity / 2 < entries) capacity *= 2;
  map_table* t = new_table(capacity);
  if (map_table* old = m.table) {
    const std::uint64_t mask = capacity - 1;
    for (std::uint64_t i = 0; i < old->capacity; ++i) {
      const map_slot& s = old->slots()[i];
      if (!live(s.key)) continue;
      std::uint64_t j = s.hash & mask;
      while (t->slots()[j].key != empty_slot) j = (j + 1) & mask;
      t->slots()[j] = s;
      ++t->used;
    }
  }
  step();
  map_table* old = m.table;
  m.table = t;  // one store: the new table replaces the old (the same blobs)
  step();
  garbage.add(old);
}

// Stores a new entry where `p` says it goes (p.found == npos). Throws
// shared_heap_exhausted with the map unchanged.
void insert_new(map_state& m, std::uint64_t h, const container_bytes& key, const container_bytes& value, probe p,
                deferred_free& garbage) {
  map_table* t = m.table;
  const bool reuse = t && p.free != npos && t->slots()[p.free].key == tombstone;
  if (!reuse && (!t || (t->used + 1) * 4 > t->capacity * 3)) {
    rebuild(m, m.count.load(std::memory_order_relaxed) + 1, garbage);
    t = m.table;
    p = find(t, h, key);
  }
  blob* k = make_blob(m.pool, key);
  blob* v = nullptr;
  try {
    v = make_blob(m.pool, value);
  } catch (...) {
    free_blob(m.pool, k, garbage);
    throw;
  }
  map_slot& s = t->slots()[p.free];
  const bool was_empty = s.key == empty_slot;
  s.hash = h;
  s.value = as_word(v);
  step();
  s.key = as_word(k);  // publishes the entry
  step();
  if (was_empty) ++t->used;
  m.count.store(m.count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Hands back a detached table, its entries and their slabs.
void free_map(map_table* t, std::uintptr_t slabs) noexcept {
  if (t) {
    for (std::uint64_t i = 0; i < t->capacity; ++i) {
      const map_slot& s = t->slots()[i];
      if (!live(s.key)) continue;
      free_unpooled(&s.key, 1, 1);
      if (s.value) free_unpooled(&s.value, 1, 1);
    }
    heap().deallocate(t);
  }
  free_slabs(slabs);
}

// ------------------------------------------------------------------ list

constexpr const char* list_name = "weft::ipc::shared_list";

struct list_array {
  std::uint64_t capacity;
  std::uintptr_t* items() noexcept { return reinterpret_cast<std::uintptr_t*>(this + 1); }
};

struct list_state {
  mutex_state lock;
  std::atomic<std::uint64_t> count{0};  // elements, written last; read without the lock by size()
  list_array* array = nullptr;          // none until the first element
  blob_pool pool;
};

list_state& list_of(const shared_ref& r) {
  if (!r) throw std::logic_error(no_object_message);
  return *r.object<list_state>();
}

[[noreturn]] void throw_index(const char* op, std::size_t i, std::uint64_t size) {
  throw std::out_of_range(std::string(list_name) + "::" + op + ": index " + std::to_string(i) +
                          " is out of range (size " + std::to_string(size) + ")");
}

// Hands back a detached array, its first `count` elements and their slabs.
void free_list(list_array* a, std::uint64_t count, std::uintptr_t slabs) noexcept {
  if (a) {
    free_unpooled(a->items(), std::min(count, a->capacity), 1);
    heap().deallocate(a);
  }
  free_slabs(slabs);
}

}  // namespace

// ------------------------------------------------------------------ map_core

shared_ref map_core::create(std::uint64_t type_tag) {
  shared_ref r(allocate_block(block_kind::map, type_tag, sizeof(map_state), alignof(map_state)));
  ::new (r.object<map_state>()) map_state{};
  return r;
}

bool map_core::assign(const shared_ref& ref, const container_bytes& key, const container_bytes& value) {
  map_state& m = map_of(ref);
  const std::uint64_t h = hash_of(key);
  deferred_free garbage;
  locked l(m.lock, map_name);
  const probe p = find(m.table, h, key);
  if (p.found != npos) {
    store_blob(m.pool, m.table->slots()[p.found].value, value, garbage);
    return false;
  }
  insert_new(m, h, key, value, p, garbage);
  return true;
}

std::optional<container_bytes> map_core::get(const shared_ref& ref, const container_bytes& key) {
  map_state& m = map_of(ref);
  const std::uint64_t h = hash_of(key);
  locked l(m.lock, map_name);
  const probe p = find(m.table, h, key);
  if (p.found == npos) return std::nullopt;
  return copy_out(as_blob(m.table->slots()[p.found].value));
}

bool map_core::contains(const shared_ref& ref, const container_bytes& key) {
  map_state& m = map_of(ref);
  const std::uint64_t h = hash_of(key);
  locked l(m.lock, map_name);
  return find(m.table, h, key).found != npos;
}

bool map_core::erase(const shared_ref& ref, const container_bytes& key) {
  map_state& m = map_of(ref);
  const std::uint64_t h = hash_of(key);
  deferred_free garbage;
  locked l(m.lock, map_name);
  const probe p = find(m.table, h, key);
  if (p.found == npos) return false;
  map_slot& s = m.table->slots()[p.found];
  blob* k = as_blob(s.key);
  blob* v = as_blob(s.value);
  s.key = tombstone;  // one store: the entry is gone (its value is ignored from now on)
  step();
  m.count.store(m.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  free_blob(m.pool, k, garbage);
  free_blob(m.pool, v, garbage);
  return true;
}

void map_core::update(const shared_ref& ref, const container_bytes& key, container_update_fn fn, void* context) {
  map_state& m = map_of(ref);
  const std::uint64_t h = hash_of(key);
  deferred_free garbage;
  locked l(m.lock, map_name);
  const probe p = find(m.table, h, key);
  container_bytes out;
  if (p.found != npos) {
    std::uintptr_t& value = m.table->slots()[p.found].value;
    const blob* current = as_blob(value);
    fn(context, current->data(), current->size, true, out);
    store_blob(m.pool, value, out, garbage);
  } else {
    fn(context, nullptr, 0, false, out);
    insert_new(m, h, key, out, p, garbage);
  }
}

std::size_t map_core::size(const shared_ref& ref) {
  return static_cast<std::size_t>(map_of(ref).count.load(std::memory_order_relaxed));
}

void map_core::clear(const shared_ref& ref) {
  map_state& m = map_of(ref);
  map_table* t = nullptr;
  std::uintptr_t slabs = 0;
  {
    locked l(m.lock, map_name);
    t = m.table;
    m.table = nullptr;  // one store: every entry is gone
    step();
    m.count.store(0, std::memory_order_relaxed);
    slabs = m.pool.slabs;
    m.pool.slabs = 0;  // one store: the slabs are ours
    step();
    for (pool_class& c : m.pool.classes) c = pool_class{};
  }
  free_map(t, slabs);
}

std::vector<std::pair<container_bytes, container_bytes>> map_core::snapshot(const shared_ref& ref) {
  map_state& m = map_of(ref);
  std::vector<std::pair<container_bytes, container_bytes>> out;
  locked l(m.lock, map_name);
  map_table* t = m.table;
  if (!t) return out;
  out.reserve(m.count.load(std::memory_order_relaxed));
  for (std::uint64_t i = 0; i < t->capacity; ++i) {
    const map_slot& s = t->slots()[i];
    if (live(s.key)) out.emplace_back(copy_out(as_blob(s.key)), copy_out(as_blob(s.value)));
  }
  return out;
}

std::vector<container_bytes> map_core::keys(const shared_ref& ref) {
  map_state& m = map_of(ref);
  std::vector<container_bytes> out;
  locked l(m.lock, map_name);
  map_table* t = m.table;
  if (!t) return out;
  out.reserve(m.count.load(std::memory_order_relaxed));
  for (std::uint64_t i = 0; i < t->capacity; ++i) {
    const map_slot& s = t->slots()[i];
    if (live(s.key)) out.push_back(copy_out(as_blob(s.key)));
  }
  return out;
}

// ------------------------------------------------------------------ list_core

shared_ref list_core::create(std::uint64_t type_tag) {
  shared_ref r(allocate_block(block_kind::list, type_tag, sizeof(list_state), alignof(list_state)));
  ::new (r.object<list_state>()) list_state{};
  return r;
}

void list_core::push_back(const shared_ref& ref, const container_bytes& item) {
  list_state& s = list_of(ref);
  deferred_free garbage;
  locked l(s.lock, list_name);
  const std::uint64_t n = s.count.load(std::memory_order_relaxed);
  if (!s.array || n == s.array->capacity) {
    const std::uint64_t capacity = s.array ? s.array->capacity * 2 : min_slots;
    if (capacity > (heap().size() - sizeof(list_array)) / sizeof(std::uintptr_t))
      throw shared_heap_exhausted(capacity * sizeof(std::uintptr_t), heap().size());
    void* p = heap().allocate(sizeof(list_array) + capacity * sizeof(std::uintptr_t), alignof(list_array));
    auto* a = ::new (p) list_array{capacity};
    if (n) std::memcpy(static_cast<void*>(a->items()), s.array->items(), n * sizeof(std::uintptr_t));
    step();
    list_array* old = s.array;
    s.array = a;  // one store: the larger array replaces the old (the same blobs)
    step();
    garbage.add(old);
  }
  s.array->items()[n] = as_word(make_blob(s.pool, item));
  step();
  s.count.store(n + 1, std::memory_order_relaxed);  // publishes the element
}

std::optional<container_bytes> list_core::pop_back(const shared_ref& ref) {
  list_state& s = list_of(ref);
  deferred_free garbage;
  locked l(s.lock, list_name);
  const std::uint64_t n = s.count.load(std::memory_order_relaxed);
  if (n == 0) return std::nullopt;
  blob* b = as_blob(s.array->items()[n - 1]);
  std::optional<container_bytes> out(copy_out(b));  // may throw bad_alloc: nothing changed yet
  s.count.store(n - 1, std::memory_order_relaxed);  // one store: the element is gone
  step();
  free_blob(s.pool, b, garbage);
  return out;
}

container_bytes list_core::at(const shared_ref& ref, std::size_t i) {
  list_state& s = list_of(ref);
  locked l(s.lock, list_name);
  const std::uint64_t n = s.count.load(std::memory_order_relaxed);
  if (i >= n) throw_index("at", i, n);
  return copy_out(as_blob(s.array->items()[i]));
}

void list_core::set(const shared_ref& ref, std::size_t i, const container_bytes& item) {
  list_state& s = list_of(ref);
  deferred_free garbage;
  locked l(s.lock, list_name);
  const std::uint64_t n = s.count.load(std::memory_order_relaxed);
  if (i >= n) throw_index("set", i, n);
  store_blob(s.pool, s.array->items()[i], item, garbage);
}

void list_core::update(const shared_ref& ref, std::size_t i, container_update_fn fn, void* context) {
  list_state& s = list_of(ref);
  deferred_free garbage;
  locked l(s.lock, list_name);
  const std::uint64_t n = s.count.load(std::memory_order_relaxed);
  if (i >= n) throw_index("update", i, n);
  std::uintptr_t& slot = s.array->items()[i];
  const blob* current = as_blob(slot);
  container_bytes out;
  fn(context, current->data(), current->size, true, out);
  store_blob(s.pool, slot, out, garbage);
}

std::size_t list_core::size(const shared_ref& ref) {
  return static_cast<std::size_t>(list_of(ref).count.load(std::memory_order_relaxed));
}

void list_core::clear(const shared_ref& ref) {
  list_state& s = list_of(ref);
  list_array* a = nullptr;
  std::uint64_t n = 0;
  std::uintptr_t slabs = 0;
  {
    locked l(s.lock, list_name);
    n = s.count.load(std::memory_order_relaxed);
    s.count.store(0, std::memory_order_relaxed);  // one store: every element is gone
    step();
    a = s.array;
    s.array = nullptr;
    slabs = s.pool.slabs;
    s.pool.slabs = 0;  // one store: the slabs are ours
    step();
    for (pool_class& c : s.pool.classes) c = pool_class{};
  }
  free_list(a, n, slabs);
}

std::vector<container_bytes> list_core::snapshot(const shared_ref& ref) {
  list_state& s = list_of(ref);
  std::vector<container_bytes> out;
  locked l(s.lock, list_name);
  const std::uint64_t n = s.count.load(std::memory_order_relaxed);
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) out.push_back(copy_out(as_blob(s.array->items()[i])));
  return out;
}

// ------------------------------------------------------------------ destroy

void destroy_container(block_header* b) noexcept;

// Called by free_block (shared_block.cpp) when the last handle to a map or
// a list went: nobody else can reach it, so no lock (a dead holder's word
// may still name it). Frees the table or array, the blobs that did not come
// from slabs, and the slabs.
void destroy_container(block_header* b) noexcept {
  auto* base = reinterpret_cast<char*>(b);
  if (b->kind == block_kind::map) {
    auto* m = reinterpret_cast<map_state*>(base + object_offset(alignof(map_state)));
    free_map(std::exchange(m->table, nullptr), std::exchange(m->pool.slabs, 0));
  } else if (b->kind == block_kind::list) {
    auto* s = reinterpret_cast<list_state*>(base + object_offset(alignof(list_state)));
    free_list(std::exchange(s->array, nullptr), s->count.load(std::memory_order_relaxed),
              std::exchange(s->pool.slabs, 0));
  }
}

}  // namespace weft::ipc::detail
