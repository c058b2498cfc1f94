// The process's MPI side: the progress thread (the only thread that calls
// MPI after init) and the two roles it serves, rank 0's pools
// (caller.cpp) and a serving rank's server (server.cpp).
#pragma once

#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "wire.hpp"

namespace weft::cluster::detail {

/// What the progress thread does with messages, by role.
class role {
 public:
  virtual ~role() = default;
  /// A batch arrived from rank src.
  virtual void deliver(int src, const std::byte* data, std::size_t n) = 0;
  /// Appends what is ready to go to out[rank]; returns true when the role
  /// has nothing left to send and the thread may end (after stop()).
  virtual bool collect(std::vector<wire_out>& out, bool stopping) = 0;
};

class engine {
 public:
  static engine& get() noexcept;

  int rank = 0;
  int size = 1;
  MPI_Comm comm = MPI_COMM_NULL;

  void start(role* r);
  /// Something is ready to send: cut the progress thread's idle wait short.
  void poke() noexcept {
    if (!poked_.exchange(true, std::memory_order_acq_rel)) {
      std::lock_guard lock(mu_);
      cv_.notify_one();
    }
  }
  /// Asks the thread to send what is left, finalize MPI and end; joins it.
  void stop();
  bool running() const noexcept { return thread_.joinable(); }

 private:
  void loop();

  role* role_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> poked_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

/// Rank 0's role (caller.cpp).
role& caller_role();
/// A serving rank's life after init (server.cpp): serves until rank 0
/// ends the job, then finalizes MPI and exits the process.
[[noreturn]] void serve_forever();

constexpr int message_tag = 7;

}  // namespace weft::cluster::detail
