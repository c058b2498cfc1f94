// Helpers shared by the runtime tests.
//
// GCC 12 evaluates a co_await written inside CHECK(...) or REQUIRE(...) three
// times, not once: the macro repeats its expression in a `false && (expr)`
// that GCC's coroutine lowering does not short-circuit. So tests await first
// and assert afterwards, through the CO_* macros below.
//
// run_in_child() runs a body in a forked child so that a hang is reported as
// a test failure instead of stopping the whole run. stderr_capture collects
// what every thread writes to stderr meanwhile. eventually() waits, in a
// task, for a condition that other tasks or threads make true.
#pragma once

#include <catch2/catch.hpp>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft_test {

template <class Awaitable>
weft::task<std::exception_ptr> error_of(Awaitable a) {
  try {
    (void)co_await std::move(a);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

inline void rethrow_if(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

/// A task with a value that finishes at once.
inline weft::task<int> square(int x) { co_return x* x; }

/// Waits (without blocking the worker) until pred() holds; false after 5 s.
template <class Pred>
weft::task<bool> eventually(Pred pred) {
  const auto give_up = weft::clock::now() + std::chrono::seconds(5);
  while (!pred()) {
    if (weft::clock::now() > give_up) co_return false;
    co_await weft::sleep_for(std::chrono::milliseconds(1));
  }
  co_return true;
}

enum class child_outcome { passed, failed, hung, crashed };

inline const char* name(child_outcome o) {
  switch (o) {
    case child_outcome::passed: return "passed";
    case child_outcome::failed: return "failed";
    case child_outcome::hung: return "hung (killed after the time limit)";
    case child_outcome::crashed: return "crashed";
  }
  return "?";
}

/// Only from the test's main thread, with no runtime alive. The body
/// returns true on success.
inline child_outcome run_in_child(const std::function<bool()>& body, std::chrono::seconds limit) {
  pid_t pid = ::fork();
  if (pid < 0) return child_outcome::crashed;
  if (pid == 0) {
    bool ok = false;
    try {
      ok = body();
    } catch (...) {
      ok = false;
    }
    ::_exit(ok ? 0 : 1);
  }
  const auto give_up = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return child_outcome::hung;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? child_outcome::passed : child_outcome::failed;
  return child_outcome::crashed;
}

/// Redirects file descriptor 2 (stderr, all threads) into a temporary file
/// while alive; text() stops capturing and returns what was written.
class stderr_capture {
 public:
  stderr_capture() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    REQUIRE(file_ != nullptr);
    saved_ = ::dup(STDERR_FILENO);
    REQUIRE(saved_ >= 0);
    REQUIRE(::dup2(::fileno(file_), STDERR_FILENO) == STDERR_FILENO);
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;
  ~stderr_capture() {
    restore();
    std::fclose(file_);
  }

  /// Stops capturing (if still on) and returns everything captured.
  std::string text() {
    restore();
    std::string out;
    std::rewind(file_);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) out.append(buf, n);
    return out;
  }

 private:
  void restore() noexcept {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }

  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

/// How many times `needle` occurs in `text`.
inline std::size_t occurrences(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

}  // namespace weft_test

#define CO_CHECK_EQ(expr, expected)   \
  do {                                \
    auto co_value_ = co_await (expr); \
    INFO("co_await " #expr);          \
    CHECK(co_value_ == (expected));   \
  } while (false)

#define CO_REQUIRE_EQ(expr, expected) \
  do {                                \
    auto co_value_ = co_await (expr); \
    INFO("co_await " #expr);          \
    REQUIRE(co_value_ == (expected)); \
  } while (false)

#define CO_REQUIRE_THROWS_AS(expr, exception)                          \
  do {                                                                 \
    std::exception_ptr co_error_ = co_await weft_test::error_of(expr); \
    INFO("co_await " #expr);                                           \
    REQUIRE_THROWS_AS(weft_test::rethrow_if(co_error_), exception);    \
  } while (false)
