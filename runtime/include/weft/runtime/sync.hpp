// All of weft's sync primitives (weft/runtime/sync/*.hpp): mutex,
// shared_mutex, semaphore, condition_variable, event, latch, barrier,
// channel<T>, oneshot<T>. Waiting suspends the task, never the worker.
#pragma once

#include "weft/runtime/sync/barrier.hpp"
#include "weft/runtime/sync/channel.hpp"
#include "weft/runtime/sync/condition_variable.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/sync/latch.hpp"
#include "weft/runtime/sync/lock.hpp"
#include "weft/runtime/sync/mutex.hpp"
#include "weft/runtime/sync/oneshot.hpp"
#include "weft/runtime/sync/semaphore.hpp"
#include "weft/runtime/sync/shared_mutex.hpp"
