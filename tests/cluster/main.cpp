// The cluster tests' main: every rank joins the job; ranks 1..N-1 serve
// inside init() and never return; rank 0 runs the Catch2 session.
// Run under `mpirun -n 4 --allow-run-as-root --oversubscribe` (ctest does).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "weft/cluster/init.hpp"

int main(int argc, char** argv) {
  weft::cluster::init(argc, argv);
  return Catch::Session().run(argc, argv);
}
