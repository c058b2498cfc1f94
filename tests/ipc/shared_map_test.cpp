// shared_map: operations, growth, value types, errors, processes writing
// at once, a process killed holding the lock, memory returned to the heap,
// and a handle sent to a process_pool worker.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "heap_support.hpp"
#include "process_pool_test_support.hpp"
#include "shared_support.hpp"
#include "weft/ipc.hpp"
#include "weft/runtime/spawn.hpp"

using namespace std::chrono_literals;
using weft::ipc::shared_map;
using weft::ipc::shared_value;
using weft::ipc::detail::shared_heap;
using namespace ipc_test;

namespace {

// A trivially copyable struct: travels by memcpy.
struct point {
  int x = 0;
  double y = 0;
  bool operator==(const point&) const = default;
};

// A value whose serializer refuses to encode it when `bad` is set.
struct picky {
  bool bad = false;
  int v = 0;
};

// Functions for process_pool workers.
long add_in_worker(shared_map<std::string, long> m, std::string key, int times) {
  long last = 0;
  for (int i = 0; i < times; ++i)
    last = m.update(
        key, [](long& v) { ++v; }, 0L);
  return last;
}
int fill_in_worker(shared_map<int, std::string> m, int from, int n) {
  for (int i = from; i < from + n; ++i) m.insert_or_assign(i, "w" + std::to_string(i));
  return static_cast<int>(m.size());
}

}  // namespace

template <>
struct weft::ipc::serializer<picky> {
  template <class Writer>
  static void encode(Writer& w, const picky& p) {
    if (p.bad) throw serialization_error("picky: refuses to be encoded");
    w.write(&p.v, sizeof p.v);
  }
  static picky decode(byte_reader& r) {
    picky p;
    r.read(&p.v, sizeof p.v);
    return p;
  }
};

