#include "weft/runtime/as_completed.hpp"

#include <cassert>
#include <vector>

namespace weft::detail {

completion_queue::completion_queue(const std::vector<task_header*>& cells)
    : entries_(std::make_unique<entry[]>(cells.size())), total_(cells.size()) {
  // Holding the lock while registering makes the handles that had already
  // finished come out first: a listener firing meanwhile waits for it.
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < total_; ++i) {
    entry& e = entries_[i];
    e.q = this;
    e.cell = cells[i];
    e.index = i;
    active_.fetch_add(1, std::memory_order_relaxed);
    join_listener* expected = nullptr;
    if (!e.cell->joiner.compare_exchange_strong(expected, &e, std::memory_order_acq_rel)) {
      assert(expected == listener_done && "as_completed: a handle that is being awaited elsewhere");
      active_.fetch_sub(1, std::memory_order_relaxed);
      e.done = true;
      ready_.push_back(i);
    }
  }
}

completion_queue::~completion_queue() {
  // Cells of entries not yet done are still held by the stream's handles;
  // the done ones may be gone already (yielded and dropped).
  std::vector<entry*> pending;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < total_; ++i)
      if (!entries_[i].done) pending.push_back(&entries_[i]);
  }
  for (entry* e : pending) {
    join_listener* expected = e;
    if (e->cell->joiner.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel))
      active_.fetch_sub(1, std::memory_order_acq_rel);  // it will never notify us
  }
  // A listener notifying right now touches *this until its decrement.
  while (active_.load(std::memory_order_acquire) != 0) cpu_relax();
}

std::size_t completion_queue::remaining() const noexcept {
  std::lock_guard lock(mu_);
  return total_ - yielded_;
}

task_header* completion_queue::on_done(join_listener* l) noexcept {
  auto* e = static_cast<entry*>(l);
  completion_queue* q = e->q;
  wait_node* w;
  {
    std::lock_guard lock(q->mu_);
    e->done = true;
    q->ready_.push_back(e->index);
    w = std::exchange(q->waiter_, nullptr);
  }
  task_header* next = nullptr;
  if (w) {
    task_header* t = w->task;  // read before complete(): after it w may be gone
    if (w->complete()) next = t;
  }
  q->active_.fetch_sub(1, std::memory_order_acq_rel);  // last touch of *q
  return next;
}

std::optional<std::size_t> completion_queue::pop_ready() noexcept {
  if (ready_.empty()) return std::nullopt;
  const std::size_t i = ready_.front();
  ready_.pop_front();
  ++yielded_;
  return i;
}

// ---------------------------------------------------------------- waiting

completion_queue::wait_awaiter::~wait_awaiter() {
  // Destroyed while waiting (its frame destroyed at shutdown): unhook.
  if (!registered_) return;
  std::lock_guard lock(q_.mu_);
  if (q_.waiter_ == &node_) q_.waiter_ = nullptr;
}

bool completion_queue::wait_awaiter::await_ready() const noexcept {
  std::lock_guard lock(q_.mu_);
  return !q_.ready_.empty() || q_.yielded_ == q_.total_;
}

bool completion_queue::wait_awaiter::await_suspend(std::coroutine_handle<> h) {
  task_header* self = current_task();
  if (!self) throw std::logic_error("weft::as_completed: next() awaited outside a weft task");
  node_.task = self;
  if (!self->scope->add(this)) {
    cancelled_ = true;
    return false;
  }
  registered_ = true;
  self->resume_point = h;
  {
    std::lock_guard lock(q_.mu_);
    if (!q_.ready_.empty()) return false;  // one finished meanwhile
    assert(!q_.waiter_ && "as_completed: two tasks waiting in next() at once");
    q_.waiter_ = &node_;
  }
  return !node_.done_registering();
}

std::optional<std::size_t> completion_queue::wait_awaiter::await_resume() {
  if (registered_) {
    node_.task->scope->remove(this);
    registered_ = false;
  }
  if (cancelled_) throw operation_cancelled{};
  std::lock_guard lock(q_.mu_);
  return q_.pop_ready();
}

void completion_queue::wait_awaiter::on_stop(stop_callback* c) noexcept {
  auto* a = static_cast<wait_awaiter*>(c);
  {
    std::lock_guard lock(a->q_.mu_);
    if (a->q_.waiter_ != &a->node_) return;  // a completion is waking it already
    a->q_.waiter_ = nullptr;
  }
  a->cancelled_ = true;
  a->node_.wake();
}

}  // namespace weft::detail
