// Turning -errno results into exceptions, for the io sources.
#pragma once

#include <string>
#include <system_error>

namespace weft::io::detail {

[[noreturn]] inline void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::system_category(), what);
}

/// r >= 0 passes through; -errno throws std::system_error(errno, what).
inline int check(int r, const char* what) {
  if (r < 0) throw_errno(-r, what);
  return r;
}

}  // namespace weft::io::detail
