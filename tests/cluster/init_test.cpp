// weft::cluster::init: the job's ranks as init() found them. (A lost rank
// and a mismatched binary are checked from outside the job, by
// job_test.py, through mpirun.)
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <utility>

#include "weft/cluster/init.hpp"

TEST_CASE("init: rank 0 returns and sees every rank with its host, pid and cores", "[cluster][init]") {
  REQUIRE(weft::cluster::rank() == 0);
  REQUIRE(weft::cluster::size() >= 2);
  const auto& ranks = weft::cluster::ranks();
  REQUIRE(ranks.size() == static_cast<std::size_t>(weft::cluster::size()));
  std::set<std::pair<std::string, int>> seen;
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    CHECK(ranks[r].rank == static_cast<int>(r));
    CHECK(!ranks[r].host.empty());
    CHECK(ranks[r].pid > 0);
    CHECK(ranks[r].cores >= 1);
    seen.emplace(ranks[r].host, ranks[r].pid);
  }
  CHECK(seen.size() == ranks.size());  // separate processes
  CHECK(ranks[0].pid == static_cast<int>(::getpid()));
}

TEST_CASE("init: calling it again is a no-op", "[cluster][init]") {
  int argc = 1;
  char name[] = "again";
  char* args[] = {name, nullptr};
  char** argv = args;
  weft::cluster::init(argc, argv);
  CHECK(weft::cluster::rank() == 0);
}
