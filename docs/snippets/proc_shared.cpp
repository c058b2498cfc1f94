// Objects shared between processes: values, arrays, locks, maps, events.
#include <weft/weft.hpp>

#include <string>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;
namespace ipc = weft::ipc;

// [start counters]
void add_atomic(ipc::shared_value<long> hits, int n) {  // in a worker: hits names the parent's value
  for (int i = 0; i < n; ++i) hits.fetch_add(1);        // atomic, across processes
}

void add_locked(ipc::shared_value<long> total, ipc::mutex m, int n) {
  for (int i = 0; i < n; ++i) {
    auto guard = m.blocking_lock();  // a worker process has no runtime: it blocks
    total.unsafe_ref() += 1;         // plain access, safe under the lock
  }
}

weft::task<> counters(ipc::process_pool& pool) {
  ipc::shared_value<long> hits{0};
  ipc::mutex m;
  std::vector<weft::join_handle<void>> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(pool.submit(add_atomic, hits, 1000));
  for (int i = 0; i < 4; ++i) jobs.push_back(pool.submit(add_locked, hits, m, 1000));
  for (auto& j : jobs) co_await j;
  CHECK(hits.load() == 8000);  // no update lost
}
// [end counters]

// [start array]
void squares(ipc::shared_array<long> out, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i) out[i] = static_cast<long>(i * i);  // each worker its own slice
}

void tally(ipc::shared_map<std::string, long> counts, std::string word) {
  counts.update(
      word, [](long& n) { ++n; }, 0L);  // an atomic read-modify-write, from 0 if absent
}

weft::task<> containers(ipc::process_pool& pool) {
  ipc::shared_array<long> out(1000);
  auto low = pool.submit(squares, out, 0, 500);
  auto high = pool.submit(squares, out, 500, 1000);
  co_await low;
  co_await high;
  CHECK(out[999] == 999 * 999);

  ipc::shared_map<std::string, long> counts;
  std::vector<weft::join_handle<void>> jobs;
  for (std::string word : {"a", "b", "a", "c", "a"}) jobs.push_back(pool.submit(tally, counts, word));
  for (auto& j : jobs) co_await j;
  CHECK(counts.get("a") == 3 && counts.get("z") == std::nullopt);
}
// [end array]

// [start event]
bool wait_for_go(ipc::event go) { return go.blocking_wait_for(5s); }  // true: it was set in time

weft::task<> signal(ipc::process_pool& pool) {
  ipc::event go;
  auto waiter = pool.submit(wait_for_go, go);
  co_await weft::sleep_for(10ms);
  go.set();  // wakes every waiter, in every process
  CHECK(co_await waiter);
}
// [end event]

weft::task<> all() {
  ipc::process_pool pool{{.workers = 2}};
  co_await counters(pool);
  co_await containers(pool);
  co_await signal(pool);
  co_await pool.shutdown();
}

int main() { weft::run(all()); }
