#include "weft/ipc/condition_variable.hpp"

#include <algorithm>
#include <climits>
#include <exception>
#include <stdexcept>
#include <string>

#include "futex.hpp"
#include "pool_wait.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/time.hpp"

namespace weft::ipc {

namespace detail {

// `seq` is the futex word: notify_one() and notify_all() add one to it and
// wake one or all of its sleepers. A waiter reads it before it unlocks the
// mutex and waits until it differs, so a notify made after the unlock is
// never missed, whether the waiter was asleep then or not. (It would have
// to go round 2^32 times between two of a waiter's looks to go unseen.)
// `sleepers` lets a notify skip the wake-up system call when nobody
// sleeps; a waiter killed asleep leaves it counted, which only costs
// notifies that call.
struct condition_state {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> sleepers{0};
};

namespace {

// True once a notify came after `seen`; false at the deadline or once the
// token is abandoned. The counter is checked first: a waiter woken by a
// futex wake always sees the notify that sent it, and reports it.
bool wait_notify(condition_state& s, std::uint32_t seen, const wait_token* token,
                 weft::clock::time_point deadline) noexcept {
  for (;;) {
    if (s.seq.load(std::memory_order_acquire) != seen) return true;
    if (token && token->abandoned_now()) return false;
    const auto now = weft::clock::now();
    if (now >= deadline) return false;
    s.sleepers.fetch_add(1, std::memory_order_seq_cst);
    futex_wait(s.seq, seen, std::min<weft::clock::duration>(poll_interval, deadline - now));
    s.sleepers.fetch_sub(1, std::memory_order_relaxed);
  }
}

void notify(condition_state& s, int n) noexcept {
  s.seq.fetch_add(1, std::memory_order_seq_cst);
  // A read-modify-write, ordered against the sleeper's increment: either we
  // see it here, or its futex wait sees the new counter and returns.
  if (s.sleepers.fetch_add(0, std::memory_order_seq_cst) > 0) futex_wake(s.seq, n);
}

// Runs one await with the task's cancellation held off: the awaits inside
// register with a scope of their own that nobody stops. A stop requested
// meanwhile stays recorded in the task's scope, for its next suspension
// point (or for the caller, which knows it was cancelled). How wait()
// relocks the mutex after a cancellation, as weft::condition_variable's
// uncancellable relock does.
class stop_shield {
 public:
  stop_shield() noexcept : task_(weft::detail::current_task()) {
    if (task_) {
      saved_ = task_->scope;
      task_->scope = &own_;
    }
  }
  ~stop_shield() {
    // Unless the frame is being destroyed at shutdown, after an enclosing
    // with_timeout already put its own scope back.
    if (task_ && task_->scope == &own_) task_->scope = saved_;
  }
  stop_shield(const stop_shield&) = delete;
  stop_shield& operator=(const stop_shield&) = delete;

 private:
  weft::detail::task_header* task_;
  weft::detail::stop_scope* saved_ = nullptr;
  weft::detail::stop_scope own_;
};

}  // namespace
}  // namespace detail

namespace {

detail::condition_state& state_of(const detail::shared_ref& r) {
  if (!r) throw std::logic_error(detail::no_object_message);
  return *r.object<detail::condition_state>();
}

}  // namespace

condition_variable::condition_variable()
    : ref_(
          detail::allocate_block(kind, type_tag(), sizeof(detail::condition_state), alignof(detail::condition_state))) {
  ::new (ref_.object<detail::condition_state>()) detail::condition_state{};
}

detail::condition_state& condition_variable::state() const { return state_of(ref_); }

void condition_variable::notify_one() const { detail::notify(state(), 1); }

void condition_variable::notify_all() const { detail::notify(state(), INT_MAX); }

namespace {

void check_guard(const lock_guard& g, pid_t locker, const char* what) {
  if (!g.owns_lock() || locker != detail::current_pid())
    throw std::logic_error(std::string(what) + ": the guard does not hold its weft::ipc::mutex in this process");
}

}  // namespace

weft::task<bool> condition_variable::wait_task_(detail::shared_ref ref, lock_guard& g,
                                                std::chrono::steady_clock::time_point deadline) {
  check_guard(g, g.locker_,
              deadline == std::chrono::steady_clock::time_point::max() ? "weft::ipc::condition_variable::wait"
                                                                       : "weft::ipc::condition_variable::wait_for");
  detail::condition_state& s = *ref.object<detail::condition_state>();
  const std::uint32_t seen = s.seq.load(std::memory_order_acquire);
  const mutex m = detail::handle_access::make<mutex>(detail::shared_ref(g.ref_));
  g.unlock();

  bool notified = false;
  std::exception_ptr error;  // operation_cancelled, mostly: rethrown once the lock is back
  try {
    auto wait = [ref, seen, deadline](const detail::wait_token& token, weft::clock::time_point slice_end) {
      return detail::wait_notify(*ref.object<detail::condition_state>(), seen, &token, std::min(slice_end, deadline));
    };
    // The job saw a notify its task no longer wants: it may have been the
    // one a notify_one woke, so wake another.
    auto undo = [ref]() noexcept { detail::futex_wake(ref.object<detail::condition_state>()->seq, 1); };
    for (;;) {
      if (co_await detail::wait_on_pool(wait, undo)) {
        notified = true;
        break;
      }
      if (weft::clock::now() >= deadline) {
        notified = s.seq.load(std::memory_order_acquire) != seen;
        break;
      }
    }
  } catch (...) {
    error = std::current_exception();
  }
  {
    detail::stop_shield shield;
    g = co_await m.lock();
  }
  if (error) std::rethrow_exception(error);
  co_return notified;
}

weft::task<void> condition_variable::wait_forever_task_(detail::shared_ref ref, lock_guard& g) {
  co_await wait_task_(std::move(ref), g, std::chrono::steady_clock::time_point::max());
}

weft::task<void> condition_variable::wait(lock_guard& g) const {
  state();  // an empty handle throws here, not inside the task
  return wait_forever_task_(ref_, g);
}

weft::task<bool> condition_variable::wait_until_(lock_guard& g, std::chrono::steady_clock::time_point deadline) const {
  state();
  return wait_task_(ref_, g, deadline);
}

bool condition_variable::blocking_wait_until_(lock_guard& g, std::chrono::steady_clock::time_point deadline) const {
  detail::condition_state& s = state();
  const char* what = deadline == std::chrono::steady_clock::time_point::max()
                         ? "weft::ipc::condition_variable::blocking_wait"
                         : "weft::ipc::condition_variable::blocking_wait_for";
  weft::detail::check_may_block(what);
  check_guard(g, g.locker_, what);
  const std::uint32_t seen = s.seq.load(std::memory_order_acquire);
  const mutex m = detail::handle_access::make<mutex>(detail::shared_ref(g.ref_));
  g.unlock();
  const bool notified = detail::wait_notify(s, seen, nullptr, deadline);
  g = m.blocking_lock();
  return notified;
}

void condition_variable::blocking_wait(lock_guard& g) const {
  blocking_wait_until_(g, std::chrono::steady_clock::time_point::max());
}

}  // namespace weft::ipc
