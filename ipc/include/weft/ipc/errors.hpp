// The exceptions of the process backend.
//
//   try { co_await weft::spawn_process(parse, page); }
//   catch (const weft::ipc::remote_error& e) { e.type_name(); e.message(); }
//   catch (const weft::ipc::worker_crashed& e) { e.signal(); e.exit_code(); }
//
// A task's own exception cannot cross a process boundary as an object (its
// type may hold pointers into the worker's memory), so it arrives as a
// remote_error that keeps the original type's name and what(). A worker that
// dies mid-task fails that task with worker_crashed. A task past its
// timeout fails with weft::timeout_error, a cancelled one with
// weft::operation_cancelled (weft/runtime/errors.hpp).
#pragma once

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>

namespace weft::ipc {

/// An exception thrown by the function in the worker process.
class remote_error : public std::runtime_error {
 public:
  remote_error(std::string type_name, std::string message);
  /// The demangled type of the original exception ("std::out_of_range").
  const std::string& type_name() const noexcept { return type_; }
  /// The original what().
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_;
  std::string message_;
};

/// The worker process running the task died: killed by a signal (a crash,
/// the OOM killer, kill -9) or exited (the function called exit()).
class worker_crashed : public std::runtime_error {
 public:
  /// status as from waitpid(); pid of the worker.
  worker_crashed(int pid, int status);
  int pid() const noexcept { return pid_; }
  /// The signal that killed it, or 0 if it exited.
  int signal() const noexcept { return signal_; }
  /// Its exit code if it exited, or -1 if a signal killed it.
  int exit_code() const noexcept { return exit_code_; }

 protected:
  worker_crashed(int pid, std::string message);

 private:
  int pid_;
  int signal_;
  int exit_code_;
};

/// A worker process wrote something into the memory it shares with the
/// pool that cannot be a real result: an offset or size outside its
/// mapping, an unknown result kind, a sequence number out of order. The
/// pool trusts nothing a worker writes: the call fails with this, the
/// worker is killed and replaced, and the parent reads nothing out of
/// bounds. A worker_crashed, since for the caller it is the same: its
/// worker cannot be trusted to have run the task.
class protocol_error : public worker_crashed {
 public:
  protocol_error(int pid, const std::string& what);
};

/// Arguments or a result that cannot travel: larger than the pool's arena
/// (process_pool_options::arena_size), or refused by a serializer.
class serialization_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The pool cannot take the task: it was shut down, or it cannot start
/// workers (the fork server is gone, fork failed).
class pool_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The shared heap (the memory every shared object lives in) has no room
/// left. Its size is fixed when it is first mapped: 1024 MiB unless the
/// environment variable WEFT_SHARED_HEAP_MB says otherwise. A bad_alloc, so
/// code that handles running out of memory handles this too.
class shared_heap_exhausted : public std::bad_alloc {
 public:
  shared_heap_exhausted(std::size_t requested, std::size_t heap_size) noexcept;
  const char* what() const noexcept override { return message_; }
  /// Bytes the failed allocation asked for.
  std::size_t requested() const noexcept { return requested_; }

 private:
  std::size_t requested_;
  char message_[200];  // bad_alloc's copy must not throw: no std::string
};

/// A process died while it held the internal lock of a shared object whose
/// state cannot be repaired by the user (a process_queue): the object may
/// be half-updated, so every later use of it throws this.
class owner_died_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The demangled name of an exception's dynamic type.
std::string exception_type_name(const std::exception& e);

}  // namespace weft::ipc
