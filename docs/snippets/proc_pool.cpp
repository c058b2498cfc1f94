// weft::ipc::process_pool: a pool of your own, with map, map_unordered,
// submit + as_completed, and statistics.
#include <weft/weft.hpp>

#include <numeric>
#include <vector>

#include "check.hpp"

using namespace std::chrono_literals;

int square(int x) { return x * x; }  // a plain function: it travels by address

weft::task<> pool_tour() {
  // [start pool]
  weft::ipc::process_pool pool{{.workers = 2, .task_timeout = 5s, .max_tasks_per_worker = 1000}};
  int y = co_await pool.call(square, 7);  // one call, awaited
  CHECK(y == 49);

  std::vector<int> xs(100);
  std::iota(xs.begin(), xs.end(), 0);
  std::vector<int> ys = co_await pool.map(square, xs);  // results in order; items travel in chunks
  CHECK(ys[99] == 99 * 99);

  auto stream = pool.map_unordered(square, xs);  // results as they finish
  long sum = 0;
  while (std::optional<int> v = co_await stream.next()) sum += *v;
  CHECK(sum == std::accumulate(ys.begin(), ys.end(), 0L));

  std::vector<weft::join_handle<int>> handles;  // submit: a join_handle per call
  for (int i = 0; i < 4; ++i) handles.push_back(pool.submit(square, i));
  auto done = weft::as_completed(std::move(handles));
  int seen = 0;
  while (auto d = co_await done.next()) {
    CHECK(co_await d->handle == static_cast<int>(d->index * d->index));
    ++seen;
  }
  CHECK(seen == 4);

  weft::ipc::pool_stats st = pool.stats();
  CHECK(st.completed >= 5 && st.crashed == 0 && st.workers == 2);
  co_await pool.shutdown();  // shutdown_mode::wait: finish everything submitted, then stop
  // [end pool]
}

int main() { weft::run(pool_tour()); }
