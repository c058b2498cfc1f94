#include "weft/runtime/sync/barrier.hpp"

#include <mutex>
#include <stdexcept>

namespace weft {
namespace detail {

bool barrier_state::arrive(wake_batch& release) noexcept {
  if (--remaining > 0) return false;
  while (waiter* w = waiters.pop_front()) release.grant(w);
  expected -= dropped;
  dropped = 0;
  remaining = expected;
  return true;
}

}  // namespace detail

barrier::barrier(std::ptrdiff_t participants, std::function<void()> completion)
    : st_(participants, std::move(completion)) {
  if (participants <= 0) throw std::invalid_argument("weft::barrier: participants must be positive");
}

std::exception_ptr barrier::complete_phase(detail::wake_batch& release) noexcept {
  std::exception_ptr error;
  if (st_.completion) {
    try {
      st_.completion();
    } catch (...) {
      error = std::current_exception();
    }
  }
  release.notify_all();
  return error;
}

bool barrier::arrive_awaiter::await_suspend(std::coroutine_handle<> h) {
  // Once queued, another thread may resume this task (and its frame may
  // build the next awaiter here) before suspend_task returns: after it,
  // only a local says whether we led the phase.
  bool leader = false;
  const bool suspended = suspend_task(h, "weft::barrier::arrive_and_wait", [this, &leader](detail::waiter& w) {
    leader = leader_ = b_.st_.arrive(release_);
    if (!leader) b_.st_.waiters.push_back(&w);
    return leader;
  });
  if (leader) error_ = b_.complete_phase(release_);
  return suspended;
}

bool barrier::arrive_awaiter::await_resume() {
  if (!leader_) finish_wait();
  if (error_) std::rethrow_exception(error_);
  return leader_;
}

void barrier::arrive_and_drop() {
  detail::wake_batch release;
  bool leader;
  {
    std::lock_guard lock(st_.lock);
    ++st_.dropped;
    leader = st_.arrive(release);
  }
  if (leader) {
    if (auto error = complete_phase(release)) std::rethrow_exception(error);
  }
}

bool barrier::blocking_arrive_and_wait() {
  detail::waiter w;
  detail::wake_batch release;
  bool leader = false;
  detail::block_thread(w, st_.lock, "weft::barrier::blocking_arrive_and_wait", [&](detail::waiter& me) {
    leader = st_.arrive(release);
    if (!leader) st_.waiters.push_back(&me);
    return leader;
  });
  if (leader) {
    if (auto error = complete_phase(release)) std::rethrow_exception(error);
  }
  return leader;
}

}  // namespace weft
