#include "weft/ipc/process_queue.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>

#include "pool_wait.hpp"
#include "queue_state.hpp"
#include "robust_mutex.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/runtime.hpp"

namespace weft::ipc::detail {

namespace {

constexpr std::uint64_t length_bytes = sizeof(std::uint64_t);

queue_state& state_of(const shared_ref& r) {
  if (!r) throw std::logic_error(no_object_message);
  return *r.object<queue_state>();
}

void wake_all(const std::atomic<std::uint32_t>& word) noexcept { futex_wake(word, INT_MAX); }

[[noreturn]] void throw_broken(queue_state& q) {
  // Sleepers look again at once (and throw too) instead of at their next poll.
  wake_all(q.not_empty_seq);
  wake_all(q.not_full_seq);
  throw owner_died_error(
      "weft::ipc::process_queue: a process died while it held the queue's lock, so the queue may be half-written; "
      "it cannot be used any more");
}

// Holds the queue's lock for one short critical section.
class locked {
 public:
  /// Waits for the lock (until the deadline, or until `token` is
  /// abandoned, if one is given): check owns() afterwards. Throws
  /// owner_died_error on a broken queue.
  locked(queue_state& q, const wait_token* token, weft::clock::time_point deadline = weft::clock::time_point::max())
      : q_(q) {
    owns_ = robust_lock(q.lock, token, deadline) == lock_result::acquired;
    check();
  }
  /// Only tries (taking over from a dead owner, which breaks the queue).
  locked(queue_state& q, std::try_to_lock_t) : q_(q) {
    owns_ = robust_try_lock(q.lock);
    check();
  }
  locked(const locked&) = delete;
  locked& operator=(const locked&) = delete;
  ~locked() { unlock(); }
  bool owns() const noexcept { return owns_; }
  void unlock() noexcept {
    if (owns_) robust_unlock(q_.lock);
    owns_ = false;
  }

