// Driver operations on io_uring (one SQE each) and on epoll (try the call,
// wait for readiness on EAGAIN, retry).
#include "weft/runtime/ops.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include "epoll_driver.hpp"
#include "scheduler.hpp"
#include "uring_driver.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/time.hpp"

namespace weft::ops {
namespace {

using detail::current_task;
using detail::task_header;

detail::worker& current_worker() {
  detail::worker* w = detail::this_worker_ptr();
  if (!w || !current_task()) throw std::logic_error("weft::ops used outside a weft task");
  return *w;
}

bool on_uring() { return current_worker().drv().backend() == io_backend::io_uring; }

int throw_if_cancelled(int res, task_header* self) {
  if (res == -ECANCELED && self && self->scope->stop_requested()) throw operation_cancelled{};
  return res;
}

// ---------------------------------------------------------------- io_uring

template <class Prep>
class uring_awaitable final : detail::uring_completion, detail::stop_callback {
 public:
  explicit uring_awaitable(Prep prep) : uring_completion{&on_cqe}, stop_callback{&on_stop}, prep_(std::move(prep)) {}
  uring_awaitable(const uring_awaitable&) = delete;

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> h) {
    self_ = current_task();
    if (self_->scope->stop_requested()) {
      res_ = -ECANCELED;
      return false;
    }
    self_->resume_point = h;
    node_.task = self_;
    drv_ = static_cast<detail::uring_driver*>(&current_worker().drv());
    io_uring_sqe* sqe = drv_->get_sqe();
    prep_(sqe);
    tag_ = drv_->track(sqe, this);
    if (self_->scope->add(this)) registered_ = true;
    else drv_->cancel(tag_);  // stopped meanwhile
    return !node_.done_registering();
  }

  int await_resume() {
    if (registered_) self_->scope->remove(this);
    return throw_if_cancelled(res_, self_);
  }

  /// After completion: the CQE's flags and the driver whose ring completed it.
  unsigned cqe_flags() const noexcept { return flags_; }
  detail::uring_driver* driver() const noexcept { return drv_; }

 private:
  static void on_cqe(detail::uring_completion* c, int res, unsigned flags) noexcept {
    auto* self = static_cast<uring_awaitable*>(c);
    self->res_ = res;
    self->flags_ = flags;
    self->node_.wake();
  }
  static void on_stop(detail::stop_callback* c) noexcept {
    auto* self = static_cast<uring_awaitable*>(c);
    self->drv_->cancel(self->tag_);
  }

  Prep prep_;
  task_header* self_ = nullptr;
  detail::uring_driver* drv_ = nullptr;
  detail::wait_node node_;
  std::uint64_t tag_ = 0;
  int res_ = 0;
  unsigned flags_ = 0;
  bool registered_ = false;
};

template <class Prep>
uring_awaitable<Prep> uring(Prep prep) {
  return uring_awaitable<Prep>(std::move(prep));
}

// ---------------------------------------------------------------- epoll

class readiness final : detail::epoll_waiter, detail::stop_callback {
 public:
  readiness(int fd, std::uint32_t events) : stop_callback{&on_stop} {
    this->fd = fd;
    this->events = events;
    on_ready = &ready;
  }
  readiness(const readiness&) = delete;
  ~readiness() {
    if (linked) drv_->remove(this);
  }

  bool await_ready() const noexcept { return false; }

  bool await_suspend(std::coroutine_handle<> h) {
    self_ = current_task();
    if (self_->scope->stop_requested()) {
      res_ = -ECANCELED;
      return false;
    }
    self_->resume_point = h;
    node_.task = self_;
    drv_ = static_cast<detail::epoll_driver*>(&current_worker().drv());
    try {
      drv_->add(this);
    } catch (const std::system_error& e) {
      res_ = -e.code().value();
      return false;
    }
    if (self_->scope->add(this)) {
      registered_ = true;
    } else if (drv_->remove(this)) {
      res_ = -ECANCELED;
      return false;
    }
    return !node_.done_registering();
  }

  int await_resume() {
    if (registered_) self_->scope->remove(this);
    return throw_if_cancelled(res_, self_);
  }

 private:
  static void ready(detail::epoll_waiter* w, int res) noexcept {
    auto* self = static_cast<readiness*>(w);
    self->res_ = res;
    self->node_.wake();
  }
  static void on_stop(detail::stop_callback* c) noexcept {
    auto* self = static_cast<readiness*>(c);
    if (self->drv_->remove(self)) {
      self->res_ = -ECANCELED;
      self->node_.wake();
    }
  }

