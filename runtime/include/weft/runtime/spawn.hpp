// weft::spawn and weft::join_handle<T>: run a task concurrently.
//
//   auto h = weft::spawn(fetch(url));   // starts on the scheduler
//   std::string body = co_await h;       // result, or the task's exception
//
// Dropping a handle (or calling detach()) lets the task run on; if it then
// fails, its exception goes to the runtime's unhandled-exception handler,
// never silently nowhere. cancel() requests stop: the task's current (or
// next) suspension point throws weft::operation_cancelled, which then
// becomes the task's outcome unless the task catches it.
//
// Awaiting a handle whose task has not started yet runs that task right
// here, on this thread (it is claimed from the run queue), which keeps
// fork-join code depth-first and cache-warm.
#pragma once

#include <atomic>
#include <cassert>
#include <coroutine>
#include <new>
#include <utility>

#include "weft/runtime/errors.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

namespace detail {

class runtime_impl;
/// The runtime of the calling thread; throws std::logic_error outside one.
runtime_impl& current_runtime();
/// Registers a new cell with rt and queues it (on the current worker when
/// it belongs to rt, else on rt's inject queue).
void submit_cell(task_header* cell, runtime_impl& rt) noexcept;
/// Reports the exception of a task nobody will join.
void report_unjoined_error(task_header* cell, std::exception_ptr e) noexcept;

template <class T>
struct cell_ops_for {
  static void abort(task_header* h) noexcept {
    static_cast<task_cell<T>*>(h)->res.set_exception(std::make_exception_ptr(operation_cancelled{}));
  }
  static void destroy(task_header* h) noexcept {
    auto* c = static_cast<task_cell<T>*>(h);
    c->~task_cell<T>();
    frame_free(c, sizeof(task_cell<T>));
  }
  static std::exception_ptr error(task_header* h) noexcept {
    return static_cast<task_cell<T>*>(h)->res.error();
  }
  static constexpr cell_ops table{&abort, &destroy, &error};
};

template <class T>
task_cell<T>* make_cell(task<T>&& t) {
  assert(t.valid() && "spawning an empty task");
  auto* cell = ::new (frame_alloc(sizeof(task_cell<T>))) task_cell<T>;  // default-init: no memset
  auto h = t.release();
  h.promise().cell_ = cell;
  cell->root = h;
  cell->resume_point = h;
  cell->ops = &cell_ops_for<T>::table;
  return cell;
}

}  // namespace detail

template <class T>
class [[nodiscard]] join_handle {
 public:
  join_handle() noexcept = default;
  explicit join_handle(detail::task_cell<T>* cell) noexcept : cell_(cell) {}
  join_handle(join_handle&& o) noexcept : cell_(std::exchange(o.cell_, nullptr)) {}
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      drop();
      cell_ = std::exchange(o.cell_, nullptr);
    }
    return *this;
  }
  join_handle(const join_handle&) = delete;
  join_handle& operator=(const join_handle&) = delete;
  ~join_handle() { drop(); }

  bool valid() const noexcept { return cell_ != nullptr; }
  /// True once the task has completed (with a value or an exception).
  bool is_finished() const noexcept { return cell_ && cell_->is_complete(); }
  /// Requests stop; the task ends with operation_cancelled at its next
  /// suspension point unless it handles it. No effect once finished.
  void cancel() noexcept {
    if (cell_) cell_->root_scope.request_stop();
  }
  /// Lets the task run on without a handle. Its failure is reported to the
  /// runtime's unhandled-exception handler.
  void detach() noexcept { drop(); }

  class awaiter : detail::join_listener, detail::stop_callback {
   public:
    explicit awaiter(detail::task_cell<T>* c) noexcept
        : join_listener{&on_complete}, stop_callback{&on_stop}, cell_(c) {}
    awaiter(const awaiter&) = delete;
    ~awaiter() {
      // Destroyed while still registered (its frame destroyed at shutdown).
      detail::join_listener* expected = this;
      if (node_.task && cell_->joiner.load(std::memory_order_relaxed) == this)
        cell_->joiner.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
    }

    bool await_ready() const noexcept { return cell_->is_complete(); }

    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
      detail::task_header* self = detail::current_task();
      assert(self && "join_handle awaited outside a weft task");
      self->resume_point = h;
      node_.task = self;
      if (!self->scope->add(this)) {
        cancelled_ = true;
        return h;
      }
      if (cell_->try_start()) {
        // Not started yet: run it inline, with us as its joiner.
        inline_ = true;
        cell_->joiner.store(this, std::memory_order_release);
        if (cell_->root_scope.stop_requested()) return detail::abort_unstarted(cell_);
        return detail::hand_off(cell_);
      }
      detail::join_listener* expected = nullptr;
      if (!cell_->joiner.compare_exchange_strong(expected, this, std::memory_order_acq_rel) ||
          node_.done_registering())
        return h;  // already complete
      return std::noop_coroutine();
    }

    decltype(auto) await_resume() {
      if (node_.task) node_.task->scope->remove(this);
      if (cancelled_) throw operation_cancelled{};
      return detail::consume(cell_->res);
    }

   private:
    static detail::task_header* on_complete(detail::join_listener* l) noexcept {
      auto* a = static_cast<awaiter*>(l);
      // Run inline, this awaiter was never racing a registration: whoever
      // takes the joiner word (completion or on_stop) is the only waker.
      if (a->inline_) return a->node_.task;
      return a->node_.complete() ? a->node_.task : nullptr;
    }
    static void on_stop(detail::stop_callback* c) noexcept {
      auto* a = static_cast<awaiter*>(c);
      detail::join_listener* expected = a;
      if (a->cell_->joiner.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) {
        a->cancelled_ = true;
        if (a->inline_) detail::schedule_wake(a->node_.task);
        else a->node_.wake();
      }
    }

    detail::task_cell<T>* cell_;
    detail::wait_node node_;
    bool cancelled_ = false;
    bool inline_ = false;  // we run the task ourselves (claimed before it started)
  };

  /// Waits for the task; returns its value or rethrows its exception. If the
  /// awaiting task is cancelled meanwhile, throws operation_cancelled and the
  /// awaited task runs on.
  awaiter operator co_await() noexcept {
    assert(cell_ && "awaiting an empty join_handle");
    return awaiter{cell_};
  }

  detail::task_cell<T>* cell() const noexcept { return cell_; }

 private:
  void drop() noexcept {
    if (!cell_) return;
    if (cell_->is_complete() && cell_->res.empty()) {  // joined: the usual case
      std::exchange(cell_, nullptr)->drop_consumed_handle();
      return;
    }
    auto prev = cell_->set_flags(detail::task_header::handle_dropped);
    if ((prev & detail::task_header::complete) && cell_->res.has_error())
      detail::report_unjoined_error(cell_, cell_->res.error());
    std::exchange(cell_, nullptr)->release();
  }

  detail::task_cell<T>* cell_ = nullptr;
};

/// Runs `t` concurrently on the current runtime's scheduler.
/// Throws std::logic_error when called outside a runtime (use runtime::spawn).
template <class T>
join_handle<T> spawn(task<T> t) {
  detail::runtime_impl& rt = detail::current_runtime();
  auto* cell = detail::make_cell(std::move(t));
  detail::submit_cell(cell, rt);
  return join_handle<T>(cell);
}

}  // namespace weft
