#include <new>
#include <string>

#include "shared_heap.hpp"
#include "weft/ipc/detail/shared_block.hpp"
#include "weft/ipc/errors.hpp"

namespace weft::ipc::detail {

block_header* allocate_block(block_kind kind, std::uint64_t type_tag, std::size_t size, std::size_t align) {
  if (align < alignof(block_header)) align = alignof(block_header);
  const std::size_t offset = object_offset(align);
  if (size > SIZE_MAX - offset) throw shared_heap_exhausted(size, shared_heap::instance().size());
  shared_heap& heap = shared_heap::instance();
  void* p = heap.allocate(offset + size, align);
  auto* b = ::new (p) block_header{};
  b->kind = kind;
  b->type_tag = type_tag;
  b->id = heap.next_id();
  b->refs.store(1, std::memory_order_release);
  return b;
}

// What a shared_map or shared_list holds besides its block (shared_container.cpp).
void destroy_container(block_header* b) noexcept;

// A pipe end's last handle went: its queues see the end closed (pipe.cpp).
void destroy_pipe_end(block_header* b) noexcept;

void free_block(block_header* b) noexcept {
  if (b->kind == block_kind::map || b->kind == block_kind::list) destroy_container(b);
  if (b->kind == block_kind::pipe_end) destroy_pipe_end(b);
  b->id = 0;  // a stale encoded handle no longer matches
  shared_heap::instance().deallocate(b);
}

encoded_block encode_block(const block_header* b) noexcept {
  const shared_heap& heap = shared_heap::instance();
  return {static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(b) - heap.base()), b->id};
}

block_header* adopt_block(const encoded_block& e, block_kind kind, std::uint64_t type_tag, const char* what) {
  const shared_heap& heap = shared_heap::instance();
  auto fail = [&](const char* why) -> block_header* {
    throw serialization_error(std::string("weft::ipc: cannot receive a ") + what + ": " + why);
  };
  if (e.offset % alignof(block_header) != 0 || e.offset >= heap.size() ||
      !heap.in_blocks(heap.base() + e.offset, sizeof(block_header)))
    return fail("it does not lie in this process's shared heap (was the heap mapped before this process was forked?)");
  auto* b = reinterpret_cast<block_header*>(heap.base() + e.offset);
  // Take the reference only while the block is still alive: a count that
  // reached zero means the sender's last handle went away in flight.
  std::uint32_t refs = b->refs.load(std::memory_order_relaxed);
  do {
    if (refs == 0 || b->id != e.id)
      return fail("the object was freed before it was received (keep a handle until the receiver has its copy)");
  } while (!b->refs.compare_exchange_weak(refs, refs + 1, std::memory_order_acq_rel, std::memory_order_relaxed));
  if (b->id != e.id) {  // freed and reused between the check and the increment
    if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) free_block(b);
    return fail("the object was freed before it was received (keep a handle until the receiver has its copy)");
  }
  if (b->kind != kind || b->type_tag != type_tag) {
    if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) free_block(b);
    return fail("the shared object has another type");
  }
  return b;
}

}  // namespace weft::ipc::detail
