// Test-only hooks into a worker's loop: how tests/ipc check that the pool
// trusts nothing a worker writes. Not for users.
#pragma once

#include <cstdint>

namespace weft::ipc::detail::testing {

/// The header of a result as the worker is about to publish it.
struct result_fields {
  std::uint32_t kind;
  std::uint64_t size;
  std::uint64_t arena_offset;
  std::uint64_t arena_end;
  std::uint64_t seq;  // what the slot's sequence number is set to
};

/// When set (from inside a task, so in that worker only), called before
/// each result is published; it may rewrite any field.
extern void (*result_tamper)(result_fields&);

}  // namespace weft::ipc::detail::testing
