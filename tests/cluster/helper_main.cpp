// A small cluster program for job_test.py, which watches whole jobs from
// outside: rank 0 prints every rank's pid and host, says "working" once
// tasks come back, and keeps a map running for up to a minute (the test
// kills a serving rank meanwhile). Built twice: weft_cluster_helper_other
// (WEFT_CLUSTER_HELPER_OTHER) registers one more function, so a job mixing
// the two must be refused at start-up.
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "weft/cluster/init.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/runtime/runtime.hpp"

namespace {

int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

#ifdef WEFT_CLUSTER_HELPER_OTHER
int extra(int x) { return x; }
#endif

}  // namespace

WEFT_REMOTE(nap);
#ifdef WEFT_CLUSTER_HELPER_OTHER
WEFT_REMOTE(extra);
#endif

weft::task<int> work() {
  weft::cluster::pool pool{{.workers_per_rank = 1}};
  std::vector<int> items(40, 50);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool said = false;
  while (std::chrono::steady_clock::now() < deadline) {
    auto done = co_await pool.map(nap, items, 1);
    if (!said) {
      std::printf("working (%zu results)\n", done.size());
      std::fflush(stdout);
      said = true;
    }
  }
  co_await pool.shutdown();
  co_return 0;
}

int main(int argc, char** argv) {
  weft::cluster::init(argc, argv);
  for (const auto& r : weft::cluster::ranks()) std::printf("rank %d pid %d host %s\n", r.rank, r.pid, r.host.c_str());
  std::fflush(stdout);
  weft::runtime rt;
  return rt.block_on(work());
}
