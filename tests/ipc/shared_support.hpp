// Helpers for the shared-object tests: forked children and test item types.
//
// Children are plain fork()s of the test process: each runs a body that
// returns its exit code and leaves with _exit, never returning into Catch2
// (whose state the child shares). They never assert: they report through
// their exit code or through shared objects, and the parent asserts after
// waiting for them. Fork children before the test's runtime exists, so
// the child of a one-threaded process is forked (TSan needs that).
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "weft/ipc/errors.hpp"
#include "weft/ipc/serialize.hpp"

namespace ipc_test {

/// A handle (or any value) as the serializer writes it, and back: how the
/// tests send handles across a fork without a pool.
template <class H>
std::vector<std::byte> encoded(const H& h) {
  weft::ipc::size_counter c;
  weft::ipc::encode(c, h);
  std::vector<std::byte> out(c.size());
  weft::ipc::byte_writer w(out.data(), out.size());
  weft::ipc::encode(w, h);
  return out;
}

template <class H>
H decoded(const std::vector<std::byte>& bytes) {
  weft::ipc::byte_reader r(bytes.data(), bytes.size());
  return weft::ipc::decode<H>(r);
}

/// Milliseconds since t0.
inline long long ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
}

/// Exit code of a child whose body threw.
constexpr int child_threw = 100;
/// What wait_child returns for a child it had to kill.
constexpr int child_hung = -1000;

inline pid_t fork_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  int code = child_threw;
  try {
    code = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d threw: %s\n", static_cast<int>(::getpid()), e.what());
  } catch (...) {
    std::fprintf(stderr, "child %d threw\n", static_cast<int>(::getpid()));
  }
  ::_exit(code);
}

/// The child's exit code, -signal if a signal killed it, child_hung if it
/// was still running after `limit` (it is killed then).
inline int wait_child(pid_t pid, std::chrono::seconds limit = std::chrono::seconds(120)) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return child_hung;
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return child_hung;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return child_hung;
}

inline std::vector<int> wait_children(const std::vector<pid_t>& pids) {
  std::vector<int> codes;
  for (pid_t p : pids) codes.push_back(wait_child(p));
  return codes;
}

/// Polls `cond` (every millisecond) for up to `limit`; its last answer.
template <class Cond>
bool eventually(Cond cond, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > give_up) return cond();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// A fixed-size queue item.
struct num {
  long v = 0;
};

/// A variable-size queue item: `words` is (seq % 37) words long.
struct record {
  int producer = 0;
  int seq = 0;
  std::vector<int> words;
};

inline record make_record(int producer, int seq) {
  record r{producer, seq, {}};
  for (int i = 0; i < seq % 37; ++i) r.words.push_back(producer * 1'000'000 + seq + i);
  return r;
}

inline bool record_ok(const record& r) {
  if (r.words.size() != static_cast<std::size_t>(r.seq % 37)) return false;
  for (int i = 0; i < r.seq % 37; ++i)
    if (r.words[static_cast<std::size_t>(i)] != r.producer * 1'000'000 + r.seq + i) return false;
  return true;
}

}  // namespace ipc_test

// Serializers for the test items, written against the customization point
// only (explicit specializations outrank any generic one).
template <>
struct weft::ipc::serializer<ipc_test::num> {
  template <class Writer>
  static void encode(Writer& w, const ipc_test::num& n) {
    w.write(&n.v, sizeof n.v);
  }
  static ipc_test::num decode(byte_reader& r) {
    ipc_test::num n;
    r.read(&n.v, sizeof n.v);
    return n;
  }
};

template <>
struct weft::ipc::serializer<ipc_test::record> {
  template <class Writer>
  static void encode(Writer& w, const ipc_test::record& v) {
    const int head[3] = {v.producer, v.seq, static_cast<int>(v.words.size())};
    w.write(head, sizeof head);
    w.write(v.words.data(), v.words.size() * sizeof(int));
  }
  static ipc_test::record decode(byte_reader& r) {
    int head[3];
    r.read(head, sizeof head);
    if (head[2] < 0) throw serialization_error("record: negative length");
    ipc_test::record v{head[0], head[1], std::vector<int>(static_cast<std::size_t>(head[2]))};
    r.read(v.words.data(), v.words.size() * sizeof(int));
    return v;
  }
};
