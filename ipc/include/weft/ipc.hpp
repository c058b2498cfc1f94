// Umbrella header: everything in weft's ipc module (the process backend).
#pragma once

#include "weft/ipc/errors.hpp"
#include "weft/ipc/process_pool.hpp"
#include "weft/ipc/serialize.hpp"
#include "weft/ipc/spawn_process.hpp"
