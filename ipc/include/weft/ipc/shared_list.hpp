// weft::ipc::shared_list<T>: a growable list shared by processes (what
// multiprocessing.Manager().list() gives, without a manager process).
//
//   weft::ipc::shared_list<std::string> found;      // in the parent, then pass it to workers
//   found.push_back("a.html");                       // from any process or thread
//   std::string first = found.at(0);                 // std::out_of_range past the end
//   found.set(0, "b.html");  found.size();  found.clear();
//   std::optional<std::string> last = found.pop_back();   // nullopt when empty
//   found.update(0, [](std::string& s) { s += "#top"; });  // atomic read-modify-write
//   for (const auto& s : found.snapshot()) ...       // iteration is over a copy
//
// A handle: copies (in any process, or sent to a worker, under the rules of
// weft/ipc/detail/shared_block.hpp) name the same list, which lives in the
// shared heap; the last handle dropped, in whichever process, frees it and
// every element. Elements are stored serialized (weft/ipc/serialize.hpp),
// each in an allocation of its own, behind an array of pointers that
// doubles as it fills (never shrinking, except through clear()). An element
// that is itself a handle is stored as its offset only: the list does not
// keep that object alive.
//
// Every operation takes the list's internal lock for one short critical
// section and never suspends, so these are plain synchronous functions for
// tasks, worker processes and threads alike, each atomic with respect to
// all others. Nothing waits on a condition, so cancellation and deadlines
// do not apply; a caller can only wait the moment another process or
// thread holds the lock (from a task, that blocks its worker thread as
// briefly). update(i, f) runs f *holding the lock*: keep it short, never
// suspend or block in it, and never use this same list inside it (that
// throws std::logic_error rather than deadlock). Indices are only as good
// as the moment they were read: another process may pop in between, so
// at(i) after size() can still throw.
//
// Cost (one process, Release, x86-64, measured by the [.bench] test on a busy
// 2-core machine, 200,000 integer elements): at ~25 ns, push_back ~60-140 ns,
// pop_back ~30-60 ns, set ~30-90 ns. Each is one lock (an uncontended
// compare-exchange), serializing into a std::vector (decoding after the lock
// is let go), and a few stores: elements live in the list's own pool of
// slabs carved from the shared heap, so only a new slab (each twice the
// last, up to 64 KiB), an element over 8 KiB or the array's doubling calls
// the shared heap's allocator, under its lock; set() of a value of the same
// size class overwrites it in place. snapshot() holds the lock for a copy of
// every element; clear() holds it for a few stores and frees after letting
// go. Memory: 8 bytes a slot, plus per element a cell of 8 bytes plus the
// serialized bytes, rounded up to a size class (16-byte steps to 128, then
// quarter steps of each power of two). Popped elements' cells are reused by
// the same list; its slabs go back to the heap on clear() and with the last
// handle.
//
// Errors: at, set and update throw std::out_of_range naming the index and
// the size; shared_heap_exhausted (a bad_alloc) when the heap is full and
// serialization_error when a serializer refuses a value, both with the list
// unchanged. A process that dies while it holds the lock (for the
// microseconds of an operation, or inside update()'s f) may leave the list
// half-updated: from then on every operation on it except size() throws
// owner_died_error (the first waiter notices within 50 ms). The memory is
// still returned when the last handle goes (an array, or an element over
// 8 KiB, that the dead process was allocating or freeing leaks). A process
// killed anywhere else loses nothing stored.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weft/ipc/detail/container_bytes.hpp"
#include "weft/ipc/detail/shared_block.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"

namespace weft::ipc {

namespace detail {

/// The untyped list that shared_list<T> serializes into (shared_container.cpp).
struct list_core {
  static shared_ref create(std::uint64_t type_tag);
  static void push_back(const shared_ref& l, const container_bytes& item);
  static std::optional<container_bytes> pop_back(const shared_ref& l);
  /// Throw std::out_of_range past the end.
  static container_bytes at(const shared_ref& l, std::size_t i);
  static void set(const shared_ref& l, std::size_t i, const container_bytes& item);
  static void update(const shared_ref& l, std::size_t i, container_update_fn fn, void* context);
  static std::size_t size(const shared_ref& l);
  static void clear(const shared_ref& l);
  static std::vector<container_bytes> snapshot(const shared_ref& l);

