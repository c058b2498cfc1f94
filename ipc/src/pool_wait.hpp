// Waiting on the blocking pool for something another process will do
// (private): how the task-side lock(), acquire(), push() and pop() wait
// without blocking a runtime worker thread.
//
// wait(token, deadline) runs on a blocking-pool thread: a bounded futex
// loop that returns true once it obtained what it waited for, false at the
// deadline or once the token is abandoned. Then the job claims the result
// (waiting -> claimed); if the task gave up first, the job hands back what
// it got with undo(). If the task is cancelled (a timeout, when_any,
// cancel()), it abandons the token (waiting -> abandoned) and leaves at
// once; if the job had already claimed, the task calls undo() itself.
// Exactly one of the two transitions succeeds, so nothing obtained is ever
// leaked. A job still in the pool's queue is simply taken off it.
//
// A job waits one slice (job_slice) at most, then the task starts another:
// a runtime shutting down waits for running jobs before it ends its tasks,
// so a job must never wait for long on its own.
#pragma once

#include <chrono>
#include <memory>
#include <utility>

#include "futex.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft::ipc::detail {

template <class Undo>
struct abandon_on_exit {
  std::shared_ptr<wait_token>& token;
  Undo& undo;
  weft::join_handle<bool>& job;
  bool done = false;
  ~abandon_on_exit() {
    if (done) return;
    job.cancel();
    int w = wait_token::waiting;
    if (!token->state.compare_exchange_strong(w, wait_token::abandoned, std::memory_order_acq_rel) &&
        w == wait_token::claimed)
      undo();
  }
};

inline constexpr std::chrono::milliseconds job_slice{250};

/// True once a job obtained and claimed it for this task; false when a
/// slice passed without it (call again).
template <class Wait, class Undo>
weft::task<bool> wait_on_pool(Wait wait, Undo undo) {
  auto token = std::make_shared<wait_token>();
  auto h = weft::spawn_blocking([token, wait, undo]() mutable {
    if (!wait(static_cast<const wait_token&>(*token), weft::clock::now() + job_slice)) return false;
    int w = wait_token::waiting;
    if (token->state.compare_exchange_strong(w, wait_token::claimed, std::memory_order_acq_rel)) return true;
    undo();
    return false;
  });
  abandon_on_exit<Undo> guard{token, undo, h};
  const bool got = co_await h;
  guard.done = true;  // nothing left to abandon: the job ended either way
  co_return got;
}

}  // namespace weft::ipc::detail
