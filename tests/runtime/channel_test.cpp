// weft/runtime/sync/channel.hpp: MPMC delivery without loss or duplicates,
// close() draining and waking receivers, blocked senders failing on close,
// cancelled senders and receivers, plain threads on both ends, move-only
// values. (oneshot<T>, built on it: oneshot_test.cpp.)
//
// Catch2 assertions are not thread-safe: concurrent tasks record what they
// saw, and the checks run afterwards.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {

task<void> produce(weft::channel<int>& ch, int from, int n) {
  for (int i = from; i < from + n; ++i) co_await ch.send(i);
}

task<std::vector<int>> consume(weft::channel<int>& ch) {
  std::vector<int> got;
  while (auto v = co_await ch.recv()) got.push_back(*v);
  co_return got;
}

// Producers and consumers; returns everything received, sorted.
task<std::vector<int>> mpmc(std::size_t capacity, int producers, int consumers, int per_producer) {
  weft::channel<int> ch{capacity};
  std::vector<weft::join_handle<void>> ps;
  std::vector<weft::join_handle<std::vector<int>>> cs;
  for (int c = 0; c < consumers; ++c) cs.push_back(weft::spawn(consume(ch)));
  for (int p = 0; p < producers; ++p) ps.push_back(weft::spawn(produce(ch, p * per_producer, per_producer)));
  for (auto& p : ps) co_await p;
  ch.close();
  std::vector<int> all;
  for (auto& c : cs) {
    auto got = co_await c;
    // Each producer's values reach one consumer in the order sent.
    for (std::size_t i = 1; i < got.size(); ++i)
      if (got[i] / per_producer == got[i - 1] / per_producer && got[i] < got[i - 1])
        throw std::runtime_error("out of order");
    all.insert(all.end(), got.begin(), got.end());
  }
  std::sort(all.begin(), all.end());
  co_return all;
}