  task_header* self_ = nullptr;
  detail::epoll_driver* drv_ = nullptr;
  detail::wait_node node_;
  int res_ = 0;
  bool registered_ = false;
};

int result_of(long r) { return r >= 0 ? static_cast<int>(r) : -errno; }

/// Retries `call` (returning >= 0 or -errno) until it does not block.
template <class Call>
task<int> when_ready(int fd, std::uint32_t events, Call call) {
  for (;;) {
    int r = call();
    if (r == -EINTR) continue;
    if (r != -EAGAIN && r != -EWOULDBLOCK) co_return r;
    int ev = co_await readiness(fd, events);
    if (ev < 0) co_return ev;
  }
}

/// Runs `call` (returning >= 0 or -errno) on the runtime's blocking pool,
/// retrying on EINTR. Awaited in place (no extra task): a stop while the
/// job is queued drops it (operation_cancelled); a running job finishes.
template <class Call>
task<int> on_pool(Call call) {
  auto job = [call]() mutable {
    int r;
    do r = call();
    while (r == -EINTR);
    return r;
  };
  std::tuple<> no_args;
  co_return co_await detail::blocking_awaiter<int, decltype(job), std::tuple<>>(job, no_args);
}

/// Linux's own cap on one read or write (MAX_RW_COUNT): larger requests
/// would not fit the int result, nor io_uring's 32-bit length.
constexpr std::size_t max_rw = 0x7ffff000;

}  // namespace

task<int> read(int fd, void* buf, std::size_t len, std::int64_t offset) {
  len = std::min(len, max_rw);
  if (on_uring())
    co_return co_await uring([=](io_uring_sqe* s) {
      io_uring_prep_read(s, fd, buf, static_cast<unsigned>(len), static_cast<__u64>(offset));
    });
  if (offset >= 0) co_return co_await on_pool([=] { return result_of(::pread(fd, buf, len, offset)); });
  co_return co_await when_ready(fd, EPOLLIN, [=] { return result_of(::read(fd, buf, len)); });
}

task<int> write(int fd, const void* buf, std::size_t len, std::int64_t offset) {
  len = std::min(len, max_rw);
  if (on_uring())
    co_return co_await uring([=](io_uring_sqe* s) {
      io_uring_prep_write(s, fd, buf, static_cast<unsigned>(len), static_cast<__u64>(offset));
    });
  if (offset >= 0) co_return co_await on_pool([=] { return result_of(::pwrite(fd, buf, len, offset)); });
  co_return co_await when_ready(fd, EPOLLOUT, [=] { return result_of(::write(fd, buf, len)); });
}

task<int> recv(int fd, void* buf, std::size_t len, int flags) {
  if (on_uring()) co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_recv(s, fd, buf, len, flags); });
  co_return co_await when_ready(fd, EPOLLIN, [=] { return result_of(::recv(fd, buf, len, flags | MSG_DONTWAIT)); });
}

task<int> send(int fd, const void* buf, std::size_t len, int flags) {
  flags |= MSG_NOSIGNAL;
  if (on_uring()) co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_send(s, fd, buf, len, flags); });
  co_return co_await when_ready(fd, EPOLLOUT, [=] { return result_of(::send(fd, buf, len, flags | MSG_DONTWAIT)); });
}

task<int> sendmsg(int fd, const ::msghdr* msg, int flags) {
  flags |= MSG_NOSIGNAL;
  if (on_uring())
    co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_sendmsg(s, fd, msg, static_cast<unsigned>(flags)); });
  co_return co_await when_ready(fd, EPOLLOUT, [=] { return result_of(::sendmsg(fd, msg, flags | MSG_DONTWAIT)); });
}

task<int> recvmsg(int fd, ::msghdr* msg, int flags) {
  if (on_uring())
    co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_recvmsg(s, fd, msg, static_cast<unsigned>(flags)); });
  co_return co_await when_ready(fd, EPOLLIN, [=] { return result_of(::recvmsg(fd, msg, flags | MSG_DONTWAIT)); });
}

// ---------------------------------------------------------------- pooled receive

void pooled_buffer::reset() noexcept {
  if (!data_) return;
  if (owner_) owner_->give_back(owner_, id_);
  else delete[](data_ - offset_);
  data_ = nullptr;
  size_ = 0;
  offset_ = 0;
  owner_ = nullptr;
}

pooled_buffer pooled_buffer::lent(std::byte* p, std::size_t n, detail::buffer_owner* owner, std::uint16_t id) noexcept {
  pooled_buffer b;
  b.data_ = p;
  b.size_ = static_cast<std::uint32_t>(n);
  b.owner_ = owner;
  b.id_ = id;
  return b;
}

pooled_buffer pooled_buffer::allocated(std::byte* p, std::size_t n) noexcept {
  pooled_buffer b;
  b.data_ = p;
  b.size_ = static_cast<std::uint32_t>(n);
  return b;
}

