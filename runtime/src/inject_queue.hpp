// The runtime-wide FIFO for work from outside the workers and for local
// queue overflow. A mutex-protected growable ring; `len` lets workers skip
// the lock when it is empty.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace weft::detail {

class inject_queue {
 public:
  using entry = std::uintptr_t;

  void push(const entry* es, std::size_t n) {
    std::lock_guard lock(mu_);
    reserve(count_ + n);
    for (std::size_t i = 0; i < n; ++i) buf_[(head_ + count_ + i) & (buf_.size() - 1)] = es[i];
    count_ += n;
    len_.store(count_, std::memory_order_release);
  }
  void push(entry e) { push(&e, 1); }

  entry pop() {
    if (len_.load(std::memory_order_acquire) == 0) return 0;
    std::lock_guard lock(mu_);
    if (count_ == 0) return 0;
    entry e = buf_[head_];
    head_ = (head_ + 1) & (buf_.size() - 1);
    --count_;
    len_.store(count_, std::memory_order_release);
    return e;
  }

  /// Pops up to n entries into out; returns how many.
  std::size_t pop_many(entry* out, std::size_t n) {
    if (len_.load(std::memory_order_acquire) == 0) return 0;
    std::lock_guard lock(mu_);
    std::size_t k = n < count_ ? n : count_;
    for (std::size_t i = 0; i < k; ++i) {
      out[i] = buf_[head_];
      head_ = (head_ + 1) & (buf_.size() - 1);
    }
    count_ -= k;
    len_.store(count_, std::memory_order_release);
    return k;
  }

  std::size_t size() const noexcept { return len_.load(std::memory_order_acquire); }

 private:
  void reserve(std::size_t want) {
    if (want <= buf_.size()) return;
    std::size_t cap = buf_.empty() ? 64 : buf_.size();
    while (cap < want) cap *= 2;
    std::vector<entry> nb(cap);
    for (std::size_t i = 0; i < count_; ++i) nb[i] = buf_[(head_ + i) & (buf_.size() - 1)];
    buf_.swap(nb);
    head_ = 0;
  }

  std::mutex mu_;
  std::vector<entry> buf_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::atomic<std::size_t> len_{0};
};

}  // namespace weft::detail
