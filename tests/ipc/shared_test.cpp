// The shared heap, reference counting, shared_value, shared_array and the
// handles' serialization, within one process and across forked children.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
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

namespace {



}  // namespace

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

TEST_CASE("shared objects: references taken in a child count, inherited ones do not", "[ipc][shared][refcount]") {
  const std::size_t base = in_use();
  std::optional<shared_value<long>> v{std::in_place, 0};
  std::optional<shared_value<long>> leaked_in_child{std::in_place, 0};
  const pid_t pid = fork_child([&] {
    // A copy the child makes is a reference of its own, dropped here.
    { shared_value<long> copy = *v; copy.fetch_add(1); }
    // The child's inherited handle was never counted: dropping it must
    // not take the parent's reference away.
    v.reset();
    // A reference the child takes and never drops (as if it crashed) leaks.
    new shared_value<long>(*leaked_in_child);
    return 0;
  });
  REQUIRE(wait_child(pid) == 0);
  REQUIRE(v);
  CHECK(v->load() == 1);
  CHECK(v->use_count() == 1);
  CHECK(leaked_in_child->use_count() == 2);
  v.reset();
  leaked_in_child.reset();
  CHECK(in_use() > base);  // the child's leaked reference keeps its block
}

// ------------------------------------------------------------ shared_value

TEST_CASE("shared_value: atomic operations", "[ipc][shared][value]") {
  shared_value<long> v{10};
  CHECK(v.load() == 10);
  v.store(20);
  CHECK(v.exchange(30) == 20);
  long expected = 29;
  CHECK_FALSE(v.compare_exchange_strong(expected, 40));
  CHECK(expected == 30);
  CHECK(v.compare_exchange_strong(expected, 40));
  while (!v.compare_exchange_weak(expected, 41)) {
  }
  CHECK(v.fetch_add(9) == 41);
  CHECK(v.fetch_sub(50) == 50);
  CHECK(v.load() == 0);
  CHECK(v.fetch_or(6) == 0);
  CHECK(v.fetch_and(3) == 6);
  CHECK(v.fetch_xor(1) == 2);
  CHECK(v.load() == 3);
  CHECK(v.atomic().load() == 3);
  v.unsafe_ref() += 1;
  CHECK(v.load() == 4);

  shared_value<double> d{0.5};
  CHECK(d.fetch_add(1.0) == 0.5);
  CHECK(d.load() == 1.5);
  shared_value<bool> flag;  // T{}
  CHECK_FALSE(flag.load());
  struct alignas(8) pair32 {
    std::int32_t a, b;
  };
  shared_value<pair32> p{pair32{1, 2}};
  CHECK(p.load().b == 2);
}

TEST_CASE("shared_value: stores are visible across processes", "[ipc][shared][value]") {
  shared_value<int> v{41};
  shared_array<char> text(32);
  const pid_t pid = fork_child([&] {
    if (v.load() != 41) return 1;
    v.store(42);
    std::strcpy(text.data(), "written by the child");
    return 0;
  });
  CHECK(wait_child(pid) == 0);
  CHECK(v.load() == 42);
  CHECK(std::string(text.data()) == "written by the child");
}

TEST_CASE("shared_value: 4 children x 100,000 fetch_add lose nothing", "[ipc][shared][value]") {
  shared_value<long> counter{0};
  shared_value<long> bits{0};
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k)
    kids.push_back(fork_child([=] {
      for (int i = 0; i < 100'000; ++i) counter.fetch_add(1);
      bits.fetch_or(1L << k);
      return 0;
    }));
  for (int code : wait_children(kids)) CHECK(code == 0);
  CHECK(counter.load() == 400'000);
  CHECK(bits.load() == 0xf);
}

// ------------------------------------------------------------ shared_array

TEST_CASE("shared_array: construction, access and bounds", "[ipc][shared][array]") {
  shared_array<double> zeros(5);
  CHECK(zeros.size() == 5);
  for (double x : zeros) CHECK(x == 0.0);
  shared_array<int> filled(4, 7);
  CHECK(filled[3] == 7);
  filled[2] = 9;
  CHECK(filled.at(2) == 9);
  CHECK(filled.span().size() == 4);
  CHECK(filled.span()[2] == 9);
  const std::vector<long> src{1, 2, 3};
  shared_array<long> copied{std::span<const long>(src)};
  CHECK(copied.size() == 3);
  CHECK(copied[0] + copied[1] + copied[2] == 6);
  shared_array<int> empty(0);
  CHECK(empty.empty());
  CHECK(empty.begin() == empty.end());

  CHECK_THROWS_WITH(filled.at(4), Catch::Contains("index 4") && Catch::Contains("size 4"));
  CHECK_THROWS_AS(filled.atomic(4), std::out_of_range);
  CHECK_THROWS_AS(shared_array<double>(SIZE_MAX / 4), std::length_error);

  struct alignas(64) line {
    char bytes[64];
  };
  shared_array<line> lines(3);
  CHECK(reinterpret_cast<std::uintptr_t>(lines.data()) % 64 == 0);
  shared_array<std::int64_t> words(3);
  CHECK(reinterpret_cast<std::uintptr_t>(words.data()) % 8 == 0);
  CHECK(words.atomic(1).fetch_add(5) == 0);
  CHECK(words[1] == 5);
}

TEST_CASE("shared_array: children write their slices and count atomically", "[ipc][shared][array]") {
  constexpr int kids_n = 4, slice = 1000;
  shared_array<int> out(kids_n * slice);
  shared_array<long> totals(2);
  std::vector<pid_t> kids;
  for (int k = 0; k < kids_n; ++k)
    kids.push_back(fork_child([=] {
      for (int i = 0; i < slice; ++i) out[static_cast<std::size_t>(k * slice + i)] = k * slice + i;
      for (int i = 0; i < 100'000; ++i) totals.atomic(static_cast<std::size_t>(i % 2)).fetch_add(1);
      return 0;
    }));
  for (int code : wait_children(kids)) CHECK(code == 0);
  bool all = true;
  for (int i = 0; i < kids_n * slice; ++i) all = all && out[static_cast<std::size_t>(i)] == i;
  CHECK(all);
  CHECK(totals[0] == 200'000);
  CHECK(totals[1] == 200'000);
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

TEST_CASE("a handle decoded in a child counts there and is dropped there", "[ipc][shared][serialize]") {
  shared_value<long> v{0};
  shared_array<std::byte> wire(64);
  const auto bytes = encoded(v);
  std::memcpy(wire.data(), bytes.data(), bytes.size());
  shared_value<std::uint32_t> seen_count{0};
  const pid_t pid = fork_child([&] {
    weft::ipc::byte_reader r(wire.data(), bytes.size());
    auto mine = weft::ipc::decode<shared_value<long>>(r);
    seen_count.store(mine.use_count());
    mine.fetch_add(100);
    return 0;  // `mine` is dropped on the way out
  });
  CHECK(wait_child(pid) == 0);
  CHECK(seen_count.load() == 2);
  CHECK(v.load() == 100);
  CHECK(v.use_count() == 1);
}
