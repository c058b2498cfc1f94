// weft/ipc/worker.hpp: start hooks in every worker, random streams that
// differ between workers, in_worker().
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <vector>

#include "process_pool_test_support.hpp"
#include "weft/ipc/process.hpp"
#include "weft/ipc/worker.hpp"

using namespace ipc_test;
using weft::ipc::process_pool;

namespace {

int hook_ran = 0;
void start_hook() { hook_ran = 42; }
int hook_value() { return hook_ran; }

std::uint64_t engine_draw() { return weft::ipc::random_engine()(); }
int c_rand() { return std::rand(); }
bool inside() { return weft::ipc::in_worker(); }
std::pair<int, std::uint64_t> pid_and_draw(int) { return {static_cast<int>(::getpid()), weft::ipc::random_engine()()}; }

}  // namespace

TEST_CASE("at_worker_start runs in every new worker, pools and processes", "[ipc][worker]") {
  static bool registered = [] {
    weft::ipc::at_worker_start(start_hook);
    return true;
  }();
  (void)registered;
  CHECK_THROWS_AS(weft::ipc::at_worker_start(nullptr), std::invalid_argument);
  CHECK(hook_ran == 0);  // not in the parent
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 2}};
    {
      auto got = co_await pool.call(hook_value);
      CHECK(got == 42);
    }
    auto p = weft::ipc::process::start(hook_value);
    {
      auto got = co_await p.result();
      CHECK(got == 42);
    }
  }());
}

TEST_CASE("workers draw different random numbers, though forked from one state", "[ipc][worker]") {
  // Used in the parent before the workers exist: a plain fork would copy it.
  (void)weft::ipc::random_engine()();
  std::srand(1);
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    process_pool pool{{.workers = 4}};
    std::vector<int> items(64);
    auto draws = co_await pool.map(pid_and_draw, items, 1);
    std::set<int> pids;
    std::set<std::uint64_t> values;
    for (auto& [pid, v] : draws) {
      pids.insert(pid);
      values.insert(v);
    }
    CHECK(pids.size() >= 2);
    CHECK(values.size() == draws.size());  // no two draws alike, within or across workers
    std::set<std::uint64_t> firsts;
    std::set<int> c_firsts;
    for (int i = 0; i < 4; ++i) {
      firsts.insert(co_await weft::ipc::process::start(engine_draw).result());
      c_firsts.insert(co_await weft::ipc::process::start(c_rand).result());
    }
    CHECK(firsts.size() == 4);    // each process's first draw differs
    CHECK(c_firsts.size() == 4);  // rand() is reseeded in each
    {
      bool got = co_await pool.call(inside);
      CHECK(got);
    }
    CHECK_FALSE(weft::ipc::in_worker());
  }());
  CHECK(weft::ipc::fresh_seed() != weft::ipc::fresh_seed());
}