namespace {

/// recv(2) into a buffer allocated for this call: on epoll (where the
/// data is read into a per-thread scratch buffer, then copied into an
/// allocation of the received size, so nothing is held while waiting),
/// and on io_uring when the buffer ring is missing or empty.
task<int> recv_allocated(int fd, pooled_buffer& out, std::size_t size) {
  if (on_uring()) {
    std::unique_ptr<std::byte[]> mem(new std::byte[size]);
    int r = co_await recv(fd, mem.get(), size, 0);
    if (r > 0) out = pooled_buffer::allocated(mem.release(), static_cast<std::size_t>(r));
    co_return r;
  }
  thread_local std::unique_ptr<std::byte[]> scratch;
  thread_local std::size_t scratch_size = 0;
  for (;;) {
    if (scratch_size < size) {
      scratch.reset(new std::byte[size]);
      scratch_size = size;
    }
    int r = result_of(::recv(fd, scratch.get(), size, MSG_DONTWAIT));
    if (r > 0) {
      auto* mem = new std::byte[static_cast<std::size_t>(r)];
      std::memcpy(mem, scratch.get(), static_cast<std::size_t>(r));
      out = pooled_buffer::allocated(mem, static_cast<std::size_t>(r));
      co_return r;
    }
    if (r == -EINTR) continue;
    if (r != -EAGAIN && r != -EWOULDBLOCK) co_return r;
    int ev = co_await readiness(fd, EPOLLIN);
    if (ev < 0) co_return ev;
  }
}

}  // namespace

task<int> recv_pooled(int fd, pooled_buffer& out) {
  out.reset();
  detail::worker& w = current_worker();
  const std::size_t size = w.rt().options.recv_buffer_size;
  if (w.drv().backend() == io_backend::io_uring && static_cast<detail::uring_driver&>(w.drv()).has_buffers()) {
    auto op = uring([=](io_uring_sqe* s) {
      io_uring_prep_recv(s, fd, nullptr, size, 0);
      s->flags |= IOSQE_BUFFER_SELECT;
      s->buf_group = detail::uring_driver::buffer_group;
    });
    int r = co_await op;
    // A buffer the kernel picked is ours to give back, whatever the result.
    if (op.cqe_flags() & IORING_CQE_F_BUFFER) {
      pooled_buffer b = op.driver()->lend(op.cqe_flags(), r);
      if (r > 0) out = std::move(b);
    }
    if (r != -ENOBUFS) co_return r;
    // Every ring buffer is lent out: this one receive allocates its own.
  }
  co_return co_await recv_allocated(fd, out, size);
}

task<int> accept(int fd, ::sockaddr* addr, ::socklen_t* addrlen, int flags) {
  if (on_uring()) co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_accept(s, fd, addr, addrlen, flags); });
  co_return co_await when_ready(fd, EPOLLIN, [=] { return result_of(::accept4(fd, addr, addrlen, flags)); });
}

task<int> connect(int fd, const ::sockaddr* addr, ::socklen_t addrlen) {
  if (on_uring()) co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_connect(s, fd, addr, addrlen); });
  int r = ::connect(fd, addr, addrlen);
  if (r == 0) co_return 0;
  if (errno != EINPROGRESS && errno != EINTR) co_return -errno;
  int ev = co_await readiness(fd, EPOLLOUT);
  if (ev < 0) co_return ev;
  int err = 0;
  ::socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) co_return -errno;
  co_return -err;
}

task<int> poll(int fd, unsigned events) {
  if (on_uring()) co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_poll_add(s, fd, events); });
  int ev = co_await readiness(fd, events);
  co_return ev;
}

task<int> timeout(std::chrono::nanoseconds d) {
  if (on_uring()) {
    __kernel_timespec ts{};
    ts.tv_sec = static_cast<long long>(d.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long long>(d.count() % 1'000'000'000);
    int r = co_await uring([&ts](io_uring_sqe* s) { io_uring_prep_timeout(s, &ts, 0, 0); });
    co_return r == -ETIME ? 0 : r;
  }
  co_await sleep_for(d);
  co_return 0;
}

task<int> close(int fd) {
  if (on_uring()) co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_close(s, fd); });
  co_return result_of(::close(fd));
}

bool try_cancel(int fd) noexcept {
  detail::worker* w = detail::this_worker_ptr();
  if (!w) return false;
  for (auto& other : w->rt().workers) other->drv().cancel_fd(fd);
  return true;
}

void cancel(int fd) {
  if (!try_cancel(fd)) throw std::logic_error("weft::ops::cancel used outside a weft runtime worker");
}

// ---------------------------------------------------------------- files

task<int> openat(int dirfd, const char* path, int flags, ::mode_t mode) {
  flags |= O_CLOEXEC;
  if (on_uring()) co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_openat(s, dirfd, path, flags, mode); });
  co_return co_await on_pool([=] { return result_of(::openat(dirfd, path, flags, mode)); });
}

task<int> fsync(int fd, bool datasync) {
  if (on_uring())
    co_return co_await uring(
        [=](io_uring_sqe* s) { io_uring_prep_fsync(s, fd, datasync ? IORING_FSYNC_DATASYNC : 0); });
  co_return co_await on_pool([=] { return result_of(datasync ? ::fdatasync(fd) : ::fsync(fd)); });
}

task<int> statx(int dirfd, const char* path, int flags, unsigned mask, struct ::statx* out) {
  if (on_uring())
    co_return co_await uring([=](io_uring_sqe* s) { io_uring_prep_statx(s, dirfd, path, flags, mask, out); });
  co_return co_await on_pool([=] { return result_of(::statx(dirfd, path, flags, mask, out)); });
}

}  // namespace weft::ops
