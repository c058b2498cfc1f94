// weft::ipc::shared_value: atomic operations, stores seen by other
// processes, handles a child copies, inherits or decodes, and 4 children
// counting at once.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "heap_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"

using weft::ipc::shared_array;
using weft::ipc::shared_value;
using namespace ipc_test;

TEST_CASE("shared objects: references taken in a child count, inherited ones do not", "[ipc][shared][refcount]") {
  const std::size_t base = in_use();
  std::optional<shared_value<long>> v{std::in_place, 0};
  std::optional<shared_value<long>> leaked_in_child{std::in_place, 0};
  const pid_t pid = fork_child([&] {
    // A copy the child makes is a reference of its own, dropped here.
    {
      shared_value<long> copy = *v;
      copy.fetch_add(1);
    }
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
