#include "weft/ipc/worker.hpp"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include "channel.hpp"
#include "worker_hooks.hpp"

namespace weft::ipc {

namespace detail {

namespace {
std::mutex hooks_mu;
std::uint64_t hooks[max_start_hooks] = {};
}  // namespace

void copy_start_hooks(std::uint64_t (&out)[max_start_hooks]) noexcept {
  std::lock_guard lock(hooks_mu);
  for (std::size_t i = 0; i < max_start_hooks; ++i) out[i] = hooks[i];
}

}  // namespace detail

void at_worker_start(void (*hook)()) {
  if (!hook) throw std::invalid_argument("weft::ipc::at_worker_start: the hook is null");
  std::lock_guard lock(detail::hooks_mu);
  for (auto& slot : detail::hooks)
    if (slot == 0) {
      slot = reinterpret_cast<std::uintptr_t>(hook);
      return;
    }
  throw std::length_error("weft::ipc::at_worker_start: at most " + std::to_string(detail::max_start_hooks) +
                          " hooks can be registered");
}

std::uint64_t fresh_seed() {
  std::uint64_t seed = 0;
  auto* p = reinterpret_cast<unsigned char*>(&seed);
  std::size_t got = 0;
  while (got < sizeof seed) {
    ssize_t n = ::getrandom(p + got, sizeof seed - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::system_category(), "weft::ipc::fresh_seed: getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  return seed;
}

std::mt19937_64& random_engine() {
  struct per_thread {
    pid_t pid = 0;
    std::mt19937_64 engine;
  };
  thread_local per_thread local;
  pid_t now = ::getpid();
  if (local.pid != now) {
    local.engine.seed(fresh_seed());
    local.pid = now;
  }
  return local.engine;
}

bool in_worker() noexcept { return detail::in_worker_process; }

}  // namespace weft::ipc
