// weft::ipc::shared_array: construction, access and bounds, alignment,
// handles sharing one array, and children writing their own slices and
// counting atomically.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "shared_support.hpp"
#include "weft/ipc.hpp"

using weft::ipc::shared_array;
using namespace ipc_test;

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

TEST_CASE("shared_array: copies name the same array, a moved-from handle is empty", "[ipc][shared][array]") {
  shared_array<int> a(4, 1);
  CHECK(a);
  CHECK(a.use_count() == 1);
  shared_array<int> b = a;
  CHECK(a.use_count() == 2);
  b[3] = 8;
  CHECK(a[3] == 8);
  CHECK(b.data() == a.data());
  shared_array<int> c = std::move(b);
  CHECK_FALSE(b);
  CHECK(c);
  CHECK(a.use_count() == 2);
  c = shared_array<int>(2, 9);  // c lets go of a's array, takes another
  CHECK(a.use_count() == 1);
  CHECK(c.size() == 2);
  CHECK(c[1] == 9);
  CHECK(a.size() == 4);
  CHECK(a[3] == 8);
}
