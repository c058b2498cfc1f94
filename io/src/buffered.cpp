#include "weft/io/buffered.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace weft::io {

line_too_long::line_too_long(std::size_t max_len)
    : std::runtime_error(fmt::format("line longer than the limit of {} bytes", max_len)), max_len_(max_len) {}

namespace detail {

std::span<std::byte> byte_window::prepare(std::size_t min_free, std::size_t capacity) {
  const std::size_t len = end_ - begin_;
  if (!data_ || storage_ - end_ < min_free) {
    if (data_ && storage_ - len >= min_free) {
      // Moving the bytes to the front makes room: cheaper than growing.
      std::memmove(data_.get(), data_.get() + begin_, len);
    } else {
      std::size_t grown = std::max(capacity, len + min_free);
      if (data_) grown = std::max(grown, storage_ * 2);
      auto bigger = std::make_unique_for_overwrite<std::byte[]>(grown);
      if (len) std::memcpy(bigger.get(), data_.get() + begin_, len);
      data_ = std::move(bigger);
      storage_ = grown;
    }
    begin_ = 0;
    end_ = len;
  }
  return {data_.get() + end_, storage_ - end_};
}

}  // namespace detail

}  // namespace weft::io
