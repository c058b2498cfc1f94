// Waiting for each other: semaphore, event, latch, barrier,
// condition_variable.
#include <weft/weft.hpp>

#include <atomic>
#include <deque>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;

// [start semaphore]
weft::task<> download(weft::semaphore& slots, std::atomic<int>& now, std::atomic<int>& peak) {
  co_await slots.acquire();  // at most 3 of these past this line at once
  int n = ++now;
  for (int p = peak; n > p && !peak.compare_exchange_weak(p, n);) {
  }
  co_await weft::sleep_for(5ms);
  --now;
  slots.release();
}

weft::task<> bounded() {
  weft::semaphore slots{3};
  std::atomic<int> now = 0, peak = 0;
  std::vector<weft::task<>> all;
  for (int i = 0; i < 12; ++i) all.push_back(download(slots, now, peak));
  co_await weft::when_all(std::move(all));
  CHECK(peak == 3);
}
// [end semaphore]

// [start latch]
weft::task<> worker(weft::event& go, weft::latch& done, std::atomic<int>& ran) {
  co_await go.wait();  // until someone calls go.set()
  ++ran;
  done.count_down();
}

weft::task<> start_together() {
  weft::event go;
  weft::latch done{4};
  std::atomic<int> ran = 0;
  for (int i = 0; i < 4; ++i) weft::spawn(worker(go, done, ran)).detach();
  co_await weft::sleep_for(5ms);
  CHECK(ran == 0);       // all waiting for the event
  go.set();              // wakes every waiter; later wait()s pass until clear()
  co_await done.wait();  // until the count reaches zero
  CHECK(ran == 4);
}
// [end latch]

// [start barrier]
weft::task<> step(weft::barrier& sync, std::atomic<int>& leaders) {
  for (int phase = 0; phase < 3; ++phase) {
    if (co_await sync.arrive_and_wait()) ++leaders;  // true in one participant per phase
  }
}

weft::task<> phases() {
  int completed = 0;
  weft::barrier sync{4, [&] { ++completed; }};  // runs once per phase, before anyone goes on
  std::atomic<int> leaders = 0;
  co_await weft::when_all(step(sync, leaders), step(sync, leaders), step(sync, leaders), step(sync, leaders));
  CHECK(completed == 3 && leaders == 3);
}
// [end barrier]

// [start condvar]
weft::task<int> take(weft::mutex& m, weft::condition_variable& cv, std::deque<int>& q) {
  auto lk = co_await m.lock();
  co_await cv.wait(lk, [&] { return !q.empty(); });  // unlocks while waiting; holds m again here
  int v = q.front();
  q.pop_front();
  co_return v;
}

weft::task<> handoff() {
  weft::mutex m;
  weft::condition_variable cv;
  std::deque<int> q;
  auto taker = weft::spawn(take(m, cv, q));
  co_await weft::sleep_for(5ms);
  {
    auto lk = co_await m.lock();
    q.push_back(5);
  }
  cv.notify_one();
  CHECK(co_await taker == 5);

  auto lk = co_await m.lock();
  try {
    co_await weft::with_timeout(10ms, cv.wait(lk));  // nobody notifies
    CHECK(false);
  } catch (const weft::timeout_error&) {
  }
  CHECK(lk.owns_lock());  // a wait that fails still returns with the lock held
}
// [end condvar]

int main() {
  weft::run(bounded());
  weft::run(start_together());
  weft::run(phases());
  weft::run(handoff());
}
