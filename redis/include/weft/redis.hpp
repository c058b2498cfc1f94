// Umbrella header: everything in weft's redis module (weft::redis, the
// Redis client; built when hiredis is found, see README's Building).
#pragma once

#include "weft/redis/client.hpp"
#include "weft/redis/command.hpp"
#include "weft/redis/error.hpp"
#include "weft/redis/options.hpp"
#include "weft/redis/pipeline.hpp"
#include "weft/redis/pool.hpp"
#include "weft/redis/reply.hpp"
#include "weft/redis/script.hpp"