 private:
  void check() {
    // Sticky: set by whoever took the lock over from a dead holder.
    if (owns_ && q_.lock.inconsistent.load(std::memory_order_relaxed)) {
      unlock();
      throw_broken(q_);
    }
  }
  queue_state& q_;
  bool owns_;
};

void copy_in(queue_state& q, std::uint64_t pos, const void* src, std::uint64_t n) noexcept {
  const std::uint64_t first = std::min(n, q.ring_size - pos);
  std::memcpy(q.ring() + pos, src, first);
  std::memcpy(q.ring(), static_cast<const std::byte*>(src) + first, n - first);
}

void copy_out(queue_state& q, std::uint64_t pos, void* dst, std::uint64_t n) noexcept {
  const std::uint64_t first = std::min(n, q.ring_size - pos);
  std::memcpy(dst, q.ring() + pos, first);
  std::memcpy(static_cast<std::byte*>(dst) + first, q.ring(), n - first);
}

std::uint64_t advance(const queue_state& q, std::uint64_t pos, std::uint64_t n) noexcept {
  return (pos + n) % q.ring_size;
}

// Under the lock.
bool has_room(const queue_state& q, std::size_t n) noexcept {
  return q.count.load(std::memory_order_relaxed) < q.capacity_items && q.payload + n <= q.capacity_bytes;
}

void put(queue_state& q, const item_bytes& item) noexcept {
  const std::uint64_t n = item.size();
  copy_in(q, q.tail, &n, length_bytes);
  copy_in(q, advance(q, q.tail, length_bytes), item.data(), n);
  q.tail = advance(q, q.tail, length_bytes + n);
  q.payload += n;
  q.count.fetch_add(1, std::memory_order_relaxed);
  q.not_empty_seq.fetch_add(1, std::memory_order_relaxed);
}

item_bytes take(queue_state& q) {
  std::uint64_t n = 0;
  copy_out(q, q.head, &n, length_bytes);
  item_bytes item(n);  // may throw bad_alloc: nothing changed yet
  copy_out(q, advance(q, q.head, length_bytes), item.data(), n);
  q.head = advance(q, q.head, length_bytes + n);
  q.payload -= n;
  q.count.fetch_sub(1, std::memory_order_relaxed);
  q.not_full_seq.fetch_add(1, std::memory_order_relaxed);
  return item;
}

// After the lock is released: wake those who may go on now. Read with a
// read-modify-write, ordered against the sleeper's increment: either we
// see it here, or the sleeper sees the word we bumped and does not sleep.
void after_push(queue_state& q) noexcept {
  if (q.empty_sleepers.fetch_add(0, std::memory_order_acq_rel) > 0) wake_all(q.not_empty_seq);
}
void after_pop(queue_state& q) noexcept {
  if (q.full_sleepers.fetch_add(0, std::memory_order_acq_rel) > 0) wake_all(q.not_full_seq);
}

enum class outcome { done, must_wait, closed, busy };

outcome attempt_push(queue_state& q, const item_bytes& item, locked& l) {
  if (!l.owns()) return outcome::busy;
  if (q.closed.load(std::memory_order_relaxed)) return outcome::closed;
  if (!has_room(q, item.size())) return outcome::must_wait;
  put(q, item);
  l.unlock();
  after_push(q);
  return outcome::done;
}

outcome attempt_pop(queue_state& q, std::optional<item_bytes>& out, locked& l) {
  if (!l.owns()) return outcome::busy;
  if (q.count.load(std::memory_order_relaxed) == 0)
    return q.closed.load(std::memory_order_relaxed) ? outcome::closed : outcome::must_wait;
  out = take(q);
  l.unlock();
  after_pop(q);
  return outcome::done;
}

[[noreturn]] void throw_closed() { throw weft::channel_closed("weft::ipc::process_queue: push to a closed queue"); }

enum class waiting_for { room, item };

// Sleeps until the condition may hold: the lock is taken and released once
// per round, the futex word is sampled under it. True when the condition
// held (or the queue is closed) at the last look; false at the deadline or
// once `token` is abandoned. `n`: the item's size when waiting for room.
bool wait_until(queue_state& q, waiting_for what, std::size_t n, const wait_token* token,
                weft::clock::time_point deadline) {
  for (;;) {
    locked l(q, token, deadline);
    if (!l.owns()) return false;  // abandoned, or the deadline passed, while waiting for the lock
    if (q.closed.load(std::memory_order_relaxed)) return true;
    const bool ready = what == waiting_for::room ? has_room(q, n) : q.count.load(std::memory_order_relaxed) > 0;
    if (ready) return true;
    auto& word = what == waiting_for::room ? q.not_full_seq : q.not_empty_seq;
    auto& sleepers = what == waiting_for::room ? q.full_sleepers : q.empty_sleepers;
    const std::uint32_t seen = word.load(std::memory_order_relaxed);
    l.unlock();
    if (spin_while_equal(word, seen)) continue;  // it changed meanwhile: look again, no system call
    sleepers.fetch_add(1, std::memory_order_acq_rel);
    const auto now = weft::clock::now();
    if (now >= deadline) {
      sleepers.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    futex_wait(word, seen, std::min<weft::clock::duration>(poll_interval, deadline - now));
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    if (token && token->abandoned_now()) return false;
  }
}

/// What a timed blocking_push/pop throws when its deadline passes.
[[noreturn]] void throw_timed_out(const char* op, const char* what, weft::clock::duration timeout) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  throw weft::timeout_error("weft::ipc::process_queue::" + std::string(op) + ": no " + what + " within " +
                            std::to_string(ms) + " ms");
}

}  // namespace

shared_ref queue_core::create(std::size_t capacity_items, std::size_t capacity_bytes, std::uint64_t type_tag) {
  if (capacity_items == 0 || capacity_bytes == 0)
    throw std::invalid_argument("weft::ipc::process_queue: capacity_items and capacity_bytes must be at least 1 (got " +
                                std::to_string(capacity_items) + " and " + std::to_string(capacity_bytes) + ")");
  constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max() / 4;
  if (capacity_items > most / length_bytes || capacity_bytes > most)
    throw std::invalid_argument("weft::ipc::process_queue: capacity of " + std::to_string(capacity_items) +
                                " items and " + std::to_string(capacity_bytes) + " bytes is too large");
  const std::uint64_t ring = capacity_bytes + capacity_items * length_bytes;
  shared_ref r(allocate_block(block_kind::queue, type_tag, sizeof(queue_state) + ring, alignof(queue_state)));
  auto* q = ::new (r.object<queue_state>()) queue_state{};
  q->capacity_items = capacity_items;
  q->capacity_bytes = capacity_bytes;
  q->ring_size = ring;
  q->type_tag = type_tag;
  return r;
}

weft::task<void> queue_core::push(shared_ref ref, item_bytes item, std::exception_ptr error) {
  if (error) std::rethrow_exception(error);
  queue_state& q = state_of(ref);
  for (;;) {
    {
      locked l(q, std::try_to_lock);
      switch (attempt_push(q, item, l)) {
        case outcome::done: co_return;
        case outcome::closed: throw_closed();
        case outcome::must_wait:
        case outcome::busy: break;
      }
    }
    const std::size_t n = item.size();
    auto wait = [ref, n](const wait_token& token, weft::clock::time_point deadline) {
      return wait_until(*ref.object<queue_state>(), waiting_for::room, n, &token, deadline);
    };
    co_await wait_on_pool(wait, [] {});  // then look again, whatever it saw
  }
}

weft::task<std::optional<item_bytes>> queue_core::pop(shared_ref ref) {
  queue_state& q = state_of(ref);
  for (;;) {
    {
      std::optional<item_bytes> out;
      locked l(q, std::try_to_lock);
      switch (attempt_pop(q, out, l)) {
        case outcome::done: co_return std::move(out);
        case outcome::closed: co_return std::nullopt;
        case outcome::must_wait:
        case outcome::busy: break;
      }
    }
    auto wait = [ref](const wait_token& token, weft::clock::time_point deadline) {
      return wait_until(*ref.object<queue_state>(), waiting_for::item, 0, &token, deadline);
    };
    co_await wait_on_pool(wait, [] {});  // then look again, whatever it saw
  }
}

void queue_core::blocking_push(const shared_ref& ref, const item_bytes& item, weft::clock::time_point deadline,
                               weft::clock::duration timeout) {
  queue_state& q = state_of(ref);
  weft::detail::check_may_block("weft::ipc::process_queue::blocking_push");
  for (;;) {
    {
      locked l(q, nullptr, deadline);
      if (!l.owns()) throw_timed_out("blocking_push", "room", timeout);
      switch (attempt_push(q, item, l)) {
        case outcome::done: return;
        case outcome::closed: throw_closed();
        case outcome::must_wait:
        case outcome::busy: break;
      }
    }
    if (!wait_until(q, waiting_for::room, item.size(), nullptr, deadline))
      throw_timed_out("blocking_push", "room", timeout);
  }
}

std::optional<item_bytes> queue_core::blocking_pop(const shared_ref& ref, weft::clock::time_point deadline,
                                                   weft::clock::duration timeout) {
  queue_state& q = state_of(ref);
  weft::detail::check_may_block("weft::ipc::process_queue::blocking_pop");
  for (;;) {
    {
      std::optional<item_bytes> out;
      locked l(q, nullptr, deadline);
      if (!l.owns()) throw_timed_out("blocking_pop", "item", timeout);
      switch (attempt_pop(q, out, l)) {
        case outcome::done: return out;
        case outcome::closed: return std::nullopt;
        case outcome::must_wait:
        case outcome::busy: break;
      }
    }
    if (!wait_until(q, waiting_for::item, 0, nullptr, deadline)) throw_timed_out("blocking_pop", "item", timeout);
  }
}

bool queue_core::try_push(const shared_ref& ref, const item_bytes& item) {
  queue_state& q = state_of(ref);
  locked l(q, nullptr);
  switch (attempt_push(q, item, l)) {
    case outcome::done: return true;
    case outcome::closed: throw_closed();
    default: return false;
  }
}

std::optional<item_bytes> queue_core::try_pop(const shared_ref& ref) {
  queue_state& q = state_of(ref);
  std::optional<item_bytes> out;
  locked l(q, nullptr);
  attempt_pop(q, out, l);
  return out;
}

void queue_core::close(const shared_ref& ref) {
  queue_state& q = state_of(ref);
  {
    locked l(q, nullptr);
    q.closed.store(1, std::memory_order_relaxed);
    q.not_empty_seq.fetch_add(1, std::memory_order_relaxed);
    q.not_full_seq.fetch_add(1, std::memory_order_relaxed);
  }
  wake_all(q.not_empty_seq);
  wake_all(q.not_full_seq);
}

bool queue_core::closed(const shared_ref& ref) { return state_of(ref).closed.load(std::memory_order_relaxed) != 0; }

std::size_t queue_core::size(const shared_ref& ref) {
  return static_cast<std::size_t>(state_of(ref).count.load(std::memory_order_relaxed));
}

std::size_t queue_core::capacity_items(const shared_ref& ref) {
  return static_cast<std::size_t>(state_of(ref).capacity_items);
}

std::size_t queue_core::capacity_bytes(const shared_ref& ref) {
  return static_cast<std::size_t>(state_of(ref).capacity_bytes);
}

}  // namespace weft::ipc::detail
