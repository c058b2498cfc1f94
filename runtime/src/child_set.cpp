#include "weft/runtime/detail/child_set.hpp"

namespace weft::detail {

child_set::~child_set() {
  // Normally every child has finished (the wait returned). If the set is
  // destroyed without waiting (its owner was destroyed at shutdown, say),
  // cancel the children and let them run on detached.
  const std::size_t token = waiting_ ? 0 : 1;
  if (remaining_.load(std::memory_order_acquire) > token) cancel_all();
  // No child is spawned any more, so children_ stays as it is: the lock is
  // not needed to read it, and must not be held while waiting below.
  for (child& c : children_) {
    join_listener* expected = &c;
    if (c.cell->joiner.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel))
      remaining_.fetch_sub(1, std::memory_order_acq_rel);  // it will never notify us
  }
  // A child that is notifying right now touches the set until its decrement,
  // and may first take mu_ in cancel_all() (its failure, or the winner of
  // `any`): holding mu_ here would deadlock with it.
  while (remaining_.load(std::memory_order_acquire) > token) cpu_relax();
  for (child& c : children_) {
    c.cell->set_flags(task_header::handle_dropped);
    c.cell->release();
  }
}

void child_set::cancel_all() noexcept {
  cancelling_.store(true, std::memory_order_release);
  std::lock_guard lock(mu_);
  for (child& c : children_) c.cell->root_scope.request_stop();
}

task_header* child_set::on_child_done(join_listener* l) noexcept {
  auto* c = static_cast<child*>(l);
  child_set* s = c->set;
  switch (s->policy_) {
    case policy::all:
    case policy::scope:
      if (std::exception_ptr err = c->cell->ops->error(c->cell);
          err && !s->decided_.exchange(true, std::memory_order_acq_rel)) {
        s->first_error_ = std::move(err);
        s->cancel_all();
      }
      break;
    case policy::any:
      if (!s->decided_.exchange(true, std::memory_order_acq_rel)) {
        s->winner_ = c->index;
        s->cancel_all();
      }
      break;
  }
  // After this decrement the parent may resume and destroy the set, unless
  // it was the last one: then the parent is ours to run.
  if (s->remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) return s->parent_;
  return nullptr;
}

void child_set::on_parent_stop(stop_callback* cb) noexcept { static_cast<child_set*>(cb)->cancel_all(); }

bool child_set::begin_wait(std::coroutine_handle<> h) noexcept {
  parent_ = current_task();
  assert(parent_ && "waiting for children outside a weft task");
  parent_->resume_point = h;
  waiting_ = true;
  registered_ = parent_->scope->add(this);
  if (!registered_) cancel_all();  // the parent is already being stopped
  // Drop the wait token: if it was the last count, everyone has finished.
  return remaining_.fetch_sub(1, std::memory_order_acq_rel) != 1;
}

void child_set::end_wait() noexcept {
  if (registered_) parent_->scope->remove(this);
  registered_ = false;
}

}  // namespace weft::detail
