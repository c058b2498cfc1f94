// oneshot: weft::oneshot<T>() (weft/runtime/sync/oneshot.hpp), a channel
// for exactly one value: a promise/future pair.
//
// Its usual job is the reply to a request. A service task owns its state
// and takes requests from a weft::channel; each request carries the sender
// half of a oneshot, and the caller awaits the receiver half:
//
//   auto [tx, rx] = weft::oneshot<long>();
//   co_await requests.send(request{..., std::move(tx)});
//   long answer = co_await rx;
//
// Both ways a reply can fail are shown: the service drops a sender without
// sending (here: a division by zero), and the caller's co_await throws
// weft::channel_closed instead of hanging; a caller gives up on a slow
// reply (with_timeout), and the service's send() returns false.
// The program checks every answer and both failures; it exits 1 if any
// came out wrong.
//
//   ./build/examples/oneshot [--quick]
#include <fmt/core.h>

#include <chrono>
#include <exception>
#include <vector>

#include "../common/cli.hpp"
#include "weft/weft.hpp"

namespace {

using namespace std::chrono_literals;

struct request {
  long dividend = 0, divisor = 1;
  std::chrono::milliseconds delay{0};  // how long the service takes
  weft::oneshot_sender<long> reply;
};

// The service: answers until the request channel is closed; counts the
// replies that found nobody waiting.
weft::task<void> divider(weft::channel<request>& requests, int& undelivered) {
  while (auto r = co_await requests.recv()) {
    if (r->divisor == 0) continue;  // no answer: r->reply is dropped unsent
    co_await weft::sleep_for(r->delay);
    if (!r->reply.send(r->dividend / r->divisor)) ++undelivered;  // the caller stopped waiting
  }
}

weft::task<long> divide(weft::channel<request>& service, long a, long b) {
  auto [tx, rx] = weft::oneshot<long>();
  request r{a, b, 1ms, std::move(tx)};  // a named variable, not a temporary inside co_await (GCC 12)
  co_await service.send(std::move(r));
  co_return co_await rx;  // weft::channel_closed if the service drops tx
}

weft::task<bool> ask(weft::channel<request>& requests, int callers) {
  bool ok = true;
  // Many callers at once: each reply reaches the caller that asked.
  std::vector<weft::task<long>> calls;
  for (long i = 1; i <= callers; ++i) calls.push_back(divide(requests, i * i * 7, i));
  std::vector<long> answers = co_await weft::when_all(std::move(calls));
  for (long i = 1; i <= callers; ++i) ok &= answers[static_cast<std::size_t>(i - 1)] == i * 7;
  fmt::print("{} callers, {} answers: {} ... {}\n", callers, answers.size(), answers.front(), answers.back());

  // The service drops the sender unsent: the receiver throws, it does not hang.
  try {
    long q = co_await divide(requests, 10, 0);
    fmt::print("10 / 0 = {}?\n", q);
    ok = false;
  } catch (const weft::channel_closed& e) {
    fmt::print("10 / 0: no reply, the service dropped the sender ({})\n", e.what());
  }

  // The caller gives up: its receiver is destroyed, the service's send() fails.
  auto [tx, rx] = weft::oneshot<long>();
  request slow{100, 4, 100ms, std::move(tx)};
  co_await requests.send(std::move(slow));
  try {
    long q = co_await weft::with_timeout(10ms, std::move(rx));
    fmt::print("100 / 4 = {} within 10 ms?\n", q);
    ok = false;
  } catch (const weft::timeout_error&) {
    fmt::print("100 / 4: gave up after 10 ms\n");
  }
  co_return ok;
}

weft::task<int> amain(int callers) {
  weft::channel<request> requests{16};
  int undelivered = 0;
  bool ok = false;
  // The scope joins the service before `requests` goes away, also if the
  // calls throw (the service is then cancelled).
  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
    scope.spawn(divider(requests, undelivered));
    ok = co_await ask(requests, callers);
    requests.close();  // the service answers what is queued, then ends
  });
  fmt::print("service done: {} reply found nobody waiting\n", undelivered);
  co_return ok&& undelivered == 1 ? example::exit_ok : example::exit_error;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Requests to a service task, each answered through a weft::oneshot.", "oneshot"};
  int callers = 100;
  bool quick = false;
  app.add_option("--callers", callers, "concurrent callers")->check(CLI::Range(1, 1'000'000));
  app.add_flag("--quick", quick, "a small run (the test suite's)");
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 a check failed, 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;
  if (quick) callers = 10;
  try {
    return weft::run(amain(callers));
  } catch (const std::exception& e) {
    fmt::print(stderr, "oneshot: {}\n", e.what());
    return example::exit_error;
  }
}
