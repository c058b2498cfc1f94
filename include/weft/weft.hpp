// Umbrella header: everything in weft's runtime module.
#pragma once

#include "weft/runtime/as_completed.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/fiber.hpp"
#include "weft/runtime/metrics.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/runtime_options.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/task_scope.hpp"
#include "weft/runtime/time.hpp"
#include "weft/runtime/when_all.hpp"
#include "weft/runtime/when_any.hpp"
#include "weft/runtime/yield.hpp"
