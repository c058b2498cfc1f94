// The epoll driver: readiness instead of completion. An operation first
// tries its system call on the non-blocking fd; on EAGAIN it registers a
// waiter for the fd's readiness here and retries when woken.
//
// Each fd is armed EPOLLONESHOT with the union of what its waiters want and
// re-armed after an event for the waiters still waiting. The table is
// guarded by a mutex so any thread can cancel a waiter directly.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "driver.hpp"

namespace weft::detail {

struct epoll_waiter {
  epoll_waiter* prev = nullptr;
  epoll_waiter* next = nullptr;
  int fd = -1;
  std::uint32_t events = 0;
  bool linked = false;
  /// res: the ready events, or -ECANCELED. Runs with no lock held; must not
  /// resume the task inline.
  void (*on_ready)(epoll_waiter*, int res) noexcept = nullptr;
};

class epoll_driver final : public driver {
 public:
  epoll_driver();
  ~epoll_driver() override;

  weft::io_backend backend() const noexcept override { return weft::io_backend::epoll; }
  std::size_t wait(std::optional<std::chrono::milliseconds> timeout) override;
  void flush() override {}
  void unpark() noexcept override;
  void cancel_fd(int fd) noexcept override;
  void drain() noexcept override;
  std::size_t in_flight() const noexcept override;

  /// Registers w (fd, events, on_ready set). Throws std::system_error if
  /// the fd cannot be watched (EBADF, EPERM for regular files, ...).
  void add(epoll_waiter* w);
  /// Unregisters w; true if it was still waiting (on_ready will not run).
  bool remove(epoll_waiter* w) noexcept;

 private:
  struct fd_state {
    epoll_waiter* head = nullptr;
    std::size_t count = 0;
  };
  void arm(int fd, const fd_state& st);  // lock held

  int epfd_ = -1;
  int wake_fd_ = -1;
  mutable std::mutex mu_;
  std::unordered_map<int, fd_state> fds_;
  std::size_t waiting_ = 0;
};

}  // namespace weft::detail