TEST_CASE("shared_map: insert_or_assign, get, contains, erase, size, clear", "[ipc][shared_map]") {
  const std::size_t base = in_use();
  {
    shared_map<std::string, long> m;
    CHECK(m);
    CHECK(m.empty());
    CHECK_FALSE(m.get("a"));
    CHECK_FALSE(m.contains("a"));
    CHECK_FALSE(m.erase("a"));
    CHECK(m.insert_or_assign("a", 1));
    CHECK(m.insert_or_assign("b", 2));
    CHECK_FALSE(m.insert_or_assign("a", 10));  // replaced, not new
    CHECK(m.size() == 2);
    CHECK(m.get("a") == 10);
    CHECK(m.get("b") == 2);
    CHECK(m.contains("b"));
    CHECK(m.erase("b"));
    CHECK_FALSE(m.contains("b"));
    CHECK_FALSE(m.erase("b"));
    CHECK(m.size() == 1);
    CHECK(m.insert_or_assign("", -1));  // the empty string is a key like any other
    CHECK(m.get("") == -1);

    auto keys = m.keys();
    std::sort(keys.begin(), keys.end());
    CHECK(keys == std::vector<std::string>{"", "a"});
    auto snap = m.snapshot();
    std::sort(snap.begin(), snap.end());
    CHECK(snap == std::vector<std::pair<std::string, long>>{{"", -1}, {"a", 10}});

    CHECK(m.update("a", [](long& v) { v *= 3; }) == 30);
    CHECK(m.update(
              "new", [](long& v) { v += 5; }, 100L) == 105);
    CHECK(m.get("new") == 105);

    shared_map<std::string, long> copy = m;  // a handle: the same map
    CHECK(m.use_count() == 2);
    copy.insert_or_assign("c", 3);
    CHECK(m.get("c") == 3);

    m.clear();
    CHECK(m.empty());
    CHECK(copy.size() == 0);
    CHECK_FALSE(m.get("a"));
    CHECK(m.insert_or_assign("a", 7));  // usable after clear
    CHECK(copy.get("a") == 7);

    shared_map<std::string, long> moved = std::move(copy);
    CHECK_FALSE(copy);  // NOLINT(bugprone-use-after-move): a moved-from handle says so
    CHECK_THROWS_AS(copy.size(), std::logic_error);
    CHECK(moved.get("a") == 7);
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_map: values that grow and shrink, small to larger than a slab cell", "[ipc][shared_map]") {
  const std::size_t base = in_use();
  {
    shared_map<int, std::string> m;
    // Sizes within one cell (overwritten in place), across cells, and past
    // the largest pooled size (straight from the heap), up and down.
    for (std::size_t n : {0, 1, 5, 6, 7, 30, 31, 200, 199, 9'000, 20'000, 8'180, 8'176, 3, 100'000, 0}) {
      INFO(n);
      const std::string v(n, static_cast<char>('a' + n % 26));
      m.insert_or_assign(1, v);
      m.insert_or_assign(static_cast<int>(n) + 10, v);
      REQUIRE(m.get(1) == v);
      REQUIRE(m.update(1, [](std::string& s) { s += "!"; }) == v + "!");
      REQUIRE(m.get(1) == v + "!");
    }
    CHECK(m.get(20'010)->size() == 20'000);
    const std::size_t filled = in_use();
    m.clear();
    CHECK(in_use() < filled);
    m.insert_or_assign(2, std::string(50'000, 'x'));
  }
  CHECK(in_use() == base);  // the large blob left in the map went too
}

TEST_CASE("shared_map: thousands of keys grow the table, erased slots are reused", "[ipc][shared_map]") {
  const std::size_t base = in_use();
  {
    shared_map<int, std::string> m;
    constexpr int n = 20'000;
    for (int i = 0; i < n; ++i) REQUIRE(m.insert_or_assign(i, std::string(static_cast<std::size_t>(i % 50), 'x')));
    CHECK(m.size() == n);
    for (int i = 0; i < n; ++i) {
      auto v = m.get(i);
      REQUIRE(v);
      REQUIRE(v->size() == static_cast<std::size_t>(i % 50));
    }
    CHECK_FALSE(m.contains(n));
    CHECK_FALSE(m.contains(-1));
    for (int i = 0; i < n; i += 2) REQUIRE(m.erase(i));
    CHECK(m.size() == n / 2);
    for (int i = 0; i < n; ++i) REQUIRE(m.contains(i) == (i % 2 == 1));
    // Churn: insert and erase the same entries again and again, more times
    // over than the table has slots: the tombstones and the freed cells are
    // reused, so the map takes no more memory.
    const std::size_t after_half = in_use();
    for (int round = 0; round < 5; ++round) {
      for (int i = 0; i < n; i += 2) REQUIRE(m.insert_or_assign(i, std::string(static_cast<std::size_t>(i % 50), 'y')));
      for (int i = 0; i < n; i += 2) REQUIRE(m.erase(i));
    }
    CHECK(m.size() == n / 2);
    CHECK(in_use() == after_half);
    auto snap = m.snapshot();
    CHECK(snap.size() == n / 2);
    for (const auto& [k, v] : snap) REQUIRE((k % 2 == 1 && v.size() == static_cast<std::size_t>(k % 50)));
    // Values change size (a new blob) and keep it (overwritten in place).
    for (int i = 1; i < n; i += 2) REQUIRE_FALSE(m.insert_or_assign(i, "y"));
    for (int i = 1; i < n; i += 2) REQUIRE_FALSE(m.insert_or_assign(i, "z"));
    CHECK(m.get(4'001) == "z");
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_map: strings, vectors, structs and tuples as keys and values", "[ipc][shared_map]") {
  const std::size_t base = in_use();
  {
    shared_map<std::string, std::vector<std::string>> words;
    words.insert_or_assign("greek", {"alpha", "beta", "gamma"});
    words.insert_or_assign("none", {});
    CHECK(words.get("greek") == std::vector<std::string>{"alpha", "beta", "gamma"});
    CHECK(words.get("none") == std::vector<std::string>{});
    words.update("greek", [](std::vector<std::string>& v) { v.push_back("delta"); });
    CHECK(words.get("greek")->size() == 4);

    shared_map<std::tuple<int, std::string>, point> points;
    points.insert_or_assign({1, "a"}, point{1, 2.5});
    points.insert_or_assign({1, "b"}, point{3, 4.5});
    CHECK(points.get({1, "a"}) == point{1, 2.5});
    CHECK(points.get({1, "b"}) == point{3, 4.5});
    CHECK_FALSE(points.get({2, "a"}));

    shared_map<int, record> records;
    for (int i = 0; i < 100; ++i) records.insert_or_assign(i, make_record(7, i));
    for (int i = 0; i < 100; ++i) {
      auto r = records.get(i);
      REQUIRE(r);
      CHECK(record_ok(*r));
      CHECK(r->seq == i);
    }

    shared_map<std::string, std::map<std::string, int>> nested;
    nested.update("page", [](std::map<std::string, int>& counts) { ++counts["the"]; });
    nested.update("page", [](std::map<std::string, int>& counts) { ++counts["the"]; });
    CHECK(nested.get("page")->at("the") == 2);
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_map: refused values, a full heap and a throwing update leave the map unchanged",
          "[ipc][shared_map]") {
  shared_map<std::string, picky> m;
  m.insert_or_assign("a", picky{false, 1});
  CHECK_THROWS_WITH(m.insert_or_assign("a", picky{true, 2}), Catch::Contains("refuses"));
  CHECK_THROWS_AS(m.insert_or_assign("b", picky{true, 2}), weft::ipc::serialization_error);
  CHECK(m.size() == 1);
  CHECK(m.get("a")->v == 1);
  CHECK_FALSE(m.contains("b"));
  // f throwing, or its result refused: nothing stored, the lock let go.
  CHECK_THROWS_AS(m.update("a", [](picky&) { throw std::runtime_error("no"); }), std::runtime_error);
  CHECK_THROWS_AS(m.update("a", [](picky& p) { p.bad = true; }), weft::ipc::serialization_error);
  CHECK_THROWS_AS(m.update("c", [](picky& p) { p.bad = true; }), weft::ipc::serialization_error);
  CHECK(m.get("a")->v == 1);
  CHECK(m.size() == 1);

  shared_map<std::string, std::string> s;
  s.insert_or_assign("k", "small");
  const std::string big(std::size_t{64} << 20, 'b');
  {
    heap_filler fill;
    REQUIRE(fill.ok());
    CHECK_THROWS_AS(s.insert_or_assign("k", big), weft::ipc::shared_heap_exhausted);
    CHECK_THROWS_AS(s.insert_or_assign("new", big), weft::ipc::shared_heap_exhausted);
    CHECK_THROWS_AS(s.update("k", [&](std::string& v) { v = big; }), weft::ipc::shared_heap_exhausted);
    CHECK(s.size() == 1);
    CHECK(s.get("k") == "small");
    CHECK_FALSE(s.contains("new"));
  }
  CHECK_FALSE(s.insert_or_assign("k", big));  // room again
  CHECK(s.get("k")->size() == big.size());
}

TEST_CASE("shared_map: using the map inside its own update() throws instead of deadlocking", "[ipc][shared_map]") {
  shared_map<int, int> m;
  shared_map<int, int> other;
  m.insert_or_assign(1, 1);
  CHECK_THROWS_AS(m.update(1, [&](int& v) { v = *m.get(1) + 1; }), std::logic_error);
  CHECK(m.get(1) == 1);  // unchanged, and the lock was let go
  // Another map inside f is fine.
  CHECK(m.update(1, [&](int& v) {
    v += other.update(
        9, [](int& w) { w += 5; }, 0);
  }) == 6);
  CHECK(other.get(9) == 5);
}

TEST_CASE("shared_map: handles serialize, count in the receiver and check the type", "[ipc][shared_map]") {
  shared_map<std::string, long> m;
  m.insert_or_assign("x", 1);
  const auto bytes = encoded(m);
  {
    auto m2 = decoded<shared_map<std::string, long>>(bytes);
    CHECK(m.use_count() == 2);
    CHECK(m2.get("x") == 1);
  }
  CHECK(m.use_count() == 1);
  CHECK_THROWS_WITH((decoded<shared_map<std::string, int>>(bytes)), Catch::Contains("another type"));
  CHECK_THROWS_WITH(decoded<weft::ipc::shared_list<long>>(bytes), Catch::Contains("another type"));
}

TEST_CASE("shared_map: 4 threads x 2,000 update()s of one key are exact", "[ipc][shared_map]") {
  shared_map<std::string, long> m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2'000; ++i)
        m.update(
            "n", [](long& v) { ++v; }, 0L);
    });
  for (auto& t : threads) t.join();
  CHECK(m.get("n") == 8'000);
}

TEST_CASE("shared_map: 4 writer processes x 1,000 update()s of one key end at exactly 4,000", "[ipc][shared_map]") {
  const std::size_t base = in_use();
  {
    shared_map<std::string, long> m;
    shared_value<int> arrived{0};
    std::vector<pid_t> kids;
    for (int c = 0; c < 4; ++c)
      kids.push_back(fork_child([&, c] {
        arrived.fetch_add(1);
        while (arrived.load() < 4) std::this_thread::yield();  // start together
        for (int i = 0; i < 1'000; ++i)
          m.update(
              "hits", [](long& v) { ++v; }, 0L);
        // And each its own keys, inserted while the others rebuild the table.
        for (int i = 0; i < 500; ++i) m.insert_or_assign("k" + std::to_string(c) + "." + std::to_string(i), i);
        return 0;
      }));
    for (int code : wait_children(kids)) CHECK(code == 0);
    CHECK(m.get("hits") == 4'000);
    CHECK(m.size() == 1 + 4 * 500);
    for (int c = 0; c < 4; ++c) CHECK(m.get("k" + std::to_string(c) + ".499") == 499);
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_map: a process SIGKILLed holding the lock breaks the map without hanging the others",
          "[ipc][shared_map][robust]") {
  const std::size_t base = in_use();
  {
    shared_map<std::string, long> m;
    for (int i = 0; i < 100; ++i) m.insert_or_assign("k" + std::to_string(i), i);
    shared_value<int> held{0};
    // Killed in the middle of update(): inside f, holding the lock.
    const pid_t holder = fork_child([&] {
      m.update("k1", [&](long&) {
        held.store(1);
        for (;;) ::pause();
      });
      return 0;
    });
    REQUIRE(eventually([&] { return held.load() == 1; }));
    // Two others that would wait for the lock forever if its owner's death
    // went unnoticed.
    std::vector<pid_t> waiters;
    for (int c = 0; c < 2; ++c)
      waiters.push_back(fork_child([&] {
        try {
          for (;;) m.update("k2", [](long& v) { ++v; });
        } catch (const weft::ipc::owner_died_error&) {
          return 0;
        }
      }));
    std::this_thread::sleep_for(20ms);
    ::kill(holder, SIGKILL);
    CHECK(wait_child(holder) == -SIGKILL);
    for (pid_t p : waiters) CHECK(wait_child(p, std::chrono::seconds(30)) == 0);
    CHECK_THROWS_WITH(m.get("k1"), Catch::Contains("died while it held its lock"));
    CHECK_THROWS_AS(m.insert_or_assign("x", 1), weft::ipc::owner_died_error);
    CHECK_THROWS_AS(m.snapshot(), weft::ipc::owner_died_error);
    CHECK_THROWS_AS(m.clear(), weft::ipc::owner_died_error);
    CHECK(m.size() == 100);  // size() takes no lock
  }
  // The dead process allocated nothing: every entry comes back.
  CHECK(in_use() == base);
}

TEST_CASE("shared_map: processes SIGKILLed at random moments never hang or corrupt the others",
          "[ipc][shared_map][robust]") {
  shared_map<int, std::string> m;
  shared_value<long> rounds{0};
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::vector<pid_t> kids;
    for (int c = 0; c < 3; ++c)
      kids.push_back(fork_child([&, c] {
        try {
          for (int i = 0;; ++i) {
            const int k = (i * 7 + c) % 300;
            m.insert_or_assign(k, std::string(static_cast<std::size_t>(i % 40), 'v'));
            m.update(
                k, [](std::string& s) { s += "!"; }, std::string());
            if (i % 3 == 0) m.erase((k + 11) % 300);
            (void)m.get(k);
            rounds.fetch_add(1);
          }
        } catch (const weft::ipc::owner_died_error&) {
          return 0;
        }
      }));
    REQUIRE(eventually([&] { return rounds.load() > 200 * (attempt + 1); }));
    ::kill(kids[0], SIGKILL);
    CHECK(wait_child(kids[0]) == -SIGKILL);
    std::this_thread::sleep_for(10ms);
    ::kill(kids[1], SIGKILL);
    ::kill(kids[2], SIGKILL);
    CHECK(wait_child(kids[1], std::chrono::seconds(30)) != child_hung);
    CHECK(wait_child(kids[2], std::chrono::seconds(30)) != child_hung);
    // Whatever happened, an operation now either works or throws
    // owner_died_error, at once.
    try {
      (void)m.snapshot();
      m.insert_or_assign(-1, "alive");
      CHECK(m.get(-1) == "alive");
    } catch (const weft::ipc::owner_died_error&) {
      // The map is broken for good: start a fresh one (the old one's
      // reachable entries are freed, without a double free).
      m = shared_map<int, std::string>();
    }
  }
}

TEST_CASE("shared_map: every entry returns to the heap when the last handle goes, in whichever process",
          "[ipc][shared_map]") {
  const std::size_t base = in_use();
  std::size_t full = 0;
  {
    shared_map<int, std::vector<int>> m;
    const std::size_t empty = in_use();
    for (int i = 0; i < 5'000; ++i) m.insert_or_assign(i, std::vector<int>(static_cast<std::size_t>(i % 17), i));
    full = in_use();
    CHECK(full > empty + 5'000 * 64);
    m.clear();
    CHECK(in_use() == empty);  // clear() frees the table and every entry
    for (int i = 0; i < 5'000; ++i) m.insert_or_assign(i, std::vector<int>(static_cast<std::size_t>(i % 17), i));
    // A child takes a reference of its own; the parent drops first, so the
    // child's drop frees everything.
    shared_value<int> go{0};
    const auto bytes = encoded(m);
    const pid_t pid = fork_child([&] {
      auto mine = decoded<shared_map<int, std::vector<int>>>(bytes);
      go.store(1);
      while (go.load() != 2) std::this_thread::yield();
      if (mine.use_count() != 1 || mine.size() != 5'000) return 1;
      return mine.get(4'999)->size() == 4'999 % 17 ? 0 : 2;
    });
    REQUIRE(eventually([&] { return go.load() == 1; }));
    m = shared_map<int, std::vector<int>>();  // drops the old one's reference
    go.store(2);
    CHECK(wait_child(pid) == 0);
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_map: a handle passed to process_pool workers", "[ipc][shared_map][pool]") {
  const std::size_t base = in_use();
  {
    shared_map<std::string, long> counts;
    shared_map<int, std::string> filled;
    weft::runtime rt{rt_options()};
    rt.block_on([&]() -> weft::task<void> {
      weft::ipc::process_pool pool{{.workers = 2}};
      std::vector<weft::join_handle<long>> calls;
      for (int i = 0; i < 4; ++i) calls.push_back(pool.submit(add_in_worker, counts, std::string("n"), 250));
      for (auto& c : calls) {
        const long last = co_await std::move(c);  // not inside CHECK: GCC would evaluate it twice
        CHECK(last <= 1'000);
      }
      CHECK(counts.get("n") == 1'000);
      int n = co_await pool.call(fill_in_worker, filled, 0, 100);
      CHECK(n == 100);
      n = co_await pool.call(fill_in_worker, filled, 100, 100);
      CHECK(n == 200);
      co_await pool.shutdown();
    }());
    CHECK(filled.get(150) == "w150");
    CHECK(counts.use_count() == 1);  // the workers' references were dropped
  }
  CHECK(in_use() == base);
}

TEST_CASE("shared_map: rough cost of get and insert_or_assign", "[.bench]") {
  shared_map<std::uint64_t, std::uint64_t> m;
  constexpr std::uint64_t n = 200'000;
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) m.insert_or_assign(i, i);
  auto t1 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) m.insert_or_assign(i, i + 1);
  auto t2 = std::chrono::steady_clock::now();
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += *m.get(i);
  auto t3 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) m.update(i, [](std::uint64_t& v) { ++v; });
  auto t4 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; i += 2) m.erase(i);  // every other key: the cells left are scattered
  auto t5 = std::chrono::steady_clock::now();
  m.clear();
  auto t6 = std::chrono::steady_clock::now();
  auto ns = [&](auto a, auto b) { return std::chrono::duration<double, std::nano>(b - a).count() / n; };
  const double clear_ms = std::chrono::duration<double, std::milli>(t6 - t5).count();
  WARN("shared_map<u64,u64>, " << n << " keys: insert new " << ns(t0, t1) << " ns, assign existing " << ns(t1, t2)
                               << " ns, get " << ns(t2, t3) << " ns, update " << ns(t3, t4) << " ns, erase "
                               << 2 * ns(t4, t5) << " ns per op; clear of the half left " << clear_ms << " ms");
  CHECK(sum >= n * (n + 1) / 2);

  // A map that stays in the cache: 1,000 keys, 200 rounds.
  shared_map<std::uint64_t, std::uint64_t> small;
  for (std::uint64_t i = 0; i < 1'000; ++i) small.insert_or_assign(i, i);
  auto h0 = std::chrono::steady_clock::now();
  for (int r = 0; r < 200; ++r)
    for (std::uint64_t i = 0; i < 1'000; ++i) sum += *small.get(i);
  auto h1 = std::chrono::steady_clock::now();
  for (int r = 0; r < 200; ++r)
    for (std::uint64_t i = 0; i < 1'000; ++i) small.insert_or_assign(i, i + static_cast<std::uint64_t>(r));
  auto h2 = std::chrono::steady_clock::now();
  const double small_get = std::chrono::duration<double, std::nano>(h1 - h0).count() / 200'000;
  const double small_set = std::chrono::duration<double, std::nano>(h2 - h1).count() / 200'000;
  WARN("shared_map<u64,u64>, 1,000 keys: get " << small_get << " ns, assign existing " << small_set << " ns per op");

  shared_map<std::string, std::string> s;
  std::vector<std::string> keys;
  for (int i = 0; i < 10'000; ++i) keys.push_back("https://example.org/page/" + std::to_string(i));
  auto u0 = std::chrono::steady_clock::now();
  for (const auto& k : keys) s.insert_or_assign(k, k);
  auto u1 = std::chrono::steady_clock::now();
  std::size_t len = 0;
  for (int r = 0; r < 20; ++r)
    for (const auto& k : keys) len += s.get(k)->size();
  auto u2 = std::chrono::steady_clock::now();
  const double insert_ns = std::chrono::duration<double, std::nano>(u1 - u0).count() / 10'000;
  const double get_ns = std::chrono::duration<double, std::nano>(u2 - u1).count() / 200'000;
  WARN("shared_map<string,string>, 10,000 URL keys: insert new " << insert_ns << " ns, get " << get_ns << " ns per op");
  CHECK(len > 0);
}
