// weft::ipc::pipe: both directions, one-way pipes, end of file when an
// end's last handle goes (in any process), broken pipe, timeouts.
#include <string>
#include <vector>

#include "process_pool_test_support.hpp"
#include "weft/ipc/pipe.hpp"
#include "weft/ipc/process.hpp"
#include "weft/runtime/time.hpp"

using namespace ipc_test;
using namespace std::chrono_literals;
using weft::ipc::connection;

namespace {

// Answers every message until the end of file; returns how many.
int pong(connection<std::string> c) {
  int n = 0;
  while (auto msg = c.blocking_recv()) {
    c.blocking_send("pong: " + *msg);
    ++n;
  }
  return n;
}

void send_numbers(connection<int> out, int n) {
  for (int i = 0; i < n; ++i) out.blocking_send(i);
}  // out goes here: the reader sees the end of file

}  // namespace

TEST_CASE("a duplex pipe talks both ways with a process and ends with EOF", "[ipc][pipe]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    auto [mine, theirs] = weft::ipc::pipe<std::string>();
    auto p = weft::ipc::process::start(pong, theirs);
    theirs.close();  // keep no copy of the end we gave away
    for (int i = 0; i < 3; ++i) {
      co_await mine.send("ping " + std::to_string(i));
      auto reply = co_await mine.recv();
      REQUIRE(reply.has_value());
      CHECK(*reply == "pong: ping " + std::to_string(i));
    }
    mine.close();  // the process's recv sees the end of file
    {
      auto got = co_await p.result();
      CHECK(got == 3);
    }
  }());
}

TEST_CASE("a one-way pipe: values in order, then EOF when the writer returns", "[ipc][pipe]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    auto [reader, writer] = weft::ipc::pipe<int>(false, {.capacity_items = 4});
    CHECK(reader.can_recv());
    CHECK_FALSE(reader.can_send());
    CHECK(writer.can_send());
    CHECK_THROWS_AS(reader.blocking_send(1), std::logic_error);
    auto p = weft::ipc::process::start(send_numbers, writer, 100);
    writer.close();
    std::vector<int> got;
    while (auto v = co_await reader.recv()) got.push_back(*v);
    REQUIRE(got.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);
    {
      auto got = co_await p.join();
      CHECK(got == 0);
    }
  }());
}

TEST_CASE("sending to a closed end is a broken pipe, recv gives up after its timeout", "[ipc][pipe]") {
  auto [a, b] = weft::ipc::pipe<int>();
  CHECK_THROWS_AS(a.blocking_recv(20ms), weft::timeout_error);
  CHECK_FALSE(a.poll());
  b.blocking_send(7);
  CHECK(a.poll());
  CHECK(a.try_recv() == 7);
  CHECK_FALSE(a.try_recv().has_value());
  b.blocking_send(8);
  b.close();
  CHECK(a.blocking_recv() == 8);               // what was sent is still there
  CHECK_FALSE(a.blocking_recv().has_value());  // then the end of file
  CHECK_THROWS_AS(a.blocking_send(1), weft::channel_closed);
  connection<int> empty;
  CHECK_FALSE(empty);
  CHECK_THROWS_AS(empty.try_recv(), std::logic_error);
}

TEST_CASE("a pipe recv in a task is cancelled by with_timeout, losing nothing", "[ipc][pipe]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    auto ends = weft::ipc::pipe<int>();
    auto& a = ends.first;
    auto& b = ends.second;
    auto e = co_await error_of(weft::with_timeout(30ms, a.recv()));
    CHECK(is<weft::timeout_error>(e));
    co_await b.send(5);
    // (A named result: g++ 12 mishandles an optional from co_await compared
    // inside CHECK, and the test hangs.)
    std::optional<int> got = co_await a.recv();
    CHECK(got == 5);
  }());
}
