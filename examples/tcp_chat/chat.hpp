// A line-based TCP chat room: one broadcaster task fans messages out to one
// bounded weft::channel per client. Used by the tcp_chat example and by
// tests/chat_test.cpp (through run_demo()).
//
//   chat::server room;
//   co_await weft::when_any(room.run(listener), signals.wait());
//
// Every connection is a session of two tasks: a reader that turns lines
// into events for the broadcaster's inbox, and a writer that drains the
// client's outbox into its socket. Only the broadcaster touches the member
// list and the nicknames, so nothing is locked. It never waits on a client:
// it try_send()s into each outbox, and a client whose outbox is full (it
// stopped reading, or reads too slowly) is dropped with a notice to the
// others, so one slow client cannot hold up the room.
//
// Protocol: one message per line (at most max_line bytes); "/nick NAME"
// renames, "/quit" leaves. Lines from the server: "<nick> text" for
// messages, "* ..." for notices, "! ..." for errors sent only to you.
//
// Cancellation: cancelling run() cancels the broadcaster and, through
// serve(), every session; both end at once.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "weft/weft.hpp"

namespace chat {

inline constexpr std::size_t max_line = 1024;
/// Lines queued for one client before it counts as too slow.
inline constexpr std::size_t outbox_capacity = 256;
/// Events waiting for the broadcaster; a full inbox makes the readers wait
/// (back-pressure on the senders, not on the receivers).
inline constexpr std::size_t inbox_capacity = 64;
/// A small kernel send buffer per client, so that one that stops reading
/// fills its outbox after some tens of KiB instead of megabytes.
inline constexpr int socket_send_buffer = 16 * 1024;
inline constexpr auto write_timeout = std::chrono::seconds(10);
inline constexpr const char* help_text = "commands: /nick NAME, /quit";

struct member {
  member(std::uint64_t i, weft::io::tcp_stream s) : id(i), stream(std::move(s)) {}

  /// Ends both directions: the reader sees end of stream, a blocked write
  /// fails. Safe from any task while a shared_ptr keeps the member alive.
  void kick() noexcept { ::shutdown(stream.fd(), SHUT_RDWR); }

