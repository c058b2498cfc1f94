#include "uring_driver.hpp"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace weft::detail {

namespace {

constexpr std::uint64_t addr_mask = (std::uint64_t{1} << 48) - 1;

int setup_ring(io_uring* ring, unsigned entries, unsigned* chosen) {
  // Best first; older kernels reject the newer flags with EINVAL.
  const unsigned attempts[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
      IORING_SETUP_COOP_TASKRUN,
      0,
  };
  int rc = -EINVAL;
  for (unsigned flags : attempts) {
    io_uring_params p{};
    p.flags = flags;
    rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == 0) {
      *chosen = flags;
      return 0;
    }
    if (rc != -EINVAL) break;  // refused outright (EPERM, ENOSYS, ENOMEM): stop trying
  }
  return rc;
}

}  // namespace

bool uring_supported() noexcept {
  static const bool ok = [] {
    io_uring ring;
    if (io_uring_queue_init(4, &ring, 0) != 0) return false;
    io_uring_queue_exit(&ring);
    return true;
  }();
  return ok;
}

std::unique_ptr<driver> make_uring_driver(unsigned entries, unsigned recv_buffers, unsigned recv_buffer_size) {
  return std::make_unique<uring_driver>(entries, recv_buffers, recv_buffer_size);
}

namespace {
// The driver owned by this thread: buffers given back here are recycled
// directly, others are posted to their owner.
thread_local const uring_driver* tls_driver = nullptr;
}  // namespace

uring_driver::uring_driver(unsigned entries, unsigned recv_buffers, unsigned recv_buffer_size)
    : buffer_owner{&give_back_buffer} {
  int rc = setup_ring(&ring_, entries, &flags_);
  if (rc < 0) throw std::system_error(-rc, std::system_category(), "io_uring_queue_init");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int e = errno;
    io_uring_queue_exit(&ring_);
    throw std::system_error(e, std::system_category(), "eventfd");
  }
  setup_buffers(recv_buffers, recv_buffer_size);
  tls_driver = this;
}

uring_driver::~uring_driver() {
  if (tls_driver == this) tls_driver = nullptr;
  io_uring_queue_exit(&ring_);  // unregisters the buffer ring too
  ::close(wake_fd_);
  if (br_) ::munmap(br_, br_entries_ * sizeof(io_uring_buf));
  if (buf_mem_) ::munmap(buf_mem_, std::size_t{br_entries_} * buf_size_);
}

// A ring of `count` buffers the kernel picks from for IOSQE_BUFFER_SELECT
// receives. The memory is mapped, not touched: pages become resident only
// as buffers are used. Without kernel support (before 5.19) or with count
// 0 there is no ring and recv_pooled allocates per call.
void uring_driver::setup_buffers(unsigned count, unsigned size) noexcept {
  if (count == 0 || size == 0 || count > 32768 || (count & (count - 1)) != 0) return;
  const std::size_t ring_bytes = count * sizeof(io_uring_buf);
  const std::size_t mem_bytes = std::size_t{count} * size;
  void* ring = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring == MAP_FAILED) return;
  void* mem = ::mmap(nullptr, mem_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) {
    ::munmap(ring, ring_bytes);
    return;
  }
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(ring);
  reg.ring_entries = count;
  reg.bgid = buffer_group;
  if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
    ::munmap(ring, ring_bytes);
    ::munmap(mem, mem_bytes);
    return;
  }
  br_ = static_cast<io_uring_buf_ring*>(ring);
  br_entries_ = count;
  buf_mem_ = static_cast<std::byte*>(mem);
  buf_size_ = size;
  io_uring_buf_ring_init(br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i)
    io_uring_buf_ring_add(br_, buf_mem_ + std::size_t{i} * size, size, static_cast<std::uint16_t>(i), mask,
                          static_cast<int>(i));
  io_uring_buf_ring_advance(br_, static_cast<int>(count));
}

ops::pooled_buffer uring_driver::lend(unsigned cqe_flags, int len) noexcept {
  const auto id = static_cast<std::uint16_t>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
  return ops::pooled_buffer::lent(buf_mem_ + std::size_t{id} * buf_size_, len > 0 ? static_cast<std::size_t>(len) : 0,
                                  this, id);
}

void uring_driver::recycle(std::uint16_t id) noexcept {
  io_uring_buf_ring_add(br_, buf_mem_ + std::size_t{id} * buf_size_, buf_size_, id, io_uring_buf_ring_mask(br_entries_),
                        0);
  io_uring_buf_ring_advance(br_, 1);
}

void uring_driver::give_back_buffer(buffer_owner* owner, std::uint16_t id) noexcept {
  auto* self = static_cast<uring_driver*>(owner);
  if (tls_driver == self) {
    self->recycle(id);
    return;
  }
  // The ring's producer side belongs to its thread: post it there. No
  // unpark: the owner takes posts on its next tick, and an exhausted ring
  // only makes receives fall back to allocated buffers meanwhile.
  try {
    std::lock_guard lock(self->posts_mu_);
    self->returned_.push_back(id);
  } catch (...) {
    return;  // out of memory: the buffer is lost to the ring, nothing else
  }
  self->has_posts_.store(true, std::memory_order_release);
}

