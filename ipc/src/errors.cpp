#include "weft/ipc/errors.hpp"

#include <cxxabi.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <typeinfo>

namespace weft::ipc {

namespace {

std::string describe_status(int pid, int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::sigabbrev_np(sig);  // null for a number with no name
    return fmt::format("weft: worker process {} died from signal {}{}{}", pid, sig,
                       name ? fmt::format(" (SIG{})", name) : std::string(), WCOREDUMP(status) ? ", core dumped" : "");
  }
  if (WIFEXITED(status))
    return fmt::format("weft: worker process {} exited with code {} while running a task", pid, WEXITSTATUS(status));
  return fmt::format("weft: worker process {} ended (status {})", pid, status);
}

}  // namespace

remote_error::remote_error(std::string type_name, std::string message)
    : std::runtime_error(fmt::format("{}: {}", type_name, message)),
      type_(std::move(type_name)),
      message_(std::move(message)) {}

worker_crashed::worker_crashed(int pid, int status)
    : std::runtime_error(describe_status(pid, status)),
      pid_(pid),
      signal_(WIFSIGNALED(status) ? WTERMSIG(status) : 0),
      exit_code_(WIFEXITED(status) ? WEXITSTATUS(status) : -1) {}

worker_crashed::worker_crashed(int pid, std::string message)
    : std::runtime_error(std::move(message)), pid_(pid), signal_(0), exit_code_(-1) {}

protocol_error::protocol_error(int pid, const std::string& what)
    : worker_crashed(pid, fmt::format("weft: worker process {} broke the pool's protocol ({}); it was killed and "
                                      "replaced",
                                      pid, what)) {}

std::string exception_type_name(const std::exception& e) {
  const char* mangled = typeid(e).name();
  int rc = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &rc), std::free);
  return rc == 0 && demangled ? std::string(demangled.get()) : std::string(mangled);
}

}  // namespace weft::ipc
