// CHECK(condition): the snippets' assertion. Every program under
// docs/snippets/ checks what it shows; a check that fails prints the file,
// the line and the condition, and ends the program with exit status 1
// (at once, from whichever thread: _Exit, so that a runtime still running
// cannot hold the failure up).
#pragma once

#include <cstdio>
#include <cstdlib>

#define CHECK(condition) ::snippet::check((condition), #condition, __FILE__, __LINE__)

namespace snippet {

inline void check(bool ok, const char* what, const char* file, int line) {
  if (ok) return;
  std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
  std::fflush(nullptr);
  std::_Exit(1);
}

}  // namespace snippet
