// The io_uring driver: one ring per worker, created on the worker's own
// thread (so SINGLE_ISSUER/DEFER_TASKRUN rings belong to it).
//
// An operation's SQE carries a tagged pointer to its completion record: the
// low 48 bits are the address, the high 16 a per-ring generation, so a late
// cancel request for an operation that already finished cannot hit a newer
// operation that reuses the same address. Cancel requests from other
// threads are posted to the owner, which submits IORING_OP_ASYNC_CANCEL.
// A read on an eventfd is kept armed so unpark() can end a wait.
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "driver.hpp"
#include "weft/runtime/ops.hpp"

namespace weft::detail {

struct uring_completion {
  void (*on_cqe)(uring_completion*, int res, unsigned flags) noexcept;
  /// Completions during drain() (shutdown) go here instead, if set: for
  /// records that must release something (a multishot's state) without
  /// waking any task.
  void (*on_drain)(uring_completion*, int res, unsigned flags) noexcept = nullptr;
};

class uring_driver final : public driver, buffer_owner {
 public:
  uring_driver(unsigned entries, unsigned recv_buffers, unsigned recv_buffer_size);
  ~uring_driver() override;

  weft::io_backend backend() const noexcept override { return weft::io_backend::io_uring; }
  std::size_t wait(std::optional<std::chrono::milliseconds> timeout) override;
  void flush() override;
  void unpark() noexcept override;
  void cancel_fd(int fd) noexcept override;
  void drain() noexcept override;
  std::size_t in_flight() const noexcept override { return in_flight_; }

  /// A free SQE (submitting queued ones first if the ring is full).
  io_uring_sqe* get_sqe();
  /// Prepares `sqe` to complete into `c`; returns the tag for cancel().
  std::uint64_t track(io_uring_sqe* sqe, uring_completion* c) noexcept;
  /// Requests cancellation of the operation tagged `tag`. Any thread.
  void cancel(std::uint64_t tag) noexcept;

  // Provided receive buffers (one buffer group, id 0, per ring).
  bool has_buffers() const noexcept { return br_ != nullptr; }
  static constexpr std::uint16_t buffer_group = 0;
  unsigned buffer_size() const noexcept { return buf_size_; }
  /// The buffer the kernel filled, from a CQE with IORING_CQE_F_BUFFER.
  ops::pooled_buffer lend(unsigned cqe_flags, int len) noexcept;

 private:
  static constexpr std::uint64_t wake_tag = 1;
  static constexpr std::uint64_t ignore_tag = 0;
  struct post {
    bool by_fd;
    std::uint64_t value;
  };

  void setup_buffers(unsigned count, unsigned size) noexcept;
  void recycle(std::uint16_t id) noexcept;
  static void give_back_buffer(buffer_owner* self, std::uint16_t id) noexcept;
  void arm_wake();
  void take_posts();
  std::size_t reap() noexcept;

  io_uring ring_{};
  unsigned flags_ = 0;
  int wake_fd_ = -1;
  std::uint64_t wake_buf_ = 0;
  bool wake_armed_ = false;
  std::size_t in_flight_ = 0;
  std::uint16_t generation_ = 0;
  bool draining_ = false;

  io_uring_buf_ring* br_ = nullptr;
  unsigned br_entries_ = 0;
  std::byte* buf_mem_ = nullptr;
  unsigned buf_size_ = 0;

  std::mutex posts_mu_;
  std::vector<post> posts_;
  std::vector<std::uint16_t> returned_;  // buffers given back on other threads
  std::atomic<bool> has_posts_{false};
};

}  // namespace weft::detail
