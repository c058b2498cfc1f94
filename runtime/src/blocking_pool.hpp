// The blocking pool (private): an elastic set of threads running
// blocking_jobs (see weft/runtime/blocking.hpp for what users see).
//
// One mutex guards the FIFO queue (an intrusive list, so a cancelled job
// comes off in O(1)) and the thread counts. A job submitted when no thread
// is idle starts a new thread, up to max_threads; otherwise it waits. An
// idle thread waits on a condition variable for keep_alive, then exits; a
// thread that exits moves its std::thread into `exited_`, where the next
// submit or shutdown joins it, so no thread is ever left unjoined.
//
// Start versus cancel: a thread that pops a job moves its state
// queued -> running, a canceller queued -> cancelled, each with one
// compare-exchange, so exactly one wins. The canceller then unlinks the job
// (if no thread popped it meanwhile) under the mutex before it wakes the
// job's task; a thread that popped a cancelled job drops it without
// touching it again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "weft/runtime/blocking.hpp"

namespace weft::detail {

class blocking_pool {
 public:
  struct figures {
    std::size_t threads = 0, idle = 0, queued = 0;
  };

  blocking_pool(std::string thread_name, std::size_t max_threads, std::chrono::nanoseconds keep_alive);
  ~blocking_pool();
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  /// Queues j (state idle -> queued). False, queueing nothing, once shut
  /// down. Throws std::system_error if no thread exists and none could be
  /// started (j is then not queued).
  bool submit(blocking_job* j);
  /// The unlinking half of a cancellation whose queued -> cancelled
  /// transition succeeded.
  void unlink_cancelled(blocking_job* j) noexcept;
  /// Refuses new jobs, drops the queued ones (waking their tasks, which end
  /// with operation_cancelled), waits for the running ones and joins every
  /// thread. Idempotent.
  void shutdown() noexcept;
  figures snapshot() const;

 private:
  void thread_main(std::list<std::thread>::iterator self);
  void push_back(blocking_job* j) noexcept;
  blocking_job* pop_front() noexcept;
  void unlink(blocking_job* j) noexcept;
  void start_thread();  // mu_ held

  const std::string name_;
  const std::size_t max_threads_;
  const std::chrono::nanoseconds keep_alive_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // idle threads wait here
  std::condition_variable gone_cv_;  // shutdown waits for threads_ == 0
  blocking_job* head_ = nullptr;
  blocking_job* tail_ = nullptr;
  std::size_t queued_ = 0;
  std::size_t threads_ = 0;
  std::size_t idle_ = 0;
  bool shutdown_ = false;
  std::list<std::thread> live_;
  std::list<std::thread> exited_;  // finished running, not joined yet
};

}  // namespace weft::detail
