// The tcp_chat example's room (examples/tcp_chat/chat.hpp) end to end on
// both drivers: the scripted demo (joins, nicknames, errors, a flood with a
// client that stops reading and is dropped, /quit, a reset, an oversized
// line), and cancellation of a running room.
#include <string>
#include <vector>

#include "../chat.hpp"
#include "io_test_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

const std::vector<std::string> expected_transcript = {
    "alice| * welcome, you are guest1 (commands: /nick NAME, /quit)",
    "alice| * guest1 is now alice",
    "bob| * welcome, you are guest2 (commands: /nick NAME, /quit)",
    "alice| * guest2 joined",
    "bob| ! nick alice is taken",
    "bob| * guest2 is now bob",
    "alice| * guest2 is now bob",
    "alice| <bob> hello, alice",
    "bob| <alice> hi bob!",
    "alice| ! bad nick: use 1-16 letters, digits, _ or -",
    "alice| ! unknown command /frobnicate (commands: /nick NAME, /quit)",
    "carol| * welcome, you are guest3 (commands: /nick NAME, /quit)",
    "carol| * guest3 is now carol",
    "alice| * guest3 joined",
    "alice| * guest3 is now carol",
    "bob| * guest3 joined",
    "bob| * guest3 is now carol",
    "dave| * welcome, you are guest4 (commands: /nick NAME, /quit)",
    "dave| * guest4 is now dave",
    "alice| * guest4 joined",
    "alice| * guest4 is now dave",
    "bob| * guest4 joined",
    "bob| * guest4 is now dave",
    "alice| (2000 flood lines from dave)",
    "alice| * carol was dropped (too slow)",
    "bob| (2000 flood lines from dave)",
    "bob| * carol was dropped (too slow)",
    "carol| (connection closed by the server after part of the flood)",
    "bob| * bye",
    "alice| * bob left",
    "alice| * dave left",
    "alice| ! line too long (max 1024 bytes), bye",
    "alice| (connection closed by the server)",
};

weft::task<std::vector<std::string>> demo_against_room() {
  auto listener = io::tcp_listener::bind(io::address::loopback_v4(0));
  chat::server room;
  auto server = weft::spawn(room.run(listener));
  std::vector<std::string> transcript;
  std::string error;
  try {
    transcript = co_await chat::run_demo(listener.local_address());
  } catch (const std::exception& e) {
    error = e.what();
  }
  server.cancel();
  bool cancelled = false;
  try {
    co_await server;
  } catch (const weft::operation_cancelled&) {
    cancelled = true;
  }
  if (!error.empty()) transcript.push_back("demo failed: " + error);
  if (!cancelled) transcript.push_back("the room did not end with operation_cancelled");
  co_return transcript;
}

}  // namespace

TEST_CASE("tcp_chat: the scripted demo gives the expected transcript", "[io][chat]") {
  auto backend = WEFT_BOTH_BACKENDS();
  auto workers = GENERATE(1u, 2u);
  weft::runtime rt{io_options(backend, workers)};
  std::vector<std::string> got = rt.block_on(demo_against_room());
  CHECK(got == expected_transcript);
}

TEST_CASE("tcp_chat: nick validation", "[io][chat]") {
  CHECK(chat::valid_nick("alice"));
  CHECK(chat::valid_nick("a_b-C9"));
  CHECK(chat::valid_nick(std::string(16, 'n')));
  CHECK_FALSE(chat::valid_nick(""));
  CHECK_FALSE(chat::valid_nick(std::string(17, 'n')));
  CHECK_FALSE(chat::valid_nick("two words"));
  CHECK_FALSE(chat::valid_nick("caf\xc3\xa9"));
}

TEST_CASE("tcp_chat: cancelling the room ends every session", "[io][chat]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct outcome {
    bool cancelled = false;
    bool client_saw_end = false;
  };
  outcome r = rt.block_on([]() -> weft::task<outcome> {
    auto listener = io::tcp_listener::bind(io::address::loopback_v4(0));
    chat::server room;
    auto server = weft::spawn(room.run(listener));
    chat::bot a = co_await chat::bot::connect("a", listener.local_address());
    co_await a.expect("* welcome, you are guest1 (commands: /nick NAME, /quit)");
    server.cancel();
    outcome o;
    try {
      co_await server;
    } catch (const weft::operation_cancelled&) {
      o.cancelled = true;
    }
    // The session's socket is closed: the client reads end of stream.
    auto line = co_await a.next_line();
    o.client_saw_end = !line.has_value();
    co_return o;
  }());
  CHECK(r.cancelled);
  CHECK(r.client_saw_end);
}
