// The shared heap under every ipc object (ipc/src/shared_heap.hpp), and
// what all the handles into it share (detail/shared_block.hpp): reference
// counting and serialization, for each kind of handle, within one process
// and across forked children. What is particular to one type is in its
// own test file (shared_value_test.cpp, shared_array_test.cpp, ...).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "heap_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"

using weft::ipc::shared_array;
using weft::ipc::shared_value;
using weft::ipc::detail::shared_heap;
using namespace ipc_test;

// ------------------------------------------------------------ shared heap

TEST_CASE("shared heap: blocks are aligned, reused and coalesced", "[ipc][shared][heap]") {
  shared_heap& heap = shared_heap::instance();
  const std::size_t base = heap.in_use();
  for (std::size_t align : {1, 8, 16, 64, 256, 4096}) {
    void* p = heap.allocate(100, align);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % align == 0);
    CHECK(heap.contains(p));
    std::memset(p, 0xab, 100);
    heap.deallocate(p);
  }
  CHECK(heap.in_use() == base);

  // Three neighbours; freeing the middle then the first leaves one hole
  // both fit in, which first fit hands out again at the same place.
  void* a = heap.allocate(1000, 16);
  void* b = heap.allocate(1000, 16);
  void* c = heap.allocate(1000, 16);
  CHECK(heap.in_use() > base);
  heap.deallocate(b);
  heap.deallocate(a);
  void* ab = heap.allocate(2000, 16);
  CHECK(ab == a);
  heap.deallocate(ab);
  heap.deallocate(c);
  CHECK(heap.in_use() == base);

  // Many sizes, freed in another order: everything comes back.
  std::vector<void*> ps;
  for (std::size_t i = 1; i < 300; ++i) ps.push_back(heap.allocate(i * 37, i % 2 ? 16 : 128));
  for (std::size_t i = 0; i < ps.size(); i += 2) heap.deallocate(ps[i]);
  for (std::size_t i = 1; i < ps.size(); i += 2) heap.deallocate(ps[i]);
  CHECK(heap.in_use() == base);

  CHECK_FALSE(heap.contains(&base));
  CHECK_THROWS_AS(heap.allocate(8, 3), std::invalid_argument);
  CHECK_THROWS_AS(heap.allocate(8, 8192), std::invalid_argument);
}

TEST_CASE("shared heap: a full heap throws shared_heap_exhausted naming WEFT_SHARED_HEAP_MB", "[ipc][shared][heap]") {
  const std::size_t base = in_use();
  const std::size_t too_many = shared_heap::instance().size() + 1;
  try {
    shared_array<char> a(too_many);
    FAIL("an array larger than the heap was made");
  } catch (const weft::ipc::shared_heap_exhausted& e) {
    CHECK(e.requested() >= too_many);
    CHECK(std::string(e.what()).find("WEFT_SHARED_HEAP_MB") != std::string::npos);
  }
  CHECK_THROWS_AS(shared_array<char>(shared_heap::instance().size() / 2 * 3), std::bad_alloc);
  CHECK(in_use() == base);
}

TEST_CASE("shared heap: WEFT_SHARED_HEAP_MB is checked", "[ipc][shared][heap]") {
  using weft::ipc::detail::shared_heap_size_from_env;
  CHECK(shared_heap_size_from_env(nullptr) == std::size_t{1024} << 20);
  CHECK(shared_heap_size_from_env("") == std::size_t{1024} << 20);
  CHECK(shared_heap_size_from_env("64") == std::size_t{64} << 20);
  CHECK(shared_heap_size_from_env("1048576") == std::size_t{1} << 40);
  for (const char* bad : {"0", "-1", "12k", "1.5", " 64", "1048577", "99999999999999999999999"}) {
    INFO(bad);
    CHECK_THROWS_WITH(shared_heap_size_from_env(bad), Catch::Contains("WEFT_SHARED_HEAP_MB"));
  }
}