std::vector<int> iota(int n) {
  std::vector<int> v(n);
  for (int i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

TEST_CASE("channel: MPMC loses and duplicates nothing", "[sync][channel]") {
  weft::runtime rt{{.workers = 2}};
  SECTION("capacity 16") { CHECK(rt.block_on(mpmc(16, 4, 4, 20'000)) == iota(80'000)); }
  SECTION("capacity 1") { CHECK(rt.block_on(mpmc(1, 3, 2, 10'000)) == iota(30'000)); }
  SECTION("rendezvous (capacity 0)") { CHECK(rt.block_on(mpmc(0, 2, 3, 10'000)) == iota(20'000)); }
}

namespace {
task<void> channel_close_semantics() {
  weft::channel<std::string> ch{2};
  CHECK(ch.capacity() == 2);
  co_await ch.send("a");
  co_await ch.send("b");
  CHECK(ch.size() == 2);
  CHECK_FALSE(ch.try_send(std::string("c")));  // full
  // A sender waiting in the full channel fails when it closes.
  auto blocked = weft::spawn([](weft::channel<std::string>& ch) -> task<void> { co_await ch.send("c"); }(ch));
  co_await weft::sleep_for(5ms);
  CHECK_FALSE(blocked.is_finished());
  ch.close();
  CHECK(ch.is_closed());
  CO_REQUIRE_THROWS_AS(std::move(blocked), weft::channel_closed);
  // What was buffered is still delivered, then empty.
  auto a = co_await ch.recv();
  auto b = co_await ch.recv();
  auto end = co_await ch.recv();
  CHECK(a == std::optional<std::string>("a"));
  CHECK(b == std::optional<std::string>("b"));
  CHECK_FALSE(end);
  CO_REQUIRE_THROWS_AS(ch.send("d"), weft::channel_closed);
  CHECK_FALSE(ch.try_send(std::string("d")));
  CHECK_FALSE(ch.try_recv());
}

// close() wakes every waiting receiver.
task<int> close_wakes_all_receivers() {
  weft::channel<int> ch{4};
  std::vector<weft::join_handle<std::optional<int>>> rs;
  for (int i = 0; i < 6; ++i)
    rs.push_back(
        weft::spawn([](weft::channel<int>& ch) -> task<std::optional<int>> { co_return co_await ch.recv(); }(ch)));
  co_await weft::sleep_for(5ms);
  ch.close();
  int empty = 0;
  for (auto& r : rs) {
    auto v = co_await r;
    if (!v) ++empty;
  }
  co_return empty;
}

task<void> try_ops() {
  weft::channel<int> ch{1};
  CHECK_FALSE(ch.try_recv());
  CHECK(ch.try_send(1));
  CHECK_FALSE(ch.try_send(2));
  CHECK(ch.try_recv() == std::optional<int>(1));
  // try_send hands straight to a waiting receiver, even at capacity 0.
  weft::channel<int> rv{0};
  CHECK_FALSE(rv.try_send(5));  // nobody receiving
  auto r = weft::spawn([](weft::channel<int>& ch) -> task<std::optional<int>> { co_return co_await ch.recv(); }(rv));
  co_await weft::sleep_for(5ms);
  CHECK(rv.try_send(5));
  auto got = co_await r;
  CHECK(got == std::optional<int>(5));
}

// Cancelled senders send nothing; cancelled receivers take nothing.
task<void> channel_cancellation() {
  weft::channel<int> ch{1};
  co_await ch.send(1);
  auto s = weft::spawn([](weft::channel<int>& ch) -> task<void> { co_await ch.send(2); }(ch));
  auto s2 = weft::spawn([](weft::channel<int>& ch) -> task<void> { co_await ch.send(3); }(ch));
  co_await weft::sleep_for(5ms);
  s.cancel();
  CO_REQUIRE_THROWS_AS(std::move(s), weft::operation_cancelled);
  auto v1 = co_await ch.recv();
  auto v2 = co_await ch.recv();
  co_await s2;
  CHECK(v1 == std::optional<int>(1));
  CHECK(v2 == std::optional<int>(3));  // 2 was never sent
  CHECK(ch.size() == 0);

  auto r = weft::spawn([](weft::channel<int>& ch) -> task<std::optional<int>> { co_return co_await ch.recv(); }(ch));
  auto r2 = weft::spawn([](weft::channel<int>& ch) -> task<std::optional<int>> { co_return co_await ch.recv(); }(ch));
  co_await weft::sleep_for(5ms);
  r.cancel();
  CO_REQUIRE_THROWS_AS(std::move(r), weft::operation_cancelled);
  co_await ch.send(4);
  auto got = co_await r2;  // the value goes to the receiver still waiting
  CHECK(got == std::optional<int>(4));
  CO_REQUIRE_THROWS_AS(weft::with_timeout(5ms, ch.recv()), weft::timeout_error);
}

// Cancel racing delivery, many times: every value is received exactly once.
task<void> channel_cancel_race() {
  weft::channel<int> ch{0};
  int delivered = 0, lost = 0;
  for (int i = 0; i < 300; ++i) {
    auto r = weft::spawn([](weft::channel<int>& ch) -> task<std::optional<int>> { co_return co_await ch.recv(); }(ch));
    if (i % 2) co_await weft::yield_now();
    const bool sent = ch.try_send(i);
    r.cancel();
    auto err = co_await weft_test::error_of(std::move(r));
    if (sent) {
      if (err) ++lost;  // a value handed over must come out of recv()
      else ++delivered;
    }
  }
  CHECK(lost == 0);
  CHECK(ch.size() == 0);
  (void)delivered;
}
}  // namespace

TEST_CASE("channel: close drains, then ends, blocked senders fail", "[sync][channel]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(channel_close_semantics());
  CHECK(rt.block_on(close_wakes_all_receivers()) == 6);
  weft::runtime one{{.workers = 1}};  // try_ops needs the receiver queued before try_send
  one.block_on(try_ops());
}

TEST_CASE("channel: cancellation of senders and receivers", "[sync][channel][cancel]") {
  weft::runtime rt{{.workers = 2}};
  rt.block_on(channel_cancellation());
  rt.block_on(channel_cancel_race());
}

TEST_CASE("channel: plain threads and tasks on both ends", "[sync][channel]") {
  weft::runtime rt{{.workers = 2}};
  weft::channel<int> ch{8};
  constexpr int n = 20'000;
  std::thread producer([&] {
    for (int i = 0; i < n; ++i) ch.blocking_send(i);
    ch.close();
  });
  auto got = rt.block_on(consume(ch));
  producer.join();
  CHECK(got == iota(n));
  CHECK_THROWS_AS(ch.blocking_send(1), weft::channel_closed);

  weft::channel<int> back{0};
  auto h = rt.spawn(produce(back, 0, 1000));
  std::vector<int> rx;
  for (int i = 0; i < 1000; ++i) rx.push_back(*back.blocking_recv());
  back.close();
  CHECK_FALSE(back.blocking_recv());
  rt.block_on([](weft::join_handle<void> h) -> task<void> { co_await h; }(std::move(h)));
  CHECK(rx == iota(1000));
}

TEST_CASE("channel: move-only values", "[sync][channel]") {
  weft::runtime rt{{.workers = 2}};
  auto t = []() -> task<int> {
    weft::channel<std::unique_ptr<int>> ch{1};
    co_await ch.send(std::make_unique<int>(41));
    auto p = co_await ch.recv();
    co_return **p + 1;
  };
  CHECK(rt.block_on(t()) == 42);
}
