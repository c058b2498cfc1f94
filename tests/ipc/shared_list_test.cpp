// shared_list: operations, bounds, growth, value types, errors, processes
// appending at once, a process killed holding the lock, memory returned to
// the heap, and a handle sent to a process_pool worker.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "heap_support.hpp"
#include "process_pool_test_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"

using namespace std::chrono_literals;
using weft::ipc::shared_list;
using weft::ipc::shared_value;
using weft::ipc::detail::shared_heap;
using namespace ipc_test;

namespace {

struct point {
  int x = 0;
  double y = 0;
  bool operator==(const point&) const = default;
};

// For process_pool workers.
int append_in_worker(shared_list<std::string> l, int from, int n) {
  for (int i = from; i < from + n; ++i) l.push_back("w" + std::to_string(i));
  return static_cast<int>(l.size());
}

}  // namespace

TEST_CASE("shared_list: push_back, at, set, pop_back, size, clear, snapshot", "[ipc][shared_list]") {
  const std::size_t base = in_use();
  {
    shared_list<std::string> l;
    CHECK(l.empty());
    CHECK_FALSE(l.pop_back());
    l.push_back("a");
    l.push_back("bb");
    l.push_back("");
    CHECK(l.size() == 3);
    CHECK(l.at(0) == "a");
    CHECK(l.at(1) == "bb");
    CHECK(l.at(2).empty());
    l.set(1, "BB");     // same size: in place
    l.set(0, "alpha");  // another size: a new blob
    CHECK(l.snapshot() == std::vector<std::string>{"alpha", "BB", ""});
    CHECK(l.update(2, [](std::string& s) { s = "z"; }) == "z");
    CHECK(l.pop_back() == "z");
    CHECK(l.size() == 2);

    shared_list<std::string> copy = l;
    CHECK(l.use_count() == 2);
    copy.push_back("c");
    CHECK(l.at(2) == "c");
    l.clear();
    CHECK(copy.empty());
    CHECK(copy.snapshot().empty());
    copy.push_back("again");
    CHECK(l.at(0) == "again");
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_list: at, set and update past the end throw out_of_range naming index and size",
          "[ipc][shared_list]") {
  shared_list<int> l;
  CHECK_THROWS_AS(l.at(0), std::out_of_range);
  l.push_back(1);
  l.push_back(2);
  CHECK_THROWS_WITH(l.at(5), Catch::Contains("index 5") && Catch::Contains("size 2"));
  CHECK_THROWS_WITH(l.set(2, 0), Catch::Contains("index 2") && Catch::Contains("size 2"));
  CHECK_THROWS_AS(l.update(9, [](int& v) { ++v; }), std::out_of_range);
  CHECK(l.snapshot() == std::vector<int>{1, 2});
}

TEST_CASE("shared_list: tens of thousands of elements grow the array", "[ipc][shared_list]") {
  const std::size_t base = in_use();
  {
    shared_list<std::vector<int>> l;
    constexpr int n = 30'000;
    for (int i = 0; i < n; ++i) l.push_back(std::vector<int>(static_cast<std::size_t>(i % 23), i));
    REQUIRE(l.size() == n);
    for (int i = 0; i < n; i += 7) {
      auto v = l.at(static_cast<std::size_t>(i));
      REQUIRE(v.size() == static_cast<std::size_t>(i % 23));
      if (!v.empty()) REQUIRE(v.front() == i);
    }
    for (int i = n - 1; i >= n / 2; --i) {
      auto v = l.pop_back();
      REQUIRE(v);
      REQUIRE(v->size() == static_cast<std::size_t>(i % 23));
    }
    CHECK(l.size() == n / 2);
    auto snap = l.snapshot();
    REQUIRE(snap.size() == n / 2);
    CHECK(snap[100] == std::vector<int>(100 % 23, 100));
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_list: strings, vectors and structs as elements", "[ipc][shared_list]") {
  shared_list<record> records;
  for (int i = 0; i < 50; ++i) records.push_back(make_record(3, i));
  for (std::size_t i = 0; i < 50; ++i) CHECK(record_ok(records.at(i)));
  shared_list<point> points;
  points.push_back({1, 1.5});
  points.update(0, [](point& p) { p.x += 10; });
  CHECK(points.at(0) == point{11, 1.5});
  shared_list<std::pair<std::string, std::vector<std::string>>> pairs;
  pairs.push_back({"k", {"a", "b"}});
  CHECK(pairs.at(0).second.size() == 2);
}

TEST_CASE("shared_list: a full heap and a throwing update leave the list unchanged", "[ipc][shared_list]") {
  shared_list<std::string> l;
  l.push_back("small");
  CHECK_THROWS_AS(l.update(0, [](std::string&) { throw std::runtime_error("no"); }), std::runtime_error);
  CHECK(l.at(0) == "small");
  const std::string big(std::size_t{64} << 20, 'b');
  {
    heap_filler fill;
    REQUIRE(fill.ok());
    CHECK_THROWS_AS(l.push_back(big), weft::ipc::shared_heap_exhausted);
    CHECK_THROWS_AS(l.set(0, big), weft::ipc::shared_heap_exhausted);
    CHECK_THROWS_AS(l.update(0, [&](std::string& s) { s = big; }), weft::ipc::shared_heap_exhausted);
    CHECK(l.size() == 1);
    CHECK(l.at(0) == "small");
  }
  l.push_back(big);
  CHECK(l.at(1).size() == big.size());
}

TEST_CASE("shared_list: handles serialize and check the type", "[ipc][shared_list]") {
  shared_list<long> l;
  l.push_back(4);
  const auto bytes = encoded(l);
  {
    auto l2 = decoded<shared_list<long>>(bytes);
    CHECK(l.use_count() == 2);
    CHECK(l2.at(0) == 4);
  }
  CHECK(l.use_count() == 1);
  CHECK_THROWS_WITH(decoded<shared_list<int>>(bytes), Catch::Contains("another type"));
  CHECK_THROWS_WITH((decoded<weft::ipc::shared_map<long, long>>(bytes)), Catch::Contains("another type"));
}

TEST_CASE("shared_list: 4 processes append 1,000 each and update one element 1,000 times each", "[ipc][shared_list]") {
  const std::size_t base = in_use();
  {
    shared_list<long> l;
    l.push_back(0);  // the counter
    shared_value<int> arrived{0};
    std::vector<pid_t> kids;
    for (int c = 0; c < 4; ++c)
      kids.push_back(fork_child([&, c] {
        arrived.fetch_add(1);
        while (arrived.load() < 4) std::this_thread::yield();
        for (int i = 0; i < 1'000; ++i) {
          l.push_back(c * 1'000'000L + i);
          l.update(0, [](long& v) { ++v; });
        }
        return 0;
      }));
    for (int code : wait_children(kids)) CHECK(code == 0);
    CHECK(l.size() == 4'001);
    CHECK(l.at(0) == 4'000);
    auto snap = l.snapshot();
    std::set<long> seen(snap.begin() + 1, snap.end());
    CHECK(seen.size() == 4'000);
    // Each process's own elements are in the order it appended them.
    for (int c = 0; c < 4; ++c) {
      long last = -1;
      for (std::size_t i = 1; i < snap.size(); ++i)
        if (snap[i] / 1'000'000 == c) {
          CHECK(snap[i] > last);
          last = snap[i];
        }
    }
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_list: a process SIGKILLed holding the lock breaks the list without hanging the others",
          "[ipc][shared_list][robust]") {
  const std::size_t base = in_use();
  {
    shared_list<int> l;
    for (int i = 0; i < 10; ++i) l.push_back(i);
    shared_value<int> held{0};
    const pid_t holder = fork_child([&] {
      l.update(3, [&](int&) {
        held.store(1);
        for (;;) ::pause();
      });
      return 0;
    });
    REQUIRE(eventually([&] { return held.load() == 1; }));
    const pid_t waiter = fork_child([&] {
      try {
        for (;;) l.push_back(1);
      } catch (const weft::ipc::owner_died_error&) {
        return 0;
      }
    });
    std::this_thread::sleep_for(20ms);
    ::kill(holder, SIGKILL);
    CHECK(wait_child(holder) == -SIGKILL);
    CHECK(wait_child(waiter, std::chrono::seconds(30)) == 0);
    CHECK_THROWS_WITH(l.at(0), Catch::Contains("died while it held its lock"));
    CHECK_THROWS_AS(l.pop_back(), weft::ipc::owner_died_error);
    CHECK(l.size() == 10);
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_list: a handle passed to a process_pool worker, memory returns with the last handle",
          "[ipc][shared_list][pool]") {
  const std::size_t base = in_use();
  {
    shared_list<std::string> l;
    weft::runtime rt{rt_options()};
    rt.block_on([&]() -> weft::task<void> {
      weft::ipc::process_pool pool{{.workers = 1}};
      // (No co_await inside CHECK: GCC evaluates it twice there.)
      const int first = co_await pool.call(append_in_worker, l, 0, 100);
      CHECK(first == 100);
      const int second = co_await pool.call(append_in_worker, l, 100, 50);
      CHECK(second == 150);
      co_await pool.shutdown();
    }());
    CHECK(l.size() == 150);
    CHECK(l.at(149) == "w149");
    CHECK(l.use_count() == 1);
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_list: rough cost of push_back, at and pop_back", "[.bench]") {
  shared_list<std::uint64_t> l;
  constexpr std::uint64_t n = 200'000;
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) l.push_back(i);
  auto t1 = std::chrono::steady_clock::now();
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += l.at(i);
  auto t2 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) l.set(i, i + 1);
  auto t3 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) sum += *l.pop_back();
  auto t4 = std::chrono::steady_clock::now();
  auto ns = [&](auto a, auto b) { return std::chrono::duration<double, std::nano>(b - a).count() / n; };
  WARN("shared_list<u64>, " << n << " elements: push_back " << ns(t0, t1) << " ns, at " << ns(t1, t2)
                            << " ns, set (same size) " << ns(t2, t3) << " ns, pop_back " << ns(t3, t4) << " ns per op");
  CHECK(sum > 0);
}