TEST_CASE("shared heap: a child allocates and frees after the fork", "[ipc][shared][heap]") {
  shared_value<std::uint64_t> child_in_use{0};
  const std::size_t base = in_use();
  const pid_t pid = fork_child([&] {
    {
      shared_value<long> v{5};
      shared_array<double> a(10'000, 1.5);
      std::vector<shared_value<int>> many;
      for (int i = 0; i < 100; ++i) many.emplace_back(i);
      if (v.load() != 5 || a[9'999] != 1.5 || many[99].load() != 99) return 1;
      child_in_use.store(in_use());
    }
    return in_use() == base ? 0 : 2;
  });
  CHECK(wait_child(pid) == 0);
  CHECK(child_in_use.load() > base);  // the child's blocks were in this heap...
  CHECK(in_use() == base);            // ...and are gone
}

namespace {
// Allocates and frees blocks of varied sizes and alignments in a loop,
// checking that each block keeps what was written to it.
bool churn(unsigned seed, int rounds) {
  shared_heap& heap = shared_heap::instance();
  std::vector<std::pair<unsigned char*, std::size_t>> live;
  for (int i = 0; i < rounds; ++i) {
    seed = seed * 1103515245 + 12345;
    if (live.size() < 64 && (seed >> 16) % 3 != 0) {
      const std::size_t n = 1 + (seed >> 8) % 3000;
      auto* p = static_cast<unsigned char*>(heap.allocate(n, std::size_t{16} << ((seed >> 4) % 4)));
      std::memset(p, static_cast<int>(n & 0xff), n);
      live.emplace_back(p, n);
    } else if (!live.empty()) {
      auto [p, n] = live[(seed >> 12) % live.size()];
      for (std::size_t k = 0; k < n; ++k)
        if (p[k] != static_cast<unsigned char>(n & 0xff)) return false;
      heap.deallocate(p);
      live.erase(std::find(live.begin(), live.end(), std::make_pair(p, n)));
    }
  }
  for (auto [p, n] : live) heap.deallocate(p);
  return true;
}
}  // namespace

TEST_CASE("shared heap: 4 processes allocate and free at once", "[ipc][shared][heap]") {
  const std::size_t base = in_use();
  std::vector<pid_t> kids;
  for (unsigned k = 0; k < 4; ++k) kids.push_back(fork_child([k] { return churn(k + 1, 20'000) ? 0 : 1; }));
  for (int code : wait_children(kids)) CHECK(code == 0);
  CHECK(in_use() == base);
  CHECK(churn(99, 2000));
  CHECK(in_use() == base);
}

TEST_CASE("shared heap: processes killed in the middle of allocating leave a usable heap", "[ipc][shared][heap]") {
  for (int round = 0; round < 4; ++round) {
    std::vector<pid_t> kids;
    for (unsigned k = 0; k < 3; ++k)
      kids.push_back(fork_child([k, round] {
        for (;;) churn(k + 7u * static_cast<unsigned>(round), 1000);  // until killed, mostly inside the allocator
        return 0;
      }));
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + 20 * round));
    for (pid_t p : kids) ::kill(p, SIGKILL);
    for (int code : wait_children(kids)) CHECK(code == -SIGKILL);
    // Whatever they held (the allocator's lock, half-made blocks) must not
    // hang or break the others; their live blocks are leaked.
    CHECK(churn(123, 2000));
    shared_value<long> v{1};
    CHECK(v.load() == 1);
  }
}

// ------------------------------------------------------ reference counting

TEST_CASE("shared objects: copies share, the last drop frees the block", "[ipc][shared][refcount]") {
  const std::size_t base = in_use();
  {
    shared_value<long> a{1};
    CHECK(in_use() > base);
    CHECK(a.use_count() == 1);
    shared_value<long> b = a;
    CHECK(a.use_count() == 2);
    b.store(7);
    CHECK(a.load() == 7);
    shared_value<long> c = std::move(b);
    CHECK(a.use_count() == 2);
    CHECK_FALSE(b);
    CHECK(c);
    c = shared_value<long>{3};  // c lets go of a's block, takes another
    CHECK(a.use_count() == 1);
    CHECK(c.load() == 3);
    shared_array<int> arr(100);
    weft::ipc::mutex m;
    weft::ipc::semaphore s{1};
    weft::ipc::process_queue<num> q{8};
    auto m2 = m;
    auto q2 = q;
  }
  CHECK(in_use() == base);
}

// ------------------------------------------------------------ serialization

TEST_CASE("handles serialize as heap offsets and decode to new references", "[ipc][shared][serialize]") {
  const std::size_t base = in_use();
  {
    shared_value<long> v{5};
    auto bytes = encoded(v);
    CHECK(bytes.size() == 16);
    {
      auto w = decoded<shared_value<long>>(bytes);
      CHECK(v.use_count() == 2);
      w.store(6);
      CHECK(v.load() == 6);
    }
    CHECK(v.use_count() == 1);

    shared_array<int> a(3, 4);
    CHECK(decoded<shared_array<int>>(encoded(a))[2] == 4);
    weft::ipc::mutex m;
    auto m2 = decoded<weft::ipc::mutex>(encoded(m));
    auto g = m.try_lock();
    CHECK(g);
    CHECK_FALSE(m2.try_lock());
    weft::ipc::semaphore s{3};
    CHECK(decoded<weft::ipc::semaphore>(encoded(s)).value() == 3);
    weft::ipc::process_queue<num> q{4};
    CHECK(q.try_push(num{8}));
    CHECK(decoded<weft::ipc::process_queue<num>>(encoded(q)).try_pop()->v == 8);

    // The wrong type, a freed object, bytes that name nothing.
    CHECK_THROWS_WITH(decoded<shared_value<int>>(bytes), Catch::Contains("another type"));
    CHECK_THROWS_WITH(decoded<shared_array<long>>(bytes), Catch::Contains("another type"));
    CHECK_THROWS_WITH(decoded<weft::ipc::process_queue<record>>(encoded(q)), Catch::Contains("another type"));
    auto stale = encoded(shared_value<long>{1});
    CHECK_THROWS_WITH(decoded<shared_value<long>>(stale), Catch::Contains("freed before it was received"));
    std::vector<std::byte> junk(16, std::byte{0x5a});
    CHECK_THROWS_WITH(decoded<shared_value<long>>(junk), Catch::Contains("shared heap"));
    CHECK_THROWS_AS(decoded<shared_value<long>>(std::vector<std::byte>(8)), weft::ipc::serialization_error);
    shared_value<long> moved_from = std::move(v);
    CHECK_THROWS_AS(encoded(v), weft::ipc::serialization_error);
    CHECK(moved_from.use_count() == 1);
  }
  CHECK(in_use() == base);
}
