// The registry's side for init() and the serving ranks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "weft/cluster/remote.hpp"

namespace weft::cluster::detail {

struct registry_summary {
  std::uint64_t hash = 0;  // of every (name, signature), in id order
  std::uint32_t count = 0;
  std::string duplicate;  // names registered for two different functions
};

/// Numbers the entries (idempotent) and summarizes them.
registry_summary freeze_registry();
/// The entry with this id, or null.
const remote_function* remote_by_id(std::uint32_t id) noexcept;

/// FNV-1a, continued from h.
std::uint64_t hash_bytes(std::uint64_t h, const void* p, std::size_t n) noexcept;

}  // namespace weft::cluster::detail
