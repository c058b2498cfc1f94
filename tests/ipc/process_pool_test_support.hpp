// Functions the process pool tests send to workers, and small helpers.
// Functions run in worker processes: they must be plain functions (or
// captureless lambdas) of this binary.
#pragma once

#include <catch2/catch.hpp>

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <string>

#include "weft/ipc.hpp"
#include "weft/runtime/runtime.hpp"
#include "weft/runtime/task.hpp"

namespace ipc_test {

inline int square(int x) { return x * x; }
inline long long square_ll(long long x) { return x * x; }
inline int worker_pid() { return static_cast<int>(::getpid()); }
inline void nothing() {}
inline int slow_square(int x, int ms) {
  ::usleep(static_cast<useconds_t>(ms) * 1000);
  return x * x;
}
inline int hang(int) {
  for (;;) ::pause();
}

/// The exception a call ends with (null if none).
template <class Awaitable>
weft::task<std::exception_ptr> error_of(Awaitable a) {
  try {
    (void)co_await std::move(a);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

/// what() of an exception of type E, or a description of what it was instead.
template <class E>
std::string what_if(const std::exception_ptr& e) {
  if (!e) return "(no exception)";
  try {
    std::rethrow_exception(e);
  } catch (const E& x) {
    return x.what();
  } catch (const std::exception& x) {
    return std::string("(other exception: ") + x.what() + ")";
  } catch (...) {
    return "(unknown exception)";
  }
}

template <class E>
bool is(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

inline weft::runtime_options rt_options(unsigned workers = 2, weft::io_backend io = weft::io_backend::automatic) {
  weft::runtime_options o;
  o.workers = workers;
  o.io = io;
  return o;
}

}  // namespace ipc_test
