// weft/runtime/sync/oneshot.hpp: one value, a dropped sender, a dropped
// receiver, a sender used twice, try_recv, blocking_recv from a plain thread,
// a cancelled receiving task leaving the receiver usable, empty handles.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("oneshot: one value, dropped sender, dropped receiver", "[sync][oneshot]") {
  weft::runtime rt{{.workers = 2}};
  auto t = []() -> task<void> {
    auto [tx, rx] = weft::oneshot<std::string>();
    auto h = weft::spawn([](weft::oneshot_sender<std::string> tx) -> task<void> {
      co_await weft::sleep_for(2ms);
      tx.send("done");
    }(std::move(tx)));
    CO_CHECK_EQ(rx, std::string("done"));
    co_await h;

    auto [tx2, rx2] = weft::oneshot<int>();
    { auto gone = std::move(tx2); }  // dropped without sending
    CO_REQUIRE_THROWS_AS(std::move(rx2), weft::channel_closed);

    auto [tx3, rx3] = weft::oneshot<int>();
    { auto gone = std::move(rx3); }
    CHECK_FALSE(tx3.send(1));  // nobody to receive
    CHECK_THROWS_AS(tx3.send(2), std::logic_error);

    auto [tx4, rx4] = weft::oneshot<int>();
    CHECK_FALSE(rx4.try_recv());
    CHECK(tx4.send(4));
    CHECK(rx4.try_recv() == std::optional<int>(4));
  };
  rt.block_on(t());
  auto [tx, rx] = weft::oneshot<int>();
  auto h = rt.spawn([](weft::oneshot_sender<int> tx) -> task<void> {
    co_await weft::sleep_for(2ms);
    tx.send(9);
  }(std::move(tx)));
  CHECK(rx.blocking_recv() == 9);
  rt.block_on([](weft::join_handle<void> h) -> task<void> { co_await h; }(std::move(h)));
}

TEST_CASE("oneshot: a task cancelled while awaiting the receiver leaves it usable", "[sync][oneshot][cancel]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    auto [tx, rx] = weft::oneshot<int>();
    auto h = weft::spawn([](weft::oneshot_receiver<int>& rx) -> task<int> { co_return co_await rx; }(rx));
    co_await weft::sleep_for(5ms);  // it waits
    h.cancel();
    CO_REQUIRE_THROWS_AS(std::move(h), weft::operation_cancelled);
    CHECK_FALSE(rx.try_recv());  // nothing taken, nothing sent
    CHECK(tx.valid());
    CHECK(tx.send(5));  // the receiver is still there
    CHECK_FALSE(tx.valid());
    CO_CHECK_EQ(rx, 5);
  }());
}

TEST_CASE("oneshot: send() never waits, blocking_recv after a dropped sender throws", "[sync][oneshot]") {
  // No runtime needed for a plain thread on both ends.
  auto [tx, rx] = weft::oneshot<std::string>();
  CHECK(tx.send("ready"));
  CHECK(rx.blocking_recv() == "ready");

  auto [tx2, rx2] = weft::oneshot<int>();
  { auto gone = std::move(tx2); }
  CHECK_FALSE(rx2.try_recv());
  CHECK_THROWS_AS(rx2.blocking_recv(), weft::channel_closed);
}

TEST_CASE("oneshot: empty and moved-from handles", "[sync][oneshot]") {
  weft::oneshot_sender<int> no_tx;
  CHECK_FALSE(no_tx.valid());
  CHECK_THROWS_AS(no_tx.send(1), std::logic_error);
  weft::oneshot_receiver<int> no_rx;
  CHECK_THROWS_AS(no_rx.try_recv(), std::logic_error);
  CHECK_THROWS_AS(no_rx.blocking_recv(), std::logic_error);

  auto [tx, rx] = weft::oneshot<int>();
  weft::oneshot_sender<int> tx2 = std::move(tx);
  weft::oneshot_receiver<int> rx2 = std::move(rx);
  CHECK_FALSE(tx.valid());
  CHECK(tx2.valid());
  CHECK_THROWS_AS(rx.try_recv(), std::logic_error);
  CHECK(tx2.send(3));
  CHECK(rx2.try_recv() == std::optional<int>(3));

  weft::runtime rt{{.workers = 1}};
  rt.block_on([](weft::oneshot_receiver<int>& empty) -> task<void> {
    CO_REQUIRE_THROWS_AS(std::move(empty), std::logic_error);
  }(no_rx));
}
