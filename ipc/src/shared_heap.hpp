// The shared heap (private): one MAP_SHARED mapping of a memfd, reserved
// whole at first use (1024 MiB unless WEFT_SHARED_HEAP_MB says otherwise;
// MAP_NORESERVE, so pages cost memory only once touched) and inherited at
// the same address by every process forked afterwards. The process backend
// calls instance() before it forks its fork server.
//
// Any process may allocate and free (a worker may drop the last handle),
// so the allocator's lock is a process-shared, robust pthread mutex that
// lives in the heap itself. The allocator never suspends while holding it.
// It is a first-fit free list, kept sorted by address, coalescing
// neighbours on free; the untouched remainder above `top` is carved on
// demand, and freed pages at the top (or inside large free blocks) are
// handed back to the kernel. Every change to the free list is ordered so
// that a process killed halfway leaves a valid list, at worst leaking the
// block it was working on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace weft::ipc::detail {

struct heap_header;

class shared_heap {
 public:
  /// The heap; maps it on the first call (thread-safe). Throws
  /// std::invalid_argument for a bad WEFT_SHARED_HEAP_MB and
  /// std::system_error if the mapping cannot be made.
  static shared_heap& instance();

  /// `size` bytes aligned to `align` (a power of two up to 4096). Throws
  /// shared_heap_exhausted when no free block is large enough.
  void* allocate(std::size_t size, std::size_t align);
  /// Frees a block from allocate(); p may come from any process.
  void deallocate(void* p) noexcept;
  bool contains(const void* p) const noexcept;
  /// Bytes taken by live blocks, their bookkeeping included.
  std::size_t in_use() const noexcept;
  /// A unique number per call, across processes.
  std::uint64_t next_id() noexcept;

  std::byte* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  /// Whether [p, p+n) lies in the part of the heap blocks are carved from
  /// (above the allocator's own header).
  bool in_blocks(const void* p, std::size_t n) const noexcept;

  shared_heap(const shared_heap&) = delete;
  shared_heap& operator=(const shared_heap&) = delete;

 private:
  explicit shared_heap(std::size_t size);
  ~shared_heap() = default;  // the mapping lives as long as the process
  void lock();
  void unlock() noexcept;
  void give_back(std::uint64_t from, std::uint64_t to) noexcept;

  std::byte* base_;
  std::size_t size_;
  heap_header* h_;
};

/// WEFT_SHARED_HEAP_MB's value (nullptr: unset) as a size in bytes.
/// Throws std::invalid_argument, naming the variable, when it is not a
/// whole number of MiB from 1 to 1048576.
std::size_t shared_heap_size_from_env(const char* value);

}  // namespace weft::ipc::detail
