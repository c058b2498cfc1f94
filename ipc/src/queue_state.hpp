// The shared state of a process_queue (private; tests reach it to kill a
// process holding the queue's lock).
//
// A byte ring in the shared heap, under a robust lock. Each item is its
// serialized length (8 bytes) then its bytes; the ring has room for
// capacity_bytes of payload plus the lengths of capacity_items items, so
// any set of items within both limits fits. Sleepers wait on two futex
// words, bumped under the lock by every change that may let them on.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "robust_mutex.hpp"

namespace weft::ipc::detail {

struct queue_state {
  mutex_state lock;
  std::atomic<std::uint32_t> not_empty_seq{0};  // bumped by push and close
  std::atomic<std::uint32_t> not_full_seq{0};   // bumped by pop and close
  std::atomic<std::uint32_t> empty_sleepers{0};
  std::atomic<std::uint32_t> full_sleepers{0};
  std::atomic<std::uint32_t> closed{0};
  std::atomic<std::uint64_t> count{0};  // items; read without the lock by size()
  std::uint64_t capacity_items = 0;
  std::uint64_t capacity_bytes = 0;
  std::uint64_t ring_size = 0;
  std::uint64_t type_tag = 0;
  // Under the lock:
  std::uint64_t head = 0;     // where the oldest item starts
  std::uint64_t tail = 0;     // where the next item goes
  std::uint64_t payload = 0;  // bytes of the items, their lengths not counted

  std::byte* ring() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
};

}  // namespace weft::ipc::detail
