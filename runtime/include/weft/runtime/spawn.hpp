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
//
// Cancellation: a plain `co_await h` that is cancelled (its awaiting task
// is) throws operation_cancelled and leaves the awaited task running: the
// handle still has it. A handle awaited as an rvalue (a temporary such as
// `co_await weft::spawn(t)`, or `co_await std::move(h)`) is cancelled with
// its waiter, since no handle is left to reach it. But a handle given to weft::with_timeout,
// weft::with_deadline or weft::when_any is cancelled when they give up on
// it: at the deadline, for a when_any loser, or when the task awaiting them
// is cancelled. That holds for a handle passed by value (std::move(h)) and
// for one passed as an lvalue the caller keeps (`with_timeout(1s, h)`); the
// task is cancelled as by h.cancel() (a process-pool call's worker is
// killed), they stop waiting at once rather than until it has ended (a
// running spawn_blocking job cannot be interrupted), and whatever the task
// then ends with is never reported as an unhandled exception: its outcome
// was given up on. A kept handle can still be awaited afterwards for that
// outcome (usually operation_cancelled); after a with_timeout that returned
// the result, the handle is joined, as after `co_await h`.
//
// Shutdown: a task still unfinished when its runtime shuts down is
// destroyed and counted in the runtime's one-line report on stderr (see
// runtime_options::report_unfinished), unless it is a service task
// (detail::spawn_service, for the runtime's own machinery and its
// libraries') or was spawned from one.
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
  static std::exception_ptr error(task_header* h) noexcept { return static_cast<task_cell<T>*>(h)->res.error(); }
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
    /// cancel_on_give_up: a wait that ends without the result (the awaiting
    /// task was cancelled) cancels the awaited task too and keeps its
    /// outcome from being reported (with_timeout and when_any on handles).
    explicit awaiter(detail::task_cell<T>* c, bool cancel_on_give_up = false) noexcept
        : join_listener{&on_complete}, stop_callback{&on_stop}, cell_(c), cancel_on_give_up_(cancel_on_give_up) {}
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
      if (!cell_->joiner.compare_exchange_strong(expected, this, std::memory_order_acq_rel) || node_.done_registering())
        return h;  // already complete
      return std::noop_coroutine();
    }

    decltype(auto) await_resume() {
      if (node_.task) node_.task->scope->remove(this);
      if (cancelled_) {
        if (cancel_on_give_up_) {
          // Quiet first, so that an end the stop brings about is never reported.
          cell_->set_flags(detail::task_header::quiet);
          cell_->root_scope.request_stop();
        }
        throw operation_cancelled{};
      }
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
    bool cancel_on_give_up_ = false;
  };

  /// Waits for the task; returns its value or rethrows its exception. If the
  /// awaiting task is cancelled meanwhile, throws operation_cancelled and the
  /// awaited task runs on (the handle still has it).
  awaiter operator co_await() & noexcept {
    assert(cell_ && "awaiting an empty join_handle");
    return awaiter{cell_};
  }
  /// A handle awaited as an rvalue — a temporary, as in
  /// `co_await weft::spawn_process(f, x)`, or std::move(h) — belongs to that
  /// wait: if the awaiting task is cancelled, the awaited task is cancelled
  /// too (nobody is left to join it) and its outcome is not reported.
  awaiter operator co_await() && noexcept {
    assert(cell_ && "awaiting an empty join_handle");
    return awaiter{cell_, true};
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
    if ((prev & detail::task_header::complete) && !(prev & detail::task_header::quiet) && cell_->res.has_error())
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

namespace detail {

/// Gives up on h's task, unless h was joined: cancels it (as h.cancel())
/// and marks it quiet, so that whatever it ends with is not reported as an
/// unhandled exception. Idempotent.
template <class T>
void give_up(join_handle<T>& h) noexcept {
  task_cell<T>* c = h.cell();
  if (!c) return;
  if (c->is_complete() && c->res.empty()) return;  // joined: its outcome was taken
  c->set_flags(task_header::quiet);
  c->root_scope.request_stop();
}

/// A handle given to with_timeout / when_any (by value): awaits it so that
/// giving up the wait cancels the task, and gives up on it when destroyed
/// unjoined (a with_timeout task dropped before it was awaited, a when_any
/// child cancelled before it started).
template <class T>
class owned_join {
 public:
  explicit owned_join(join_handle<T>&& h) noexcept : h_(std::move(h)) {}
  owned_join(owned_join&&) noexcept = default;
  owned_join& operator=(owned_join&&) = delete;
  ~owned_join() { give_up(h_); }

  typename join_handle<T>::awaiter operator co_await() noexcept {
    assert(h_.valid() && "awaiting an empty join_handle");
    return typename join_handle<T>::awaiter(h_.cell(), true);
  }

 private:
  join_handle<T> h_;
};

/// A handle the caller keeps, given to with_timeout as an lvalue: awaited
/// the same way; the caller's handle stays valid (see the Cancellation
/// paragraph above). The handle must outlive the awaiting.
template <class T>
class borrowed_join {
 public:
  explicit borrowed_join(join_handle<T>& h) noexcept : h_(&h) {}

  typename join_handle<T>::awaiter operator co_await() const noexcept {
    assert(h_->valid() && "awaiting an empty join_handle");
    return typename join_handle<T>::awaiter(h_->cell(), true);
  }

 private:
  join_handle<T>* h_;
};

/// A task that awaits an owned handle (when_any's child for a handle).
template <class T>
task<T> join_as_task(owned_join<T> j) {
  co_return co_await std::move(j);
}

template <class A>
inline constexpr bool is_join_handle_v = false;
template <class T>
inline constexpr bool is_join_handle_v<join_handle<T>> = true;

/// Spawns t detached on the current runtime as a service task: machinery
/// of the runtime or of a library on it (a process pool's reader and
/// monitors, say) rather than the program's own work. It runs and fails
/// like any detached task (its failure is reported), but when it is still
/// unfinished at shutdown it is destroyed without being counted in the
/// "tasks unfinished" report; so are the tasks it spawns (children of a
/// service task are service tasks). Throws std::logic_error outside a
/// runtime worker, as weft::spawn does.
template <class T>
void spawn_service(task<T> t) {
  runtime_impl& rt = current_runtime();
  auto* cell = make_cell(std::move(t));
  cell->set_flags(task_header::service);  // before anyone else can see the cell
  submit_cell(cell, rt);
  join_handle<T>(cell).detach();
}

}  // namespace detail

}  // namespace weft
