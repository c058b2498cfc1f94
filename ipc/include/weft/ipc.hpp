// Umbrella header: everything in weft's ipc module (the process backend).
#pragma once

#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"
