// frame_alloc: weft's coroutine-frame pool (weft::detail::frame_alloc /
// frame_free, per-thread size-class free lists) against plain
// ::operator new / ::operator delete, on blocks the size of a trivial spawned
// task's coroutine frame. The pool cannot be switched off at run time (only an
// ASan build bypasses it), so this times the allocator calls themselves, on
// one thread, in two patterns of B (default 10,000,000) blocks each:
//   loop: allocate one block, free it, repeat (the hot free-list case);
//   lifo: allocate 1,000,000 blocks, then free them newest first, repeat
//         (a spawn burst followed by its joins; exercises the pool's spill to
//         and refill from its global lists).
// pool_ns / new_ns: ns per allocate+free pair over both patterns;
// ratio = pool_ns / new_ns (< 1: the pool is faster).
//
//   bench_frame_alloc [B]
//   -> RESULT weft.frame_alloc size=... blocks=... pool_ns=... new_ns=... ratio=... loop_pool_ns=... ...
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "weft/runtime/detail/frame_allocator.hpp"
#include "weft/weft.hpp"

namespace {

using bench_clock = std::chrono::steady_clock;

// ---- the frame size of a trivial task: a coroutine with weft's promise
// layout (task_promise<uint64_t>) and the body `co_return i;`.
std::size_t probed_frame_size = 0;

struct probe {
  struct promise_type : weft::detail::task_promise<std::uint64_t> {
    static void* operator new(std::size_t n) {
      probed_frame_size = n;
      return ::operator new(n);
    }
    static void operator delete(void* p, std::size_t n) noexcept { ::operator delete(p, n); }
    probe get_return_object() noexcept { return probe{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always final_suspend() noexcept { return {}; }
  };
  std::coroutine_handle<promise_type> h;
};

probe trivial_probe(std::uint64_t i) { co_return i; }

std::size_t trivial_frame_size() {
  probe p = trivial_probe(1);
  p.h.destroy();
  return probed_frame_size;
}

// ---- allocators under test
struct pool_alloc {
  static void* alloc(std::size_t n) { return weft::detail::frame_alloc(n); }
  static void free(void* p, std::size_t n) noexcept { weft::detail::frame_free(p, n); }
};
struct new_alloc {
  static void* alloc(std::size_t n) { return ::operator new(n); }
  static void free(void* p, std::size_t n) noexcept { ::operator delete(p, n); }
};

// Keeps the compiler from pairing up and eliding allocations.
inline void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

template <class A>
double loop_pattern(std::size_t size, std::uint64_t blocks) {
  const auto t0 = bench_clock::now();
  for (std::uint64_t i = 0; i < blocks; ++i) {
    void* p = A::alloc(size);
    *static_cast<volatile unsigned char*>(p) = static_cast<unsigned char>(i);  // touch it, as a frame would be
    escape(p);
    A::free(p, size);
  }
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

template <class A>
double lifo_pattern(std::size_t size, std::uint64_t blocks, std::vector<void*>& slots) {
  const std::uint64_t burst = slots.size();
  const auto t0 = bench_clock::now();
  for (std::uint64_t done = 0; done < blocks; done += burst) {
    for (std::uint64_t i = 0; i < burst; ++i) {
      void* p = A::alloc(size);
      *static_cast<volatile unsigned char*>(p) = static_cast<unsigned char>(i);
      slots[i] = p;
    }
    escape(slots.data());
    for (std::uint64_t i = burst; i-- > 0;) A::free(slots[i], size);
  }
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const long long arg = argc > 1 ? std::atoll(argv[1]) : 0;
  std::uint64_t blocks = arg > 0 ? static_cast<std::uint64_t>(arg) : 10000000;
  const std::uint64_t burst = blocks < 1000000 ? blocks : 1000000;
  blocks = (blocks + burst - 1) / burst * burst;  // whole bursts
  const std::size_t size = trivial_frame_size();
  if (size == 0) std::abort();
  std::vector<void*> slots(burst);

  // Warm both allocators up (first-touch page faults, the pool's chunks).
  lifo_pattern<new_alloc>(size, burst, slots);
  lifo_pattern<pool_alloc>(size, burst, slots);

  const double loop_new = loop_pattern<new_alloc>(size, blocks);
  const double loop_pool = loop_pattern<pool_alloc>(size, blocks);
  const double lifo_new = lifo_pattern<new_alloc>(size, blocks, slots);
  const double lifo_pool = lifo_pattern<pool_alloc>(size, blocks, slots);

  const double per = 1e9 / static_cast<double>(blocks);
  const double pool_ns = (loop_pool + lifo_pool) * per / 2;
  const double new_ns = (loop_new + lifo_new) * per / 2;
  std::printf(
      "RESULT weft.frame_alloc size=%zu blocks=%llu pool_ns=%.2f new_ns=%.2f ratio=%.3f "
      "loop_pool_ns=%.2f loop_new_ns=%.2f lifo_pool_ns=%.2f lifo_new_ns=%.2f pool_chunk_mib=%.1f\n",
      size, static_cast<unsigned long long>(blocks), pool_ns, new_ns, pool_ns / new_ns, loop_pool * per, loop_new * per,
      lifo_pool * per, lifo_new * per, static_cast<double>(weft::detail::frame_pool_chunk_bytes()) / (1024.0 * 1024.0));
  return 0;
}
