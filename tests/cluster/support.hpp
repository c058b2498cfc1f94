// Helpers shared by the cluster tests (rank 0's side).
#pragma once

#include <cstdlib>
#include <string>

#include "weft/runtime/runtime.hpp"

namespace cluster_test {

inline weft::runtime_options rt_options() {
  weft::runtime_options o;
  o.workers = 2;
  return o;
}

/// A count from the environment (for the long variants), or fallback.
inline std::size_t env_count(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? static_cast<std::size_t>(std::stoull(v)) : fallback;
}

}  // namespace cluster_test
