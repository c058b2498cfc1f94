// Exceptions the runtime itself throws out of suspension points.
#pragma once

#include <exception>
#include <stdexcept>

namespace weft {

/// Thrown by a suspension point (sleep, I/O, join, lock, channel, ...) when
/// stop was requested for the task or scope waiting in it: by
/// `join_handle::cancel()`, by `when_any` for its losers, by a failing sibling
/// in `task_scope`/`when_all`, by `with_timeout`/`when_any` giving up on a
/// join handle's task, or at runtime shutdown.
class operation_cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "weft: operation cancelled"; }
};

/// Thrown by `with_timeout` when the deadline passed before the operation ended.
class timeout_error : public std::runtime_error {
 public:
  timeout_error() : std::runtime_error("weft: operation timed out") {}
  using std::runtime_error::runtime_error;
};

/// Thrown by channel::send() when the channel is (or gets) closed, and by a
/// oneshot receiver whose sender went away without sending.
class channel_closed : public std::runtime_error {
 public:
  channel_closed() : std::runtime_error("weft: channel closed") {}
  using std::runtime_error::runtime_error;
};

}  // namespace weft
