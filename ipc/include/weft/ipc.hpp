// Umbrella header: everything in weft's ipc module (the process backend).
#pragma once

#include "weft/ipc/barrier.hpp"
#include "weft/ipc/condition_variable.hpp"
#include "weft/ipc/errors.hpp"
#include "weft/ipc/event.hpp"
#include "weft/ipc/mutex.hpp"
#include "weft/ipc/process_pool.hpp"
#include "weft/ipc/process_queue.hpp"
#include "weft/ipc/semaphore.hpp"
#include "weft/ipc/serialize.hpp"
#include "weft/ipc/shared_array.hpp"
#include "weft/ipc/shared_list.hpp"
#include "weft/ipc/shared_map.hpp"
#include "weft/ipc/shared_value.hpp"
#include "weft/ipc/spawn_process.hpp"
