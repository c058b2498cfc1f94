#include "weft/redis/error.hpp"

#include <utility>

namespace weft::redis {

error::error(std::string command, std::string message)
    : std::runtime_error("redis " + command + ": " + message),
      command_(std::move(command)),
      message_(std::move(message)) {}

std::string_view error::code() const noexcept {
  std::string_view m = message_;
  return m.substr(0, m.find(' '));
}

}  // namespace weft::redis
