#include "shared_heap.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include "weft/ipc/errors.hpp"

namespace weft::ipc {

shared_heap_exhausted::shared_heap_exhausted(std::size_t requested, std::size_t heap_size) noexcept
    : requested_(requested) {
  std::snprintf(message_, sizeof message_,
                "weft: the shared heap (%zu MiB) has no free block for %zu bytes; "
                "set WEFT_SHARED_HEAP_MB before the program starts for a larger one",
                heap_size >> 20, requested);
}

}  // namespace weft::ipc

namespace weft::ipc::detail {

namespace {

constexpr std::uint64_t heap_magic = 0x7765667468656170;  // "wefthea p"
constexpr std::uint64_t alloc_tag = 0x5eedb10c5eedb10c;   // chunk word of a live block, xor its offset
constexpr std::uint64_t chunk_header = 16;
constexpr std::uint64_t min_chunk = 32;
constexpr std::uint64_t max_align = 4096;
// A freed block this large gives its inner pages back to the kernel.
constexpr std::uint64_t give_back_threshold = 64 * 1024;
constexpr std::size_t default_size_mb = 1024;
constexpr std::size_t max_size_mb = std::size_t{1} << 20;

// Allocated: {size, alloc_tag ^ offset}. Free: {size, offset of the next
// free chunk (0: none)}. Sizes include the header and are multiples of 16.
struct chunk {
  std::uint64_t size;
  std::uint64_t word;
};

constexpr std::uint64_t round_up(std::uint64_t v, std::uint64_t a) noexcept { return (v + a - 1) / a * a; }

// Orders the stores around it for a process killed at any instruction: a
// compiler barrier (the CPU keeps one thread's stores in order on x86, and
// the lock's release publishes them all to the next holder).
inline void step() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

std::uint64_t page_size() noexcept {
  static const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

}  // namespace

struct heap_header {
  std::uint64_t magic;
  std::uint64_t size;
  pthread_mutex_t lock;
  std::uint64_t free_head;         // offset of the lowest free chunk, 0: none
  std::atomic<std::uint64_t> top;  // everything above is untouched; read unlocked by in_blocks
  std::atomic<std::uint64_t> in_use;
  std::atomic<std::uint64_t> next_id;
  std::uint32_t damaged;  // a dead holder left a free list that fails the check
};

namespace {
constexpr std::uint64_t data_start = round_up(sizeof(heap_header), 64);
}

std::size_t shared_heap_size_from_env(const char* value) {
  if (!value || !*value) return default_size_mb << 20;
  std::size_t mb = 0;
  bool ok = true;
  for (const char* p = value; *p && ok; ++p) {
    if (*p < '0' || *p > '9') ok = false;
    else if (mb > max_size_mb) ok = false;
    else mb = mb * 10 + static_cast<std::size_t>(*p - '0');
  }
  if (!ok || mb < 1 || mb > max_size_mb)
    throw std::invalid_argument(std::string("weft: WEFT_SHARED_HEAP_MB must be a whole number of MiB from 1 to ") +
                                std::to_string(max_size_mb) + ", not '" + value + "'");
  return mb << 20;
}

shared_heap& shared_heap::instance() {
  // Never destroyed: shared objects may be dropped by static destructors,
  // and the mapping must outlive them.
  static shared_heap* heap = new shared_heap(shared_heap_size_from_env(std::getenv("WEFT_SHARED_HEAP_MB")));
  return *heap;
}

shared_heap::shared_heap(std::size_t size) : size_(size) {
  int fd = ::memfd_create("weft-shared-heap", MFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "weft: memfd_create for the shared heap");
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(
        e, std::generic_category(),
        "weft: ftruncate of the shared heap to " + std::to_string(size >> 20) + " MiB (WEFT_SHARED_HEAP_MB)");
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  int e = errno;
  ::close(fd);  // the mapping keeps the memory
  if (p == MAP_FAILED)
    throw std::system_error(
        e, std::generic_category(),
        "weft: mmap of the " + std::to_string(size >> 20) + " MiB shared heap (WEFT_SHARED_HEAP_MB)");
  base_ = static_cast<std::byte*>(p);
  h_ = ::new (p) heap_header{};
  h_->magic = heap_magic;
  h_->size = size;
  h_->free_head = 0;
  h_->top.store(data_start, std::memory_order_relaxed);
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  int r = ::pthread_mutex_init(&h_->lock, &attr);
  ::pthread_mutexattr_destroy(&attr);
  if (r != 0) {
    ::munmap(p, size);
    throw std::system_error(r, std::generic_category(), "weft: pthread_mutex_init for the shared heap");
  }
}

void shared_heap::lock() {
  int r = ::pthread_mutex_lock(&h_->lock);
  if (r == EOWNERDEAD) {
    // A process died holding the lock. The list is kept valid at every
    // step, but check it before trusting it again.
    ::pthread_mutex_consistent(&h_->lock);
    const std::uint64_t top = h_->top.load(std::memory_order_relaxed);
    std::uint64_t prev_end = data_start, steps = 0;
    for (std::uint64_t c = h_->free_head; c; ++steps) {
      const chunk* k = reinterpret_cast<const chunk*>(base_ + c);
      if (c < prev_end || c % chunk_header || k->size < min_chunk || k->size % chunk_header || c + k->size > top ||
          steps > size_ / min_chunk) {
        h_->damaged = 1;
        break;
      }
      prev_end = c + k->size;
      c = k->word;
    }
  } else if (r != 0) {
    throw std::system_error(r, std::generic_category(), "weft: locking the shared heap");
  }
  if (h_->damaged) {
    ::pthread_mutex_unlock(&h_->lock);
    throw std::runtime_error(
        "weft: the shared heap is damaged (a process died inside the allocator); no more shared objects can be "
        "made");
  }
}

void shared_heap::unlock() noexcept { ::pthread_mutex_unlock(&h_->lock); }

void shared_heap::give_back(std::uint64_t from, std::uint64_t to) noexcept {
  const std::uint64_t page = page_size();
  from = round_up(from, page);
  to = to / page * page;
  // Punches a hole in the memfd: the pages are freed for every process and
  // read back as zeros. A failure only costs memory.
  if (to > from) ::madvise(base_ + from, to - from, MADV_REMOVE);
}

void* shared_heap::allocate(std::size_t size, std::size_t align) {
  if (align == 0 || (align & (align - 1)) || align > max_align)
    throw std::invalid_argument("weft: shared heap alignment must be a power of two up to 4096, not " +
                                std::to_string(align));
  align = std::max<std::size_t>(align, chunk_header);
  if (size > size_) throw shared_heap_exhausted(size, size_);
  const std::uint64_t need = std::max(round_up(size, chunk_header) + chunk_header, min_chunk);

  // Where a block of `need` bytes would start in a free area beginning at
  // `start`: the user pointer aligned, and a leading gap either empty or
  // large enough to stay a free chunk of its own.
  auto place = [&](std::uint64_t start) {
    std::uint64_t user = round_up(start + chunk_header, align);
    while (user - chunk_header - start != 0 && user - chunk_header - start < min_chunk) user += align;
    return user - chunk_header;
  };

  lock();
  std::uint64_t* link = &h_->free_head;
  for (std::uint64_t cur = *link; cur; link = &reinterpret_cast<chunk*>(base_ + cur)->word, cur = *link) {
    chunk* c = reinterpret_cast<chunk*>(base_ + cur);
    const std::uint64_t b = place(cur);
    if (b + need > cur + c->size) continue;
    std::uint64_t end = b + need;
    std::uint64_t rest = cur + c->size - end;
    if (rest < min_chunk) {
      end += rest;
      rest = 0;
    }
    const std::uint64_t next = c->word;
    if (rest) {
      chunk* r = reinterpret_cast<chunk*>(base_ + end);
      r->size = rest;
      r->word = next;
      step();
    }
    if (b == cur) {
      *link = rest ? end : next;  // one store: cur leaves the list
    } else {
      c->size = b - cur;  // cur shrinks to the gap (the rest is briefly unlisted)
      step();
      c->word = rest ? end : next;
    }
    step();
    chunk* blk = reinterpret_cast<chunk*>(base_ + b);
    blk->size = end - b;
    blk->word = alloc_tag ^ b;
    h_->in_use.fetch_add(end - b, std::memory_order_relaxed);
    unlock();
    return base_ + b + chunk_header;
  }
  // Nothing free fits: carve from the untouched top. `link` is the tail's.
  const std::uint64_t top = h_->top.load(std::memory_order_relaxed);
  const std::uint64_t b = place(top);
  if (b + need > size_) {
    unlock();
    throw shared_heap_exhausted(size, size_);
  }
  h_->top.store(b + need, std::memory_order_relaxed);
  step();
  if (b != top) {  // the alignment gap becomes the last free chunk
    chunk* g = reinterpret_cast<chunk*>(base_ + top);
    g->size = b - top;
    g->word = 0;
    step();
    *link = top;
    step();
  }
  chunk* blk = reinterpret_cast<chunk*>(base_ + b);
  blk->size = need;
  blk->word = alloc_tag ^ b;
  h_->in_use.fetch_add(need, std::memory_order_relaxed);
  unlock();
  return base_ + b + chunk_header;
}

void shared_heap::deallocate(void* p) noexcept {
  if (!p) return;
  const bool inside =
      in_blocks(p, 1) && static_cast<std::uint64_t>(static_cast<std::byte*>(p) - base_) >= data_start + chunk_header;
  const std::uint64_t b = inside ? static_cast<std::uint64_t>(static_cast<std::byte*>(p) - base_) - chunk_header : 0;
  chunk* blk = reinterpret_cast<chunk*>(base_ + b);
  if (!inside || blk->word != (alloc_tag ^ b)) {
    std::fprintf(stderr, "weft: shared_heap::deallocate of %p, which is not a live shared block (double free?)\n", p);
    std::abort();
  }
  try {
    lock();
  } catch (...) {
    return;  // a damaged heap: the block is leaked
  }
  const std::uint64_t size = blk->size;
  blk->word = 0;  // no longer live: a second free of p is caught above
  step();

  std::uint64_t* prev_link = nullptr;  // the word that holds `prev`
  std::uint64_t* link = &h_->free_head;
  std::uint64_t prev = 0;
  while (*link && *link < b) {
    prev_link = link;
    prev = *link;
    link = &reinterpret_cast<chunk*>(base_ + prev)->word;
  }
  const std::uint64_t next = *link;
  chunk* pc = prev ? reinterpret_cast<chunk*>(base_ + prev) : nullptr;
  chunk* nc = next ? reinterpret_cast<chunk*>(base_ + next) : nullptr;
  const bool join_prev = pc && prev + pc->size == b;
  const bool join_next = nc && b + size == next;

  std::uint64_t start;        // the free chunk that now holds the block
  std::uint64_t* start_link;  // the word that holds `start`
  if (join_prev) {
    if (join_next) {
      pc->word = nc->word;  // next leaves the list first (briefly leaked)...
      step();
      pc->size += size + nc->size;  // ...then prev grows over it
    } else {
      pc->size += size;
    }
    start = prev;
    start_link = prev_link;
  } else {
    blk->size = join_next ? size + nc->size : size;
    blk->word = join_next ? nc->word : next;
    step();
    *link = b;  // publishes the block
    start = b;
    start_link = link;
  }
  step();
  chunk* sc = reinterpret_cast<chunk*>(base_ + start);
  const std::uint64_t end = start + sc->size;
  const std::uint64_t top = h_->top.load(std::memory_order_relaxed);
  if (end == top) {
    // The last chunk: hand it back to the untouched top.
    *start_link = 0;
    step();
    h_->top.store(start, std::memory_order_relaxed);
    give_back(start, round_up(top, page_size()));
  } else if (sc->size >= give_back_threshold) {
    give_back(start + chunk_header, end);
  }
  h_->in_use.fetch_sub(size, std::memory_order_relaxed);
  unlock();
}

bool shared_heap::contains(const void* p) const noexcept {
  const auto* q = static_cast<const std::byte*>(p);
  return q >= base_ && q < base_ + size_;
}

bool shared_heap::in_blocks(const void* p, std::size_t n) const noexcept {
  if (!contains(p)) return false;
  const auto off = static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base_);
  return off >= data_start && n <= size_ - off;
}

std::size_t shared_heap::in_use() const noexcept { return h_->in_use.load(std::memory_order_relaxed); }

std::uint64_t shared_heap::next_id() noexcept { return h_->next_id.fetch_add(1, std::memory_order_relaxed) + 1; }

}  // namespace weft::ipc::detail
