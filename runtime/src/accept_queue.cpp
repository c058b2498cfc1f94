// ops::accept_queue: a multishot accept on io_uring.
//
// The state outlives both of its users: the queue object (the listener's)
// and the armed submission, whose final CQE may come on another thread
// after the listener is gone. Each holds a reference; the last one out
// deletes it. One task at a time may wait on the queue; a CQE that finds
// it waiting hands it the connection directly.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <mutex>
#include <stdexcept>

#include "scheduler.hpp"
#include "uring_driver.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/ops.hpp"

namespace weft::detail {

namespace {
constexpr std::size_t pause_at = 16;  // accepted but not taken: stop accepting
}

class accept_wait;

class accept_state final : public uring_completion {
 public:
  explicit accept_state(int fd) noexcept : uring_completion{&on_cqe, &on_drain}, fd_(fd) {}

  std::mutex mu;
  std::deque<int> ready;  // accepted fds, or -errno for the waiter
  accept_wait* waiter = nullptr;
  int fd_;
  int refs = 1;  // the queue object
  bool armed = false;
  bool paused = false;  // we cancelled it ourselves (too many untaken)
  bool closed = false;
  uring_driver* drv = nullptr;
  std::uint64_t tag = 0;

  /// Arms the multishot accept on `d` (the caller's own driver). Lock held.
  void arm(uring_driver& d) {
    io_uring_sqe* sqe = d.get_sqe();
    io_uring_prep_multishot_accept(sqe, fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    tag = d.track(sqe, this);
    drv = &d;
    armed = true;
    paused = false;
    ++refs;
  }

  /// Drops a reference; true if it was the last (the caller deletes).
  bool unref_locked() noexcept { return --refs == 0; }

 private:
  static void on_cqe(uring_completion* c, int res, unsigned flags) noexcept;
  static void on_drain(uring_completion* c, int res, unsigned flags) noexcept;
};

class accept_wait final : stop_callback {
 public:
  accept_wait(accept_state& st, uring_driver& drv) noexcept : stop_callback{&on_stop}, st_(st), drv_(drv) {}
  accept_wait(const accept_wait&) = delete;
  ~accept_wait() {
    // Destroyed while still waiting (the task's frame torn down at
    // shutdown): the state must not grant to it any more.
    if (waiting_) {
      std::lock_guard lock(st_.mu);
      if (st_.waiter == this) st_.waiter = nullptr;
    }
  }

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> h) {
    self_ = current_task();
    if (self_->scope->stop_requested()) {
      res_ = -ECANCELED;
      return false;
    }
    {
      std::lock_guard lock(st_.mu);
      if (!st_.ready.empty()) {
        res_ = st_.ready.front();
        st_.ready.pop_front();
        return false;
      }
      if (st_.waiter || st_.closed) {
        fallback_ = true;  // someone else waits here: a plain accept
        return false;
      }
      if (!st_.armed) {
        try {
          st_.arm(drv_);
        } catch (...) {
          fallback_ = true;
          return false;
        }
      }
      st_.waiter = this;
      waiting_ = true;
      self_->resume_point = h;
      node_.task = self_;
    }
    if (self_->scope->add(this)) {
      registered_ = true;
    } else {
      std::lock_guard lock(st_.mu);
      if (st_.waiter == this) {  // stopped meanwhile, and not granted
        st_.waiter = nullptr;
        waiting_ = false;
        res_ = -ECANCELED;
        return false;
      }
    }
    return !node_.done_registering();
  }

  int await_resume() {
    if (registered_) self_->scope->remove(this);
    if (res_ == -ECANCELED && self_->scope->stop_requested()) throw operation_cancelled{};
    return res_;
  }

  bool fallback() const noexcept { return fallback_; }

  /// The state hands over a result (lock held); wake() after unlocking.
  void grant(int res) noexcept {
    res_ = res;
    waiting_ = false;
  }
  void wake() noexcept { node_.wake(); }
  /// The runtime is shutting down (lock held): never woken, not waiting.
  void abandon() noexcept { waiting_ = false; }