  template <class T>
  static container_bytes to_bytes(const T& v) {
    return to_container_bytes(v, "weft::ipc::shared_list");
  }
  template <class T>
  static T from_bytes(const std::byte* p, std::size_t n) {
    return from_container_bytes<T>(p, n, "weft::ipc::shared_list", "an element's");
  }
};

}  // namespace detail

template <class T>
class shared_list {
  static_assert(serializable<T>, "weft::ipc::shared_list<T>: T must be serializable (weft/ipc/serialize.hpp)");

 public:
  using value_type = T;

  /// A new, empty list. Allocates its header in the shared heap (the array
  /// comes with the first element): throws shared_heap_exhausted.
  shared_list() : ref_(detail::list_core::create(type_tag())) {}

  void push_back(const T& value) const { detail::list_core::push_back(ref_, detail::list_core::to_bytes(value)); }
  /// Removes and returns the last element; nullopt if the list is empty.
  std::optional<T> pop_back() const {
    std::optional<detail::container_bytes> bytes = detail::list_core::pop_back(ref_);
    if (!bytes) return std::nullopt;
    return detail::list_core::from_bytes<T>(bytes->data(), bytes->size());
  }
  /// A copy of element i; std::out_of_range (naming i and the size) past the end.
  T at(std::size_t i) const {
    detail::container_bytes bytes = detail::list_core::at(ref_, i);
    return detail::list_core::from_bytes<T>(bytes.data(), bytes.size());
  }
  /// Replaces element i; std::out_of_range past the end.
  void set(std::size_t i, const T& value) const { detail::list_core::set(ref_, i, detail::list_core::to_bytes(value)); }

  /// Atomic read-modify-write of element i: under the list's lock, decodes
  /// it, calls f(T&), stores the result and returns a copy of it. f runs
  /// holding the lock (see the top of this file); if f, or the serializer,
  /// throws, nothing is stored. std::out_of_range past the end.
  template <class F>
  requires std::invocable<F&, T&> T update(std::size_t i, F&& f)
  const {
    struct context {
      F& f;
      std::optional<T> result;
    };
    context ctx{f, std::nullopt};
    detail::list_core::update(
        ref_, i,
        [](void* p, const std::byte* current, std::size_t n, bool, detail::container_bytes& out) {
          auto& c = *static_cast<context*>(p);
          c.result.emplace(detail::list_core::from_bytes<T>(current, n));
          std::invoke(c.f, *c.result);
          out = detail::list_core::to_bytes(*c.result);
        },
        &ctx);
    return std::move(*ctx.result);
  }

  /// Elements right now (already stale when it returns). Takes no lock, and
  /// does not throw even for a list broken by a dead process.
  std::size_t size() const { return detail::list_core::size(ref_); }
  bool empty() const { return size() == 0; }
  /// Removes every element.
  void clear() const { detail::list_core::clear(ref_); }
  /// A copy of every element, in order, taken at one instant.
  std::vector<T> snapshot() const {
    std::vector<T> out;
    auto items = detail::list_core::snapshot(ref_);
    out.reserve(items.size());
    for (const auto& b : items) out.push_back(detail::list_core::from_bytes<T>(b.data(), b.size()));
    return out;
  }

  /// False only for a moved-from handle.
  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  /// Handles to this list, in all processes together.
  std::uint32_t use_count() const noexcept { return ref_.use_count(); }

 private:
  friend struct detail::handle_access;
  static constexpr detail::block_kind kind = detail::block_kind::list;
  static constexpr const char* type_name = "weft::ipc::shared_list";
  static std::uint64_t type_tag() noexcept { return detail::type_tag_of<T>(); }
  explicit shared_list(detail::shared_ref r) noexcept : ref_(std::move(r)) {}

  detail::shared_ref ref_;
};

template <class T>
struct serializer<shared_list<T>> : detail::handle_serializer<shared_list<T>> {};

}  // namespace weft::ipc
