// The stall detector's thread (see weft/runtime/stall.hpp for what it
// reports and how): one per runtime whose options set stall_threshold.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace weft::detail {

class runtime_impl;

class stall_detector {
 public:
  /// Starts watching rt's workers (they must be running).
  explicit stall_detector(runtime_impl& rt);
  /// Stops the thread; no signal is sent to a worker after this returns.
  ~stall_detector();
  stall_detector(const stall_detector&) = delete;
  stall_detector& operator=(const stall_detector&) = delete;

 private:
  void run();

  runtime_impl& rt_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace weft::detail
