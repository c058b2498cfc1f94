// Between the parent side (pools, processes) and the worker's start: the
// hooks of weft::ipc::at_worker_start, copied into each new worker's
// control page.
#pragma once

#include <cstdint>

#include "channel.hpp"

namespace weft::ipc::detail {

void copy_start_hooks(std::uint64_t (&out)[max_start_hooks]) noexcept;

/// Set in a worker process once it starts (weft::ipc::in_worker()).
extern bool in_worker_process;

}  // namespace weft::ipc::detail
