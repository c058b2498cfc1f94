// Helpers for tests that watch the shared heap itself: how much of it is in
// use, and a filler that takes nearly all its free room so that the next
// large allocation fails.
#pragma once

#include <cstddef>
#include <new>

#include "../../ipc/src/shared_heap.hpp"

namespace ipc_test {

inline std::size_t in_use() { return weft::ipc::detail::shared_heap::instance().in_use(); }

/// Takes nearly all of the shared heap's free room (no page is touched), so
/// that a large allocation fails; frees it when it goes.
class heap_filler {
 public:
  heap_filler() {
    auto& heap = weft::ipc::detail::shared_heap::instance();
    for (std::size_t n = heap.size() - heap.in_use(); n > (std::size_t{1} << 20) && !p_; n -= std::size_t{1} << 20) {
      try {
        p_ = heap.allocate(n, 16);
      } catch (const std::bad_alloc&) {
      }
    }
  }
  heap_filler(const heap_filler&) = delete;
  heap_filler& operator=(const heap_filler&) = delete;
  ~heap_filler() { weft::ipc::detail::shared_heap::instance().deallocate(p_); }
  bool ok() const { return p_ != nullptr; }

 private:
  void* p_ = nullptr;
};

}  // namespace ipc_test
