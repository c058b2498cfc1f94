// What code running in a worker process can rely on: hooks run in every
// new worker, and random numbers that differ between workers.
//
//   void reset_caches() { my_cache.clear(); }
//   weft::ipc::at_worker_start(reset_caches);   // in main, before the pools
//
//   double sample() {                           // runs in a worker
//     std::uniform_real_distribution<double> d(0, 1);
//     return d(weft::ipc::random_engine());     // its own stream in each process
//   }
//
// Workers (of a process_pool, of spawn_process, a weft::ipc::process) are
// forks of one copy of the program: a generator created and seeded before
// them is copied into each, and every worker then draws the same numbers.
// Python reseeds `random` in a forked child; weft does the same for the C
// library's generators (rand, random, drand48 are seeded from the OS in
// every new worker), and gives C++ code random_engine(), seeded from the OS
// the first time each process (and thread) uses it. The rule: draw from
// random_engine(), or seed your own engine from fresh_seed() inside the
// worker (in the task, or in an at_worker_start hook), never from a seed
// taken in the parent.
//
// Nothing here waits: cancellation does not apply.
#pragma once

#include <cstdint>
#include <random>

namespace weft::ipc {

/// Runs `hook` in every worker process started from now on (pool workers,
/// spawn_process's, weft::ipc::process), after the fork and before the
/// pool's initializer and any task. Hooks run in the order registered. A
/// function pointer or captureless lambda: it travels to the worker as an
/// address. A hook that throws makes that worker fail to start, as a
/// throwing initializer does. At most 8 hooks: the ninth throws
/// std::length_error.
void at_worker_start(void (*hook)());

/// 64 bits from the operating system (getrandom): different on every call,
/// in every process.
std::uint64_t fresh_seed();

/// This process's and thread's own generator, seeded with fresh_seed() the
/// first time it is used there: two workers never share a stream, even
/// when the parent used it before they were forked.
std::mt19937_64& random_engine();

/// True in a worker process (pool worker or weft::ipc::process), false in
/// the program itself.
bool in_worker() noexcept;

}  // namespace weft::ipc