io_uring_sqe* uring_driver::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (!sqe) {
    int rc = io_uring_submit(&ring_);
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN)
      throw std::system_error(-rc, std::system_category(), "io_uring_submit");
    if (rc <= 0) reap();  // completion queue pressure: make room
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

std::uint64_t uring_driver::track(io_uring_sqe* sqe, uring_completion* c) noexcept {
  auto addr = reinterpret_cast<std::uint64_t>(c);
  std::uint64_t tag = (addr & addr_mask) | (std::uint64_t{++generation_} << 48);
  io_uring_sqe_set_data64(sqe, tag);
  ++in_flight_;
  return tag;
}

void uring_driver::cancel(std::uint64_t tag) noexcept {
  {
    std::lock_guard lock(posts_mu_);
    posts_.push_back({false, tag});
  }
  has_posts_.store(true, std::memory_order_release);
  unpark();
}

void uring_driver::cancel_fd(int fd) noexcept {
  {
    std::lock_guard lock(posts_mu_);
    posts_.push_back({true, static_cast<std::uint64_t>(fd)});
  }
  has_posts_.store(true, std::memory_order_release);
  unpark();
}

void uring_driver::take_posts() {
  if (!has_posts_.load(std::memory_order_acquire)) return;
  std::vector<post> posts;
  std::vector<std::uint16_t> returned;
  {
    std::lock_guard lock(posts_mu_);
    posts.swap(posts_);
    returned.swap(returned_);
    has_posts_.store(false, std::memory_order_relaxed);
  }
  for (std::uint16_t id : returned) recycle(id);
  for (const post& p : posts) {
    io_uring_sqe* sqe = get_sqe();
    if (p.by_fd) io_uring_prep_cancel_fd(sqe, static_cast<int>(p.value), IORING_ASYNC_CANCEL_ALL);
    else io_uring_prep_cancel64(sqe, p.value, 0);
    io_uring_sqe_set_data64(sqe, ignore_tag);
  }
}

void uring_driver::arm_wake() {
  if (wake_armed_) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
  io_uring_sqe_set_data64(sqe, wake_tag);
  wake_armed_ = true;
}

void uring_driver::unpark() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void uring_driver::flush() {
  take_posts();
  if (io_uring_sq_ready(&ring_) == 0) return;
  if (flags_ & IORING_SETUP_DEFER_TASKRUN) io_uring_submit_and_get_events(&ring_);
  else io_uring_submit(&ring_);
}

std::size_t uring_driver::reap() noexcept {
  std::size_t n = 0;
  io_uring_cqe* cqe;
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    std::uint64_t ud = io_uring_cqe_get_data64(cqe);
    if (ud == ignore_tag) continue;
    if (ud == wake_tag) {
      wake_armed_ = false;
      continue;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) --in_flight_;
    auto* c = reinterpret_cast<uring_completion*>(ud & addr_mask);
    ++n;
    if (!draining_) c->on_cqe(c, cqe->res, cqe->flags);
    else if (c->on_drain) c->on_drain(c, cqe->res, cqe->flags);
  }
  io_uring_cq_advance(&ring_, seen);
  return n;
}

std::size_t uring_driver::wait(std::optional<std::chrono::milliseconds> timeout) {
  take_posts();
  const bool blocking = !timeout || timeout->count() > 0;
  if (blocking) {
    arm_wake();
    // Already-reaped completions must not be waited for again.
    if (io_uring_cq_ready(&ring_) == 0) {
      __kernel_timespec ts{};
      if (timeout) {
        ts.tv_sec = timeout->count() / 1000;
        ts.tv_nsec = (timeout->count() % 1000) * 1'000'000;
      }
      io_uring_cqe* cqe = nullptr;
      int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout ? &ts : nullptr, nullptr);
      (void)rc;  // -ETIME / -EINTR: nothing arrived; reap whatever did
    } else {
      io_uring_submit(&ring_);
    }
  } else if (in_flight_ == 0 && io_uring_sq_ready(&ring_) == 0) {
    // Nothing submitted, nothing to submit: no syscall. (An armed wake
    // read may be pending; it only matters to a blocking wait.)
  } else if (flags_ & IORING_SETUP_DEFER_TASKRUN) {
    io_uring_submit_and_get_events(&ring_);
  } else if (io_uring_sq_ready(&ring_)) {
    io_uring_submit(&ring_);
  }
  return reap();
}

void uring_driver::drain() noexcept {
  draining_ = true;
  try {
    take_posts();
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, ignore_tag);
  } catch (...) {
  }
  // The wake read is in flight too; it ends with the cancel-any.
  for (int spins = 0; (in_flight_ > 0 || wake_armed_) && spins < 1000; ++spins) {
    __kernel_timespec ts{0, 10'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    reap();
  }
}

}  // namespace weft::detail