 private:
  static void on_stop(stop_callback* c) noexcept {
    auto* self = static_cast<accept_wait*>(c);
    {
      std::lock_guard lock(self->st_.mu);
      if (self->st_.waiter != self) return;  // already granted
      self->st_.waiter = nullptr;
      self->grant(-ECANCELED);
    }
    self->wake();
  }

  accept_state& st_;
  uring_driver& drv_;
  task_header* self_ = nullptr;
  wait_node node_;
  int res_ = 0;
  bool registered_ = false;
  bool waiting_ = false;
  bool fallback_ = false;
};

void accept_state::on_cqe(uring_completion* c, int res, unsigned flags) noexcept {
  auto* st = static_cast<accept_state*>(c);
  accept_wait* wake = nullptr;
  bool last = false;
  {
    std::lock_guard lock(st->mu);
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) {
      st->armed = false;
      last = st->unref_locked();
    }
    if (res >= 0) {
      if (st->closed) ::close(res);
      else st->ready.push_back(res);
    } else if (st->waiter && !(res == -ECANCELED && st->paused)) {
      // EMFILE and friends, or a cancel (ops::cancel, the listener
      // closing): the waiter learns of it; with no waiter it is moot, the
      // next accept re-arms and sees the current state.
      st->ready.push_back(res);
    }
    if (!more && st->waiter && st->ready.empty() && !st->closed) {
      // It ended (our own pause, say) with someone waiting and nothing to
      // give: the waiter re-arms from its own task. (Not here: arming may
      // need to reap, and we are inside a reap.)
      st->ready.push_back(-EAGAIN);
    }
    if (st->waiter && !st->ready.empty()) {
      wake = st->waiter;
      st->waiter = nullptr;
      wake->grant(st->ready.front());
      st->ready.pop_front();
    }
    if (st->armed && !st->paused && st->ready.size() >= pause_at) {
      st->paused = true;
      st->drv->cancel(st->tag);
    }
  }
  if (wake) wake->wake();
  if (last) delete st;
}

void accept_state::on_drain(uring_completion* c, int res, unsigned flags) noexcept {
  auto* st = static_cast<accept_state*>(c);
  bool last = false;
  {
    std::lock_guard lock(st->mu);
    if (res >= 0) ::close(res);
    if (st->waiter) {
      st->waiter->abandon();
      st->waiter = nullptr;
    }
    if (!(flags & IORING_CQE_F_MORE)) {
      st->armed = false;
      last = st->unref_locked();
    }
  }
  if (last) delete st;
}

}  // namespace weft::detail

namespace weft::ops {

task<int> accept_queue::next() {
  detail::worker* w = detail::this_worker_ptr();
  if (!w || !detail::current_task()) throw std::logic_error("weft::ops used outside a weft task");
  if (w->drv().backend() != io_backend::io_uring) co_return co_await accept(fd_);
  if (!st_) st_ = new detail::accept_state(fd_);
  for (;;) {
    auto& drv = static_cast<detail::uring_driver&>(detail::this_worker_ptr()->drv());
    detail::accept_wait wait(*st_, drv);
    int r = co_await wait;
    if (wait.fallback()) co_return co_await accept(fd_);
    if (r != -EAGAIN) co_return r;  // -EAGAIN: the multishot ended idle; arm again
  }
}

void accept_queue::reset() noexcept {
  if (!st_) return;
  detail::accept_state* st = std::exchange(st_, nullptr);
  detail::accept_wait* waiter = nullptr;
  bool last;
  {
    std::lock_guard lock(st->mu);
    st->closed = true;
    if (st->waiter) {  // a task waits in next(): it ends with ECANCELED
      waiter = std::exchange(st->waiter, nullptr);
      waiter->grant(-ECANCELED);
    }
    for (int fd : st->ready)
      if (fd >= 0) ::close(fd);
    st->ready.clear();
    if (st->armed && !st->paused) {
      st->paused = true;  // its final -ECANCELED is ours, not a result
      st->drv->cancel(st->tag);
    }
    last = st->unref_locked();
  }
  if (waiter) waiter->wake();
  if (last) delete st;
}

}  // namespace weft::ops
