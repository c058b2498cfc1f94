// weft::channel<T>: a bounded queue between tasks (and threads);
// weft::oneshot<T>: one value, once.
#include <weft/weft.hpp>

#include <optional>
#include <thread>

#include "check.hpp"

using namespace std::chrono_literals;

// [start channel]
weft::task<> produce(weft::channel<int>& ch, int from, int count) {
  for (int i = from; i < from + count; ++i) co_await ch.send(i);  // waits while the channel is full
}

weft::task<long> consume(weft::channel<int>& ch) {
  long sum = 0;
  while (std::optional<int> v = co_await ch.recv()) sum += *v;  // nullopt: closed and drained
  co_return sum;
}

weft::task<> pipeline() {
  weft::channel<int> ch{16};
  auto c1 = weft::spawn(consume(ch));
  auto c2 = weft::spawn(consume(ch));
  co_await weft::when_all(produce(ch, 1, 500), produce(ch, 501, 500));
  ch.close();  // no more values: the consumers drain the channel and stop
  long total = co_await c1 + co_await c2;
  CHECK(total == 1000 * 1001 / 2);
  try {
    co_await ch.send(1);  // a closed channel takes nothing
    CHECK(false);
  } catch (const weft::channel_closed&) {
  }
}
// [end channel]

// [start oneshot]
weft::task<> compute(weft::oneshot_sender<int> tx) {
  co_await weft::sleep_for(1ms);
  tx.send(42);  // never waits
}

weft::task<> one_value() {
  auto [tx, rx] = weft::oneshot<int>();
  weft::spawn(compute(std::move(tx))).detach();
  CHECK(co_await rx == 42);

  auto [tx2, rx2] = weft::oneshot<int>();
  { auto gone = std::move(tx2); }  // the sender goes away without sending
  try {
    co_await rx2;
    CHECK(false);
  } catch (const weft::channel_closed&) {
  }
}
// [end oneshot]

int main() {
  weft::run(pipeline());
  weft::run(one_value());

  // [start thread]
  weft::channel<int> ch{0};  // capacity 0: a rendezvous, each send waits for its receiver
  std::thread producer([&ch] {
    for (int i = 1; i <= 3; ++i) ch.blocking_send(i);  // a plain thread blocks instead
    ch.close();
  });
  long sum = weft::run(consume(ch));
  producer.join();
  CHECK(sum == 6);
  // [end thread]
}
