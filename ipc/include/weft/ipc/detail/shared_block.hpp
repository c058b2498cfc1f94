// The machinery under every shared object (shared_value, shared_array,
// mutex, semaphore, process_queue): a reference-counted block in the shared
// heap, and the handle that points at it.
//
// The shared heap is one MAP_SHARED mapping made before the fork server is
// forked, so it lies at the same address in the parent, the fork server and
// every worker: a handle is just a pointer that means the same thing in all
// of them. The reference count lives in the block, so copies of a handle in
// any process count, and whichever process drops the last one frees it.
//
// A handle remembers the process that took its reference. A process made
// by a plain fork() inherits its parent's handle objects without having
// taken references for them; those copies never release anything, so a
// forked child may exit any way it likes. A process that dies holding
// references (a crash, SIGKILL) leaks them: the block stays allocated.
//
// Sending a handle to another process (the serializer, below) writes the
// block's offset in the heap and its allocation id; decoding takes a new
// reference. The sender must keep its handle until the receiver decoded its
// copy; a block freed meanwhile is detected (its id no longer matches) and
// refused with serialization_error.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <typeinfo>
#include <utility>

#include "weft/ipc/serialize.hpp"

namespace weft::ipc::detail {

/// The calling process's id. Cached, and refreshed after any fork (the
/// cache sits in a page the kernel wipes in a forked child).
pid_t current_pid() noexcept;

enum class block_kind : std::uint32_t {
  value = 1,
  array,
  mutex,
  semaphore,
  queue,
  event,
  condition,
  barrier,
  map,
  list,
  pipe_end
};

/// At the start of every shared object's block; the object follows at
/// object_offset(align).
struct block_header {
  std::atomic<std::uint32_t> refs;
  block_kind kind;
  std::uint64_t id;        // unique per allocation: a stale handle is detected
  std::uint64_t type_tag;  // what T is, for values, arrays and queues
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "reference counts must be lock-free to be shared");

constexpr std::size_t object_offset(std::size_t align) noexcept {
  return (sizeof(block_header) + align - 1) / align * align;
}

/// A new block for an object of `size` bytes aligned to `align`, holding
/// one reference. The object's bytes are left as they are (zero only if
/// never used before): the caller constructs it. Throws
/// shared_heap_exhausted when the heap is full.
block_header* allocate_block(block_kind kind, std::uint64_t type_tag, std::size_t size, std::size_t align);
/// Returns a block whose last reference went away to the heap.
void free_block(block_header* b) noexcept;

/// A block as it travels between processes.
struct encoded_block {
  std::uint64_t offset;  // from the heap's base
  std::uint64_t id;
};
encoded_block encode_block(const block_header* b) noexcept;
/// The block an encoded_block names, with a new reference taken for the
/// caller. Throws serialization_error if it is not a live block of that
/// kind and type in this process's shared heap. `what` names the handle
/// type for the message.
block_header* adopt_block(const encoded_block& e, block_kind kind, std::uint64_t type_tag, const char* what);

template <class T>
std::uint64_t type_tag_of() noexcept {
  return static_cast<std::uint64_t>(typeid(T).hash_code());
}

/// A counted reference to a block: the base of every handle.
class shared_ref {
 public:
  shared_ref() noexcept = default;
  /// Adopts a reference the caller holds (from allocate_block or adopt_block).
  explicit shared_ref(block_header* b) noexcept : b_(b), pid_(b ? current_pid() : 0) {}
  shared_ref(const shared_ref& o) noexcept : b_(o.b_), pid_(o.b_ ? current_pid() : 0) {
    if (b_) b_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  shared_ref(shared_ref&& o) noexcept : b_(std::exchange(o.b_, nullptr)), pid_(std::exchange(o.pid_, 0)) {}
  shared_ref& operator=(shared_ref o) noexcept {
    std::swap(b_, o.b_);
    std::swap(pid_, o.pid_);
    return *this;
  }
  ~shared_ref() { reset(); }

  /// Drops this reference (frees the block if it was the last one).
  void reset() noexcept {
    block_header* b = std::exchange(b_, nullptr);
    // A copy inherited through fork() was never counted: nothing to drop.
    if (b && pid_ == current_pid() && b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) free_block(b);
  }

  block_header* block() const noexcept { return b_; }
  /// References held in all processes together.
  std::uint32_t use_count() const noexcept { return b_ ? b_->refs.load(std::memory_order_relaxed) : 0; }
  explicit operator bool() const noexcept { return b_ != nullptr; }

  template <class S>
  S* object() const noexcept {
    // A moved-from handle has no object. Saying so keeps g++ 12 from
    // inventing a null path into std::atomic_ref and warning about it
    // (-Wstringop-overflow at -O2).
    assert(b_ != nullptr);
    if (b_ == nullptr) __builtin_unreachable();
    return reinterpret_cast<S*>(reinterpret_cast<char*>(b_) + object_offset(alignof(S)));
  }

 private:
  block_header* b_ = nullptr;
  pid_t pid_ = 0;  // the process that holds the reference
};

/// What the handle serializers need of a handle type H (a friend of it):
/// H::kind, H::type_tag(), H::type_name, a shared_ref `ref_` member and a
/// constructor from one.
struct handle_access {
  template <class H>
  static block_kind kind() noexcept {
    return H::kind;
  }
  template <class H>
  static std::uint64_t type_tag() noexcept {
    return H::type_tag();
  }
  template <class H>
  static const char* type_name() noexcept {
    return H::type_name;
  }
  template <class H>
  static const shared_ref& ref(const H& h) noexcept {
    return h.ref_;
  }
  template <class H>
  static H make(shared_ref r) noexcept {
    return H(std::move(r));
  }
};

const char* const no_object_message = "weft::ipc: this shared object handle is empty (moved from)";

/// The serializer of every handle: its block's offset and id.
template <class H>
struct handle_serializer {
  template <class Writer>
  static void encode(Writer& w, const H& h) {
    const shared_ref& r = handle_access::ref(h);
    if (!r) throw serialization_error(no_object_message);
    const encoded_block e = encode_block(r.block());
    w.write(&e, sizeof e);
  }
  static H decode(byte_reader& r) {
    encoded_block e{};
    r.read(&e, sizeof e);
    return handle_access::make<H>(shared_ref(
        adopt_block(e, handle_access::kind<H>(), handle_access::type_tag<H>(), handle_access::type_name<H>())));
  }
};

}  // namespace weft::ipc::detail
