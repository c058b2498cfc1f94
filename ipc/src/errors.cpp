#include "weft/ipc/errors.hpp"

#include <cxxabi.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <typeinfo>

namespace weft::ipc {

namespace {

std::string describe_status(int pid, int status) {
  std::string who = "weft: worker process " + std::to_string(pid);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::sigabbrev_np(sig);
    return who + " died from signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "") +
           (WCOREDUMP(status) ? ", core dumped" : "");
  }
  if (WIFEXITED(status)) return who + " exited with code " + std::to_string(WEXITSTATUS(status)) + " while running a task";
  return who + " ended (status " + std::to_string(status) + ")";
}

}  // namespace

remote_error::remote_error(std::string type_name, std::string message)
    : std::runtime_error(type_name + ": " + message), type_(std::move(type_name)), message_(std::move(message)) {}

worker_crashed::worker_crashed(int pid, int status)
    : std::runtime_error(describe_status(pid, status)),
      pid_(pid),
      signal_(WIFSIGNALED(status) ? WTERMSIG(status) : 0),
      exit_code_(WIFEXITED(status) ? WEXITSTATUS(status) : -1) {}

worker_crashed::worker_crashed(int pid, std::string message)
    : std::runtime_error(std::move(message)), pid_(pid), signal_(0), exit_code_(-1) {}

protocol_error::protocol_error(int pid, const std::string& what)
    : worker_crashed(pid, "weft: worker process " + std::to_string(pid) + " broke the pool's protocol (" + what +
                              "); it was killed and replaced") {}

std::string exception_type_name(const std::exception& e) {
  const char* mangled = typeid(e).name();
  int rc = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &rc), std::free);
  return rc == 0 && demangled ? std::string(demangled.get()) : std::string(mangled);
}

}  // namespace weft::ipc
