// Fiber stacks: mmap'd, a PROT_NONE guard page below each, pooled by size.
//
// A freed stack goes to a small per-thread cache, then to a global list
// (bounded; beyond it the stack is unmapped). Every mapped stack's guard
// page is recorded in a fixed table that the SIGSEGV handler reads without
// locks, so an overflow is reported ("weft: fiber stack overflow ...")
// instead of corrupting whatever lies below.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::detail {

struct fiber_stack {
  void* base = nullptr;    // start of the mapping (the guard page)
  std::size_t total = 0;   // mapping length, guard included
  std::size_t usable = 0;  // total - guard
  std::uint32_t slot = 0;  // guard-table slot + 1 (0: not recorded)

  void* top() const noexcept { return static_cast<char*>(base) + total; }
  void* bottom() const noexcept { return static_cast<char*>(top()) - usable; }
};

std::size_t page_size() noexcept;
/// `requested` rounded up to whole pages (at least one page).
std::size_t round_stack_size(std::size_t requested) noexcept;

/// A stack with `usable` bytes (a multiple of the page size). Throws
/// std::system_error when the mapping fails.
fiber_stack acquire_stack(std::size_t usable);
/// Back to the pool (or unmapped).
void release_stack(const fiber_stack& s) noexcept;

/// Per thread that runs fibers: the SIGSEGV handler (installed once per
/// process, chaining to the previous one) and an alternate signal stack
/// (freed when the thread exits). Cheap after the first call.
void prepare_thread_for_fibers() noexcept;

}  // namespace weft::detail
