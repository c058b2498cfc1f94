#include "weft/runtime/time.hpp"

#include <cstddef>
#include <stdexcept>

#include "scheduler.hpp"

namespace weft {
namespace detail {

namespace {

template <class T, class M>
T* container_of(M* member, M T::*ptr) noexcept {
  auto offset = reinterpret_cast<std::size_t>(&(static_cast<T*>(nullptr)->*ptr));
  return reinterpret_cast<T*>(reinterpret_cast<char*>(member) - offset);
}

worker& current_worker(const char* what) {
  worker* w = this_worker_ptr();
  if (!w) throw std::logic_error(std::string(what) + " used outside a weft runtime worker");
  return *w;
}

}  // namespace

void arm_timer(timer_entry* e, clock::time_point deadline) {
  worker& w = current_worker("weft timer");
  e->deadline = w.wheel().tick_for(deadline);
  w.wheel().insert(e);
}

bool disarm_timer(timer_entry* e) noexcept { return e->wheel->remove(e); }

// ---------------------------------------------------------------- sleep

bool sleep_awaiter::await_suspend(std::coroutine_handle<> h) {
  task_header* self = current_task();
  if (!self) throw std::logic_error("weft::sleep used outside a weft task");
  if (!self->scope->add(this)) {
    cancelled_ = true;
    return false;
  }
  registered_ = true;
  node_.task = self;
  if (deadline_ <= clock::now()) return false;
  self->resume_point = h;
  entry_.fire = &on_fire;
  arm_timer(&entry_, deadline_);
  // A stop requested before the entry was armed found nothing to disarm.
  if (self->scope->stop_requested() && disarm_timer(&entry_)) {
    cancelled_ = true;
    return false;
  }
  return !node_.done_registering();
}

void sleep_awaiter::await_resume() {
  if (registered_) node_.task->scope->remove(this);
  if (cancelled_) throw operation_cancelled{};
}

void sleep_awaiter::on_fire(timer_entry* e) noexcept { container_of(e, &sleep_awaiter::entry_)->node_.wake(); }

void sleep_awaiter::on_stop(stop_callback* c) noexcept {
  auto* self = static_cast<sleep_awaiter*>(c);
  // Not armed yet: the registering thread sees the stop after arming.
  if (self->entry_.state.load(std::memory_order_acquire) == timer_entry::idle) return;
  // Only the side that takes the entry off the wheel wakes the task.
  if (disarm_timer(&self->entry_)) {
    self->cancelled_ = true;
    self->node_.wake();
  }
}

// ---------------------------------------------------------------- timeout scope

void timeout_scope::enter(clock::time_point deadline) {
  task_ = current_task();
  if (!task_) throw std::logic_error("weft::with_timeout used outside a weft task");
  parent_ = task_->scope;
  if (!parent_->add(this)) throw operation_cancelled{};
  entry_.fire = &on_fire;
  try {
    arm_timer(&entry_, deadline);
  } catch (...) {
    parent_->remove(this);
    throw;
  }
  task_->scope = &child_;
  active_ = true;
}

void timeout_scope::exit() noexcept {
  if (!active_) return;
  active_ = false;
  task_->scope = parent_;
  if (!disarm_timer(&entry_) && entry_.state.load(std::memory_order_acquire) == timer_entry::fired) {
    // It fired: on_fire may still be running on the wheel's worker.
    while (!fire_done_.load(std::memory_order_acquire)) cpu_relax();
  }
  parent_->remove(this);
}

bool timeout_scope::timed_out() const noexcept {
  return fired_.load(std::memory_order_acquire) && !parent_->stop_requested();
}

void timeout_scope::on_parent_stop(stop_callback* c) noexcept { static_cast<timeout_scope*>(c)->child_.request_stop(); }

void timeout_scope::on_fire(timer_entry* e) noexcept {
  auto* self = container_of(e, &timeout_scope::entry_);
  self->fired_.store(true, std::memory_order_release);
  self->child_.request_stop();
  self->fire_done_.store(true, std::memory_order_release);  // last touch
}

}  // namespace detail

// ---------------------------------------------------------------- interval

interval::interval(clock::duration period, missed_tick behavior)
    : period_(period), behavior_(behavior), next_(clock::now()) {
  if (period <= clock::duration::zero()) throw std::invalid_argument("weft::interval: period must be positive");
}

void interval::reset() noexcept { next_ = clock::now() + period_; }

task<clock::time_point> interval::next() {
  const clock::time_point scheduled = next_;
  co_await sleep_until(scheduled);
  const clock::time_point now = clock::now();
  next_ = scheduled + period_;
  if (now > scheduled + std::chrono::milliseconds(5)) {  // missed
    switch (behavior_) {
      case missed_tick::burst: break;  // catch up: the next ticks come at once
      case missed_tick::delay: next_ = now + period_; break;
      case missed_tick::skip:
        if (next_ <= now) next_ += period_ * ((now - next_) / period_ + 1);
        break;
    }
  }
  co_return scheduled;
}

}  // namespace weft
