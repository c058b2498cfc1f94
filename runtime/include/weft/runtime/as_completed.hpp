// weft::as_completed: join a set of handles in the order they finish.
//
//   std::vector<weft::join_handle<std::size_t>> jobs;
//   for (auto& path : paths) jobs.push_back(weft::spawn_blocking(count_lines, path));
//   auto stream = weft::as_completed(std::move(jobs));
//   while (auto done = co_await stream.next()) {
//     std::size_t n = co_await done->handle;  // finished: at once, or rethrows
//     std::printf("%s: %zu lines\n", paths[done->index].c_str(), n);
//   }
//
// The concurrent.futures.as_completed pattern, for any join_handle<T>:
// spawned tasks, spawn_blocking jobs and (later) process-pool jobs, mixed
// freely. next() yields {index, handle} for the next handle to finish
// (index: its position in the input), handles that had finished already
// coming first, and std::nullopt once every handle was yielded (at once
// for an empty input). The yielded handle is finished, so awaiting it
// returns its value or rethrows that one task's exception; the others are
// unaffected.
//
// Each handle's completion is heard through the task's joiner slot (as
// when_all does), so nothing polls. One task at a time may wait in next().
//
// Cancellation: if the task waiting in next() is cancelled, next() throws
// operation_cancelled; the handles not yet yielded stay in the stream
// (call next() again later, or drop the stream). The tasks themselves are
// not cancelled: call cancel_all() for that. Destroying a stream with
// handles not yet yielded detaches them, like dropping join_handles: the
// tasks run on, and their failures go to the unhandled-exception handler.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "weft/runtime/detail/stop_scope.hpp"
#include "weft/runtime/detail/task_header.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"

namespace weft {

namespace detail {

/// The type-independent part of as_completed: one listener per cell, a
/// FIFO of finished indices, and the one waiting task.
class completion_queue {
 public:
  /// Registers as joiner of every cell (none may be null).
  explicit completion_queue(const std::vector<task_header*>& cells);
  /// Unregisters from the cells still running and waits until no listener
  /// is notifying any more. The cells themselves are not touched.
  ~completion_queue();
  completion_queue(const completion_queue&) = delete;
  completion_queue& operator=(const completion_queue&) = delete;

  /// Handles not yet yielded.
  std::size_t remaining() const noexcept;

  class wait_awaiter : stop_callback {
   public:
    explicit wait_awaiter(completion_queue& q) noexcept : stop_callback{&on_stop}, q_(q) {}
    wait_awaiter(const wait_awaiter&) = delete;
    ~wait_awaiter();
    bool await_ready() const noexcept;
    bool await_suspend(std::coroutine_handle<> h);
    /// The next finished index, or nullopt when all were yielded.
    std::optional<std::size_t> await_resume();

   private:
    static void on_stop(stop_callback* c) noexcept;
    completion_queue& q_;
    wait_node node_;
    bool cancelled_ = false;
    bool registered_ = false;
  };
  wait_awaiter wait() noexcept { return wait_awaiter{*this}; }

 private:
  struct entry : join_listener {
    entry() noexcept : join_listener{&on_done} {}
    completion_queue* q = nullptr;
    task_header* cell = nullptr;
    std::size_t index = 0;
    bool done = false;  // guarded by mu_: notified (or finished before registering)
  };
  static task_header* on_done(join_listener* l) noexcept;
  std::optional<std::size_t> pop_ready() noexcept;  // mu_ held

  mutable std::mutex mu_;
  std::unique_ptr<entry[]> entries_;
  std::size_t total_ = 0;
  std::size_t yielded_ = 0;             // guarded by mu_
  std::deque<std::size_t> ready_;       // guarded by mu_
  wait_node* waiter_ = nullptr;         // guarded by mu_: the task waiting in next()
  std::atomic<std::size_t> active_{0};  // listeners that may still touch *this
};

}  // namespace detail

/// One finished entry of an as_completed stream.
template <class T>
struct completed {
  std::size_t index;      // position in the vector given to as_completed
  join_handle<T> handle;  // finished: co_await yields at once
};

template <class T>
class as_completed_stream {
 public:
  explicit as_completed_stream(std::vector<join_handle<T>> handles) : handles_(std::move(handles)) {
    std::vector<detail::task_header*> cells;
    cells.reserve(handles_.size());
    for (auto& h : handles_) {
      if (!h.valid()) throw std::invalid_argument("weft::as_completed: empty join_handle");
      cells.push_back(h.cell());
    }
    queue_ = std::make_unique<detail::completion_queue>(cells);
  }
  as_completed_stream(as_completed_stream&&) noexcept = default;
  as_completed_stream& operator=(as_completed_stream&& o) noexcept {
    if (this != &o) {
      queue_.reset();  // stop listening before the old handles go
      handles_ = std::move(o.handles_);
      queue_ = std::move(o.queue_);
    }
    return *this;
  }
  ~as_completed_stream() { queue_.reset(); }  // then the unyielded handles detach

  /// The next handle to finish, or std::nullopt when all were yielded.
  /// Throws operation_cancelled if the awaiting task is cancelled meanwhile.
  task<std::optional<completed<T>>> next() {
    std::optional<std::size_t> i = co_await queue_->wait();
    if (!i) co_return std::nullopt;
    co_return completed<T>{*i, std::move(handles_[*i])};
  }

  /// Handles not yet yielded by next().
  std::size_t remaining() const noexcept { return queue_ ? queue_->remaining() : 0; }

  /// Requests stop for every task not yet yielded (they still come out of
  /// next(), most with operation_cancelled).
  void cancel_all() noexcept {
    for (auto& h : handles_)
      if (h.valid()) h.cancel();
  }

 private:
  std::vector<join_handle<T>> handles_;
  std::unique_ptr<detail::completion_queue> queue_;
};

/// Yields the handles in the order they finish (see the top of this file).
template <class T>
as_completed_stream<T> as_completed(std::vector<join_handle<T>> handles) {
  return as_completed_stream<T>(std::move(handles));
}

}  // namespace weft
