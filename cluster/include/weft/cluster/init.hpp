// weft::cluster::init(argc, argv): joins the MPI job and splits the ranks
// into the caller (rank 0) and the servers (every other rank).
//
//   int main(int argc, char** argv) {
//     weft::cluster::init(argc, argv);   // ranks 1..N-1 serve here and never return
//     return weft::run(program());       // rank 0: the program, using weft::cluster::pool
//   }
//
// Launch it as any MPI program: `mpirun -n 4 ./app`, `mpirun -H a,b ./app`,
// `mpirun --hostfile hosts ./app`, or Slurm's `srun`. Started without mpirun
// it is a job of one rank (the caller alone: a pool has no servers and its
// calls fail with pool_error saying so).
//
// init() must come first in main, before any thread is started: it starts
// weft's fork server while the process has one thread (so that serving
// ranks can fork local workers), then MPI (MPI_THREAD_SERIALIZED: from then
// on only weft's progress thread calls MPI; the program must not call MPI
// itself). It checks that every rank runs the same executable with the same
// WEFT_REMOTE registry; a mismatch ends every rank with exit code 2 and a
// message naming the mismatched rank and its host. On a serving rank it
// then serves pools until rank 0 ends the job, and exits the process with
// code 0; it never returns there. On rank 0 it returns, and the job ends
// when rank 0's program exits (an atexit handler tells the servers to stop
// and finalizes MPI), or at finalize().
//
// Fault model (Open MPI 4.1): a task's crash or timeout is local to its
// serving rank's process pool and fails that task only. The loss of a whole
// rank (a node's crash, kill -9) ends the job: mpirun notices the rank's
// death, prints which rank died on which node ("mpirun noticed that process
// rank 2 with PID ... on node HOST exited on signal 9"), kills every other
// rank, and exits non-zero, within a second or two; each rank's fork server
// and local workers die with their rank (they watch it), so no process is
// left behind on any host. Writes a rank made with whole-line writes (one
// write(2) per line, as std::endl-flushed or line-buffered streams do) end
// on a whole line.
//
// The progress thread spins (yielding the CPU) for WEFT_CLUSTER_SPIN idle
// rounds (default 2000) after the last message before it sleeps in short
// waits: MPI cannot wake a thread, so a sleeping progress thread adds up
// to 0.1-1 ms to a round trip; spinning measured faster even on an
// oversubscribed machine. Lower it where ranks share cores with other work.
//
// Nothing here suspends: cancellation does not apply.
#pragma once

#include <string>
#include <vector>

namespace weft::cluster {

/// One rank of the job, as it reported itself at init().
struct rank_info {
  int rank = 0;
  std::string host;    // MPI_Get_processor_name
  int pid = 0;         // its process id on that host
  unsigned cores = 0;  // hardware threads there (the default local pool size)
};

/// Joins the job; see above. Returns on rank 0 only. Calling it again is a
/// no-op. Throws std::runtime_error if MPI cannot start.
void init(int& argc, char**& argv);

/// Ends the job from rank 0 before main returns (idempotent; the atexit
/// handler calls it otherwise). Pools must be shut down or destroyed first.
void finalize();

/// This process's rank (0: the caller) and the job's size; 0 and 1 before init.
int rank() noexcept;
int size() noexcept;

/// Every rank of the job, by rank (empty before init).
const std::vector<rank_info>& ranks() noexcept;

}  // namespace weft::cluster
