// Start hooks: functions a higher layer asks every runtime to call in its
// constructor, before the runtime starts any thread.
//
// The process backend (weft::ipc) uses this to fork its fork server while
// the process still has a single thread (forking a multi-threaded process
// copies locks other threads hold, and an io_uring ring created before the
// fork would be shared with the child). The runtime knows nothing of ipc:
// ipc registers its hook from a static initializer of its own.
#pragma once

namespace weft::detail {

/// Registers f (idempotent for the same f). Call from static initializers
/// or before the first runtime starts; f must not throw.
void add_start_hook(void (*f)()) noexcept;

/// Runs every registered hook (the runtime constructor does).
void run_start_hooks() noexcept;

}  // namespace weft::detail
