#include "epoll_driver.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>
#include <vector>

namespace weft::detail {

std::unique_ptr<driver> make_epoll_driver() { return std::make_unique<epoll_driver>(); }

epoll_driver::epoll_driver() {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int e = errno;
    ::close(epfd_);
    throw std::system_error(e, std::system_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0) {
    int e = errno;
    ::close(wake_fd_);
    ::close(epfd_);
    throw std::system_error(e, std::system_category(), "epoll_ctl");
  }
}

epoll_driver::~epoll_driver() {
  ::close(wake_fd_);
  ::close(epfd_);
}

void epoll_driver::arm(int fd, const fd_state& st) {
  std::uint32_t want = 0;
  for (epoll_waiter* w = st.head; w; w = w->next) want |= w->events;
  epoll_event ev{};
  ev.events = want | EPOLLONESHOT;
  ev.data.fd = fd;
  // The fd may or may not be in the set already (a closed and reused fd
  // number drops out of it on its own), so try both ways.
  if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) return;
  if (errno == ENOENT && ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0) return;
  throw std::system_error(errno, std::system_category(), "epoll_ctl");
}

void epoll_driver::add(epoll_waiter* w) {
  std::lock_guard lock(mu_);
  fd_state& st = fds_[w->fd];
  w->prev = nullptr;
  w->next = st.head;
  if (st.head) st.head->prev = w;
  st.head = w;
  ++st.count;
  try {
    arm(w->fd, st);
  } catch (...) {
    st.head = w->next;
    if (st.head) st.head->prev = nullptr;
    if (--st.count == 0) fds_.erase(w->fd);
    throw;
  }
  w->linked = true;
  ++waiting_;
}

bool epoll_driver::remove(epoll_waiter* w) noexcept {
  std::lock_guard lock(mu_);
  if (!w->linked) return false;
  auto it = fds_.find(w->fd);
  fd_state& st = it->second;
  if (w->prev) w->prev->next = w->next;
  else st.head = w->next;
  if (w->next) w->next->prev = w->prev;
  w->linked = false;
  --waiting_;
  if (--st.count == 0) fds_.erase(it);
  return true;
}

std::size_t epoll_driver::in_flight() const noexcept {
  std::lock_guard lock(mu_);
  return waiting_;
}

void epoll_driver::unpark() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void epoll_driver::cancel_fd(int fd) noexcept {
  std::vector<epoll_waiter*> cancelled;
  {
    std::lock_guard lock(mu_);
    auto it = fds_.find(fd);
    if (it == fds_.end()) return;
    for (epoll_waiter* w = it->second.head; w; w = w->next) {
      w->linked = false;
      cancelled.push_back(w);
    }
    waiting_ -= it->second.count;
    fds_.erase(it);
  }
  for (epoll_waiter* w : cancelled) w->on_ready(w, -ECANCELED);
}

std::size_t epoll_driver::wait(std::optional<std::chrono::milliseconds> timeout) {
  std::array<epoll_event, 128> events;
  int ms = timeout ? static_cast<int>(timeout->count()) : -1;
  if (ms == 0 && in_flight() == 0) return 0;  // a poll with no waiters: skip the syscall
  int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), ms);
  if (n <= 0) return 0;
  std::vector<std::pair<epoll_waiter*, int>> ready;
  {
    std::lock_guard lock(mu_);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        std::uint64_t v;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof v);
        continue;
      }
      auto it = fds_.find(fd);
      if (it == fds_.end()) continue;
      fd_state& st = it->second;
      const std::uint32_t got = events[i].events;
      const bool error = got & (EPOLLERR | EPOLLHUP);
      for (epoll_waiter* w = st.head; w;) {
        epoll_waiter* next = w->next;
        if (error || (w->events & got)) {
          if (w->prev) w->prev->next = w->next;
          else st.head = w->next;
          if (w->next) w->next->prev = w->prev;
          w->linked = false;
          --st.count;
          --waiting_;
          ready.emplace_back(w, static_cast<int>(got));
        }
        w = next;
      }
      if (st.count == 0) {
        fds_.erase(it);
      } else {
        try {
          arm(fd, st);
        } catch (const std::system_error&) {
          // The fd went away under its waiters: wake them to find out.
          for (epoll_waiter* w = st.head; w; w = w->next) {
            w->linked = false;
            --waiting_;
            ready.emplace_back(w, static_cast<int>(EPOLLERR));
          }
          fds_.erase(it);
        }
      }
    }
  }
  for (auto [w, res] : ready) w->on_ready(w, res);
  return ready.size();
}

void epoll_driver::drain() noexcept {
  std::lock_guard lock(mu_);
  for (auto& [fd, st] : fds_)
    for (epoll_waiter* w = st.head; w; w = w->next) w->linked = false;
  fds_.clear();
  waiting_ = 0;
}

}  // namespace weft::detail
