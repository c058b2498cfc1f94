// Size-class free lists for coroutine frames and task cells.
//
// Every spawn allocates a task cell and a coroutine frame; going to malloc for
// each is the largest single cost of a spawn. Small blocks (<= 1 KiB) come from
// per-thread free lists, one per 16-byte size class, carved from chunks: 64 KiB
// ones first, then 2 MiB huge-page ones for threads that allocate a lot.
// A thread whose list grows past a cap (a consumer freeing what a producer
// allocated) hands a batch to a global per-class pool, where allocating threads
// pick it up, so memory stays bounded under producer/consumer patterns.
//
// Under AddressSanitizer the pool is bypassed so use-after-free of frames is
// still caught.
#pragma once

#include <cstddef>

namespace weft::detail {

void* frame_alloc(std::size_t size);
void frame_free(void* p, std::size_t size) noexcept;

/// Statistics for tests and benchmarks (bytes currently held in chunks).
std::size_t frame_pool_chunk_bytes() noexcept;

}  // namespace weft::detail
