// redis_counter: many tasks INCR one Redis counter through one client.
//
// Each task sends its INCRs one after the other, awaiting each reply; all
// of them share one weft::redis::client, that is one connection, whose
// writer sends whatever the tasks queued meanwhile in one write. So the
// round trips overlap: many commands per write, and the count comes out
// exact because INCR is atomic on the server. Then one INCR per task more
// as a single pipeline (one write), and a Lua script that reads and
// deletes the counter in one atomic step. --connections N spreads the
// tasks over a redis::pool of N clients.
//
//   ./redis_counter [--url redis://127.0.0.1:6379/0] [--tasks 100] [--increments 1000] [--connections 1]
#include <fmt/core.h>

#include <chrono>
#include <string>
#include <vector>

#include "../common/cli.hpp"
#include "weft/redis.hpp"
#include "weft/weft.hpp"

namespace redis = weft::redis;

namespace {

weft::task<void> add(redis::client& c, const std::string& key, int increments) {
  for (int i = 0; i < increments; ++i) co_await c.command("INCR", key);
}

/// The commands and writes of every client of the pool so far.
redis::client_stats totals(redis::pool& p) {
  redis::client_stats sum;
  for (std::size_t i = 0; i < p.size(); ++i) {
    sum.commands += p.at(i).stats().commands;
    sum.writes += p.at(i).stats().writes;
  }
  return sum;
}

// Reads the counter and deletes it, atomically: nobody can INCR in between.
const redis::script take_counter{"local v = redis.call('GET', KEYS[1]) redis.call('DEL', KEYS[1]) return v"};

weft::task<int> amain(std::string url, std::string key, int tasks, int increments, int connections) {
  redis::client_options options = redis::parse_url(url);  // std::invalid_argument for a bad URL
  options.command_timeout = std::chrono::seconds(10);
  redis::pool pool = co_await redis::pool::connect(options, static_cast<std::size_t>(connections));
  redis::client& first = pool.at(0);
  const redis::command del("DEL", key);  // a command built beforehand
  co_await first.execute(del);
  fmt::print("redis_counter: {} tasks x {} INCR {} on {} ({} connection{})\n", tasks, increments, key, url, connections,
             connections == 1 ? "" : "s");

  const auto started = std::chrono::steady_clock::now();
  const redis::client_stats before = totals(pool);
  std::vector<weft::join_handle<void>> handles;
  for (int t = 0; t < tasks; ++t) handles.push_back(weft::spawn(add(pool.next(), key, increments)));
  for (auto& h : handles) co_await h;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const redis::client_stats after = totals(pool);

  const long long expected = static_cast<long long>(tasks) * increments;
  redis::reply value = co_await first.command("GET", key);
  const long long counted = std::stoll(value.as_string());
  const auto commands = after.commands - before.commands, writes = after.writes - before.writes;
  fmt::print("counter: {} (expected {})\n", counted, expected);
  fmt::print("{} INCR in {:.3f} s: {:.0f} per second, {} writes ({:.1f} commands per write)\n", commands, seconds,
             static_cast<double>(commands) / seconds, writes,
             static_cast<double>(commands) / static_cast<double>(writes ? writes : 1));

  // One INCR per task more, all in one write; each reply is the count after it.
  redis::pipeline more;
  for (int t = 0; t < tasks; ++t) more.add("INCR", key);
  std::vector<redis::reply> replies = co_await first.execute(more);
  const long long after_pipeline = replies.back().as_integer();
  redis::reply taken = co_await take_counter.run(first, 1, key);
  const long long final_count = std::stoll(taken.as_string());
  redis::reply gone = co_await first.command("EXISTS", key);
  fmt::print("pipeline of {} INCR: {}; the script took {} and deleted the key ({} left)\n", more.size(), after_pipeline,
             final_count, gone.as_integer());
  co_return counted == expected&& final_count == expected + tasks&& gone.as_integer() == 0 ? 0 : 1;
}

int run_guarded(const std::string& url, const std::string& key, int tasks, int increments, int connections) {
  try {
    return weft::run(amain(url, key, tasks, increments, connections));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "redis_counter: {}\n", e.what());
    return 2;
  } catch (const redis::error& e) {  // an error reply: e.command(), e.code(), e.message()
    fmt::print(stderr, "redis_counter: the server refused {}: {}\n", e.command(), e.message());
    return 3;
  } catch (const std::exception& e) {  // redis::connection_error, weft::timeout_error
    fmt::print(stderr, "redis_counter: {}\n", e.what());
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Many tasks INCR one Redis counter through one pipelined weft::redis::client, then check the count.",
               "redis_counter"};
  std::string url = "redis://127.0.0.1:6379/0", key = "weft:redis_counter";
  int tasks = 100, increments = 1000, connections = 1;
  app.add_option("--url", url, "the server: redis://[[user]:password@]host[:port][/db] or rediss://...")
      ->capture_default_str();
  app.add_option("--key", key, "the counter's key (deleted first)")->capture_default_str();
  app.add_option("--tasks", tasks, "tasks sending INCRs")->check(CLI::Range(1, 100'000))->capture_default_str();
  app.add_option("--increments", increments, "INCRs per task")->check(CLI::Range(1, 10'000'000))->capture_default_str();
  app.add_option("--connections", connections, "connections (a redis::pool of clients; the tasks take them in turn)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 the count came out wrong, 2 usage error, 3 Redis failed (unreachable, error).");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  return run_guarded(url, key, tasks, increments, connections);
}