  const std::uint64_t id;
  std::string nick;  // the broadcaster's alone
  weft::channel<std::string> outbox{outbox_capacity};
  weft::io::tcp_stream stream;
  bool write_failed = false;  // the writer's alone
};

struct event {
  enum kind { join, say, nick, reply, leave } what;
  std::shared_ptr<member> who;
  std::string text;
};

/// "name" is a valid nickname: 1-16 letters, digits, '_' or '-'.
inline bool valid_nick(std::string_view name) {
  if (name.empty() || name.size() > 16) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

class server {
 public:
  server() = default;
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Serves `listener` until cancelled (or a fatal accept error).
  weft::task<void> run(weft::io::tcp_listener& listener, weft::io::serve_options opts = {}) {
    co_await weft::when_all(broadcast(),
                            weft::io::serve(
                                listener, [this](weft::io::tcp_stream s) { return session(std::move(s)); }, opts));
  }

  /// Clients that joined so far.
  std::uint64_t clients_served() const noexcept { return next_id_.load() - 1; }

 private:
  // ------------------------------------------------------------ broadcaster
  weft::task<void> broadcast() {
    try {
      while (auto ev = co_await inbox_.recv()) handle(std::move(*ev));
    } catch (...) {
      close_all();
      throw;
    }
    close_all();
  }

  void handle(event ev) {
    member& m = *ev.who;
    switch (ev.what) {
      case event::join:
        m.nick = "guest" + std::to_string(m.id);
        members_.emplace(m.id, ev.who);
        deliver(m, "* welcome, you are " + m.nick + " (" + help_text + ")");
        to_all("* " + m.nick + " joined", &m);
        break;
      case event::say:
        if (members_.count(m.id)) to_all("<" + m.nick + "> " + ev.text, &m);
        break;
      case event::nick:
        if (!members_.count(m.id)) break;
        if (!valid_nick(ev.text)) {
          deliver(m, "! bad nick: use 1-16 letters, digits, _ or -");
        } else if (std::any_of(members_.begin(), members_.end(),
                               [&](auto& kv) { return kv.second->nick == ev.text; })) {
          deliver(m, "! nick " + ev.text + " is taken");
        } else {
          std::string old = std::exchange(m.nick, ev.text);
          to_all("* " + old + " is now " + m.nick, nullptr);
        }
        break;
      case event::reply:
        if (members_.count(m.id)) deliver(m, std::move(ev.text));
        break;
      case event::leave:
        // Already gone if it was dropped; then the others were told.
        if (members_.erase(m.id)) {
          m.outbox.close();  // the writer sends what is queued, then ends
          to_all("* " + m.nick + " left", nullptr);
        }
        break;
    }
    drop_slow();
  }

  /// Queues `line` for m, or marks m as too slow. Never waits.
  void deliver(member& m, std::string line) {
    if (!m.outbox.try_send(line) && !m.outbox.is_closed()) slow_.push_back(m.id);
  }
  void to_all(const std::string& line, const member* except) {
    for (auto& [id, m] : members_)
      if (m.get() != except) deliver(*m, line);
  }
  /// Drops every member found too slow; telling the others may find more.
  void drop_slow() {
    while (!slow_.empty()) {
      auto it = members_.find(slow_.back());
      slow_.pop_back();
      if (it == members_.end()) continue;
      std::shared_ptr<member> m = std::move(it->second);
      members_.erase(it);
      m->outbox.close();
      m->kick();  // its reader sees end of stream; its session ends
      to_all("* " + m->nick + " was dropped (too slow)", nullptr);
    }
  }
  void close_all() noexcept {
    for (auto& [id, m] : members_) m->outbox.close();
    members_.clear();
  }

  // ------------------------------------------------------------ sessions
  /// Queues an event for the broadcaster (waits while the inbox is full).
  /// The event is a named local on purpose: GCC 12 mishandles class
  /// temporaries built inside a co_await expression.
  weft::task<void> post(event::kind what, std::shared_ptr<member> who, std::string text = {}) {
    event ev{what, std::move(who), std::move(text)};
    co_await inbox_.send(std::move(ev));
  }

  weft::task<void> session(weft::io::tcp_stream s) {
    s.set_nodelay(true);
    s.set_send_buffer_size(socket_send_buffer);
    auto m = std::make_shared<member>(next_id_.fetch_add(1), std::move(s));
    co_await post(event::join, m);
    co_await weft::when_all(read_lines(m), write_lines(m));
  }

  weft::task<void> read_lines(std::shared_ptr<member> m) {
    std::string pending;
    char buf[4096];
    bool quit = false;
    try {
      while (!quit) {
        std::size_t n = co_await m->stream.read_some(weft::io::as_writable_bytes(buf));
        if (n == 0) break;
        pending.append(buf, n);
        std::size_t start = 0;
        for (std::size_t nl; !quit && (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
          std::string_view line(pending.data() + start, nl - start);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          if (line.size() > max_line) break;
          quit = !co_await on_line(m, line);
        }
        pending.erase(0, start);
        if (!quit && pending.size() > max_line) {
          co_await post(event::reply, m, "! line too long (max " + std::to_string(max_line) + " bytes), bye");
          break;
        }
      }
    } catch (const std::system_error&) {
      // Reset by the peer, or kicked: the session ends like a leave.
    }
    co_await post(event::leave, m);
  }

  /// One line from the client; false for /quit.
  weft::task<bool> on_line(const std::shared_ptr<member>& m, std::string_view line) {
    if (line.empty()) co_return true;
    if (line.front() != '/') {
      co_await post(event::say, m, std::string(line));
      co_return true;
    }
    const std::string_view cmd = line.substr(0, line.find(' '));
    std::string_view arg = line.substr(cmd.size());
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    if (cmd == "/nick") {
      co_await post(event::nick, m, std::string(arg));
    } else if (cmd == "/quit") {
      co_await post(event::reply, m, "* bye");
      co_return false;
    } else {
      co_await post(event::reply, m, "! unknown command " + std::string(cmd) + " (" + help_text + ")");
    }
    co_return true;
  }

  weft::task<void> write_lines(std::shared_ptr<member> m) {
    std::string batch;
    while (auto line = co_await m->outbox.recv()) {
      // Whatever else is queued goes out in the same write.
      batch = std::move(*line);
      batch += '\n';
      while (batch.size() < 64 * 1024) {
        auto more = m->outbox.try_recv();
        if (!more) break;
        batch += *more;
        batch += '\n';
      }
      if (m->write_failed) continue;  // drain until the broadcaster closes the outbox
      try {
        co_await m->stream.write_all(weft::io::as_bytes(batch), write_timeout);
      } catch (const std::system_error&) {
        m->write_failed = true;
      } catch (const weft::timeout_error&) {
        m->write_failed = true;
      }
      if (m->write_failed) m->kick();  // the reader ends, and sends the leave
    }
  }

  weft::channel<event> inbox_{inbox_capacity};
  std::map<std::uint64_t, std::shared_ptr<member>> members_;  // broadcaster only
  std::vector<std::uint64_t> slow_;                           // broadcaster only
  std::atomic<std::uint64_t> next_id_{1};
};

// ---------------------------------------------------------------- demo

/// A scripted client for the demo: reads and writes whole lines.
class bot {
 public:
  bot(std::string name, weft::io::tcp_stream s) : name_(std::move(name)), s_(std::move(s)) {}

  static weft::task<bot> connect(std::string name, const weft::io::address& to, int receive_buffer = 0) {
    weft::io::tcp_stream s;
    if (receive_buffer > 0) {
      // SO_RCVBUF must be set before connecting to bound the TCP window.
      int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::system_error(errno, std::system_category(), "socket");
      s = weft::io::tcp_stream(fd);
      s.set_receive_buffer_size(receive_buffer);
      int r = co_await weft::with_timeout(std::chrono::seconds(10), weft::ops::connect(fd, to.data(), to.size()));
      if (r < 0) throw std::system_error(-r, std::system_category(), "connect to " + to.to_string());
    } else {
      s = co_await weft::io::tcp_stream::connect(to, std::chrono::seconds(10));
    }
    co_return bot(std::move(name), std::move(s));
  }

  const std::string& name() const noexcept { return name_; }
  weft::io::tcp_stream& stream() noexcept { return s_; }

  weft::task<void> say(std::string line) {
    line += '\n';
    co_await s_.write_all(weft::io::as_bytes(line), std::chrono::seconds(10));
  }
  /// The next line; an empty optional at end of stream.
  weft::task<std::optional<std::string>> next_line() {
    for (;;) {
      if (auto nl = pending_.find('\n'); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        co_return line;
      }
      char buf[4096];
      std::size_t n = co_await s_.read_some(weft::io::as_writable_bytes(buf), std::chrono::seconds(10));
      if (n == 0) co_return std::nullopt;
      pending_.append(buf, n);
    }
  }
  /// The next line, which must be `want`.
  weft::task<std::string> expect(std::string_view want) {
    auto got = co_await next_line();
    if (!got) throw std::runtime_error(name_ + " expected \"" + std::string(want) + "\", got end of stream");
    if (*got != want) throw std::runtime_error(name_ + " expected \"" + std::string(want) + "\", got \"" + *got + "\"");
    co_return name_ + "| " + *got;
  }
  /// End of stream must come next.
  weft::task<void> expect_end() {
    auto got = co_await next_line();
    if (got) throw std::runtime_error(name_ + " expected end of stream, got \"" + *got + "\"");
  }

 private:
  std::string name_;
  weft::io::tcp_stream s_;
  std::string pending_;
};

inline constexpr int demo_flood_lines = 2000;

/// Runs the scripted conversation against a chat server at `to` and
/// returns the transcript ("alice| <bob> hi", ...). The script waits for
/// each reaction before the next step, so the transcript is the same on
/// any number of workers. Throws std::runtime_error when a client sees
/// something else than the script expects.
inline weft::task<std::vector<std::string>> run_demo(weft::io::address to) {
  std::vector<std::string> t;
  auto log = [&t](std::string line) { t.push_back(std::move(line)); };

  bot alice = co_await bot::connect("alice", to);
  log(co_await alice.expect("* welcome, you are guest1 (commands: /nick NAME, /quit)"));
  co_await alice.say("/nick alice");
  log(co_await alice.expect("* guest1 is now alice"));

  bot bob = co_await bot::connect("bob", to);
  log(co_await bob.expect("* welcome, you are guest2 (commands: /nick NAME, /quit)"));
  log(co_await alice.expect("* guest2 joined"));
  co_await bob.say("/nick alice");
  log(co_await bob.expect("! nick alice is taken"));
  co_await bob.say("/nick bob");
  log(co_await bob.expect("* guest2 is now bob"));
  log(co_await alice.expect("* guest2 is now bob"));
  co_await bob.say("hello, alice");
  log(co_await alice.expect("<bob> hello, alice"));
  co_await alice.say("hi bob!");
  log(co_await bob.expect("<alice> hi bob!"));
  co_await alice.say("/nick no spaces allowed");
  log(co_await alice.expect("! bad nick: use 1-16 letters, digits, _ or -"));
  co_await alice.say("/frobnicate");
  log(co_await alice.expect("! unknown command /frobnicate (commands: /nick NAME, /quit)"));

  // carol reads her welcome and then nothing more, with a small window.
  bot carol = co_await bot::connect("carol", to, 4096);
  log(co_await carol.expect("* welcome, you are guest3 (commands: /nick NAME, /quit)"));
  co_await carol.say("/nick carol");
  log(co_await carol.expect("* guest3 is now carol"));
  log(co_await alice.expect("* guest3 joined"));
  log(co_await alice.expect("* guest3 is now carol"));
  log(co_await bob.expect("* guest3 joined"));
  log(co_await bob.expect("* guest3 is now carol"));

  bot dave = co_await bot::connect("dave", to);
  log(co_await dave.expect("* welcome, you are guest4 (commands: /nick NAME, /quit)"));
  co_await dave.say("/nick dave");
  log(co_await dave.expect("* guest4 is now dave"));
  log(co_await alice.expect("* guest4 joined"));
  log(co_await alice.expect("* guest4 is now dave"));
  log(co_await bob.expect("* guest4 joined"));
  log(co_await bob.expect("* guest4 is now dave"));

  // dave floods in batches; alice and bob keep up (the script reads them
  // after every batch), carol does not and must be dropped while alice and
  // bob go on receiving.
  const std::string pad(80, '.');
  auto flood_line = [&pad](int i) { return "flood " + std::to_string(i) + " " + pad; };
  std::vector<std::string> alice_notices, bob_notices;
  int alice_got = 0, bob_got = 0;
  auto read_until = [](bot& b, const std::string& last, int& count,
                       std::vector<std::string>& notices) -> weft::task<void> {
    for (;;) {
      auto line = co_await b.next_line();
      if (!line) throw std::runtime_error(b.name() + ": end of stream during the flood");
      if (line->rfind("<dave> flood ", 0) == 0) {
        ++count;
        if (*line == last) co_return;
      } else {
        notices.push_back(b.name() + "| " + *line);
      }
    }
  };
  constexpr int batch = 50;
  for (int first = 0; first < demo_flood_lines; first += batch) {
    std::string lines;
    for (int i = first; i < first + batch; ++i) lines += flood_line(i) + '\n';
    co_await dave.stream().write_all(weft::io::as_bytes(lines), std::chrono::seconds(10));
    const std::string last = "<dave> " + flood_line(first + batch - 1);
    co_await read_until(alice, last, alice_got, alice_notices);
    co_await read_until(bob, last, bob_got, bob_notices);
  }
  log("alice| (" + std::to_string(alice_got) + " flood lines from dave)");
  for (auto& n : alice_notices) log(n);
  log("bob| (" + std::to_string(bob_got) + " flood lines from dave)");
  for (auto& n : bob_notices) log(n);
  if (alice_notices.empty()) log(co_await alice.expect("* carol was dropped (too slow)"));
  if (bob_notices.empty()) log(co_await bob.expect("* carol was dropped (too slow)"));

  // carol finds her connection closed once she reads what was buffered.
  int carol_got = 0;
  while (auto line = co_await carol.next_line())
    if (line->rfind("<dave> flood ", 0) == 0) ++carol_got;
  log("carol| (connection closed by the server after " +
      std::string(carol_got < demo_flood_lines ? "part of the flood" : "the whole flood") + ")");

  co_await bob.say("/quit");
  log(co_await bob.expect("* bye"));
  co_await bob.expect_end();
  log(co_await alice.expect("* bob left"));

  // dave vanishes with a reset (SO_LINGER 0), not a clean close.
  ::linger lg{1, 0};
  ::setsockopt(dave.stream().fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  dave.stream().close();
  log(co_await alice.expect("* dave left"));

  co_await alice.say(std::string(max_line + 1, 'x'));
  log(co_await alice.expect("! line too long (max 1024 bytes), bye"));
  co_await alice.expect_end();
  log("alice| (connection closed by the server)");
  co_return t;
}

}  // namespace chat
