#include "weft/runtime/detail/frame_allocator.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>

#include <sys/mman.h>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_FRAME_POOL_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_FRAME_POOL_DISABLED 1
#endif
#endif

namespace weft::detail {
namespace {

constexpr std::size_t granule = 16;
constexpr std::size_t max_pooled = 1024;
constexpr std::size_t num_classes = max_pooled / granule;
constexpr std::size_t small_chunk = 64 * 1024;
constexpr std::size_t huge_chunk = 2 * 1024 * 1024;
// A thread that has carved this much gets huge-page chunks from then on.
constexpr std::size_t huge_after = 1024 * 1024;
[[maybe_unused]] constexpr std::size_t local_cap_bytes = 256 * 1024;  // per class, per thread

struct free_block {
  free_block* next;
};

// A batch of blocks of one class, linked through free_block::next.
struct batch {
  free_block* head = nullptr;
  std::size_t count = 0;
};

struct global_pool {
  std::mutex mu;
  std::array<std::vector<batch>, num_classes> batches;
  std::vector<void*> chunks;  // kept reachable for leak checkers; never freed
  std::atomic<std::size_t> chunk_bytes{0};
};

global_pool& pool() {
  static global_pool* p = new global_pool;  // outlives every thread_local cache
  return *p;
}

[[maybe_unused]] std::size_t class_of(std::size_t size) { return (size + granule - 1) / granule - 1; }
[[maybe_unused]] std::size_t class_size(std::size_t cls) { return (cls + 1) * granule; }

// Threads that spawn a lot touch a lot of fresh memory, and a page fault
// per 4 KiB dominates a spawn burst on virtual machines. Past the first
// megabyte a thread's chunks are 2 MiB, aligned, and marked for
// transparent huge pages: one fault per chunk where THP is available.
void* map_huge_chunk() noexcept {
  const std::size_t span = 2 * huge_chunk;
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return std::malloc(huge_chunk);
  auto addr = reinterpret_cast<std::uintptr_t>(p);
  std::uintptr_t aligned = (addr + huge_chunk - 1) & ~(std::uintptr_t{huge_chunk} - 1);
  if (aligned > addr) ::munmap(p, aligned - addr);
  std::uintptr_t end = addr + span;
  if (end > aligned + huge_chunk) ::munmap(reinterpret_cast<void*>(aligned + huge_chunk), end - (aligned + huge_chunk));
  ::madvise(reinterpret_cast<void*>(aligned), huge_chunk, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

struct thread_cache {
  std::array<free_block*, num_classes> heads{};
  std::array<std::size_t, num_classes> counts{};
  char* bump = nullptr;
  char* bump_end = nullptr;
  std::size_t carved = 0;
  bool flushed = false;  // the thread is exiting: bypass the local lists

  void flush() {
    flushed = true;
    auto& g = pool();
    std::lock_guard lock(g.mu);
    for (std::size_t c = 0; c < num_classes; ++c)
      if (heads[c]) g.batches[c].push_back(batch{heads[c], counts[c]});
    heads = {};
    counts = {};
    // The rest of the bump chunk is abandoned; it stays reachable via chunks.
  }

  void* carve(std::size_t bytes) {
    if (static_cast<std::size_t>(bump_end - bump) < bytes) {
      const std::size_t size = carved >= huge_after ? huge_chunk : small_chunk;
      void* chunk = size == huge_chunk ? map_huge_chunk() : std::malloc(size);
      if (!chunk) throw std::bad_alloc();
      auto& g = pool();
      {
        std::lock_guard lock(g.mu);
        g.chunks.push_back(chunk);
      }
      g.chunk_bytes.fetch_add(size, std::memory_order_relaxed);
      carved += size;
      bump = static_cast<char*>(chunk);
      bump_end = bump + size;
    }
    void* p = bump;
    bump += bytes;
    return p;
  }

  bool refill(std::size_t cls) {
    auto& g = pool();
    std::lock_guard lock(g.mu);
    auto& list = g.batches[cls];
    if (list.empty()) return false;
    heads[cls] = list.back().head;
    counts[cls] = list.back().count;
    list.pop_back();
    return true;
  }

  void spill(std::size_t cls) {
    // Hand half of this class's list to the global pool.
    std::size_t keep = counts[cls] / 2;
    free_block* cut = heads[cls];
    for (std::size_t i = 1; i < keep; ++i) cut = cut->next;
    batch b{cut->next, counts[cls] - keep};
    cut->next = nullptr;
    counts[cls] = keep;
    auto& g = pool();
    std::lock_guard lock(g.mu);
    g.batches[cls].push_back(b);
  }
};

// The cache itself is trivially destructible, so it stays usable while other
// thread_local destructors run; the guard flushes it when the thread exits.
thread_local thread_cache cache;
struct cache_guard {
  cache_guard() { cache.flushed = false; }
  ~cache_guard() { cache.flush(); }
};
thread_local cache_guard guard;

[[maybe_unused]] void give_back_one(std::size_t cls, free_block* b) {
  b->next = nullptr;
  auto& g = pool();
  std::lock_guard lock(g.mu);
  g.batches[cls].push_back(batch{b, 1});
}

}  // namespace

void* frame_alloc(std::size_t size) {
#ifdef WEFT_FRAME_POOL_DISABLED
  return ::operator new(size);
#else
  if (size > max_pooled || size == 0) return ::operator new(size);
  const std::size_t cls = class_of(size);
  (void)&guard;  // odr-use: constructs the guard on this thread's first allocation
  if (cache.flushed) return ::operator new(class_size(cls));
  free_block* b = cache.heads[cls];
  if (!b && cache.refill(cls)) b = cache.heads[cls];
  if (b) {
    cache.heads[cls] = b->next;
    --cache.counts[cls];
    return b;
  }
  return cache.carve(class_size(cls));
#endif
}

void frame_free(void* p, std::size_t size) noexcept {
#ifdef WEFT_FRAME_POOL_DISABLED
  (void)size;
  ::operator delete(p);
#else
  if (size > max_pooled || size == 0) return ::operator delete(p);
  const std::size_t cls = class_of(size);
  auto* b = static_cast<free_block*>(p);
  if (cache.flushed) return give_back_one(cls, b);
  b->next = cache.heads[cls];
  cache.heads[cls] = b;
  if (++cache.counts[cls] * class_size(cls) > local_cap_bytes) cache.spill(cls);
#endif
}

std::size_t frame_pool_chunk_bytes() noexcept { return pool().chunk_bytes.load(std::memory_order_relaxed); }

}  // namespace weft::detail
