// weft/runtime/runtime_options.hpp: thread names and an explicit backend,
// a tiny io_uring ring (ring_entries), report_unfinished = false, to_string
// of io_backend, workers = 0, the automatic backend and WEFT_IO, the
// unhandled-exception handler and its default, max_blocking_threads = 0,
// recv_buffers and recv_buffer_size.
#include <catch2/catch.hpp>

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shutdown_support.hpp"
#include "test_support.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft_test::leave_sleepers;
using weft_test::sleeps_forever;

namespace {

// Sets an environment variable for its lifetime, then restores it.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = std::string(old);
    ::setenv(name, value, 1);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;
  ~scoped_env() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

task<void> fail_detached(const char* what) {
  co_await weft::sleep_for(1ms);
  throw std::runtime_error(what);
}

}  // namespace

TEST_CASE("runtime options: names, backends", "[runtime][spawn]") {
  weft::runtime rt{{.workers = 1, .io = weft::io_backend::epoll, .thread_name = "tst"}};
  CHECK(rt.io_backend() == weft::io_backend::epoll);
  std::string name = rt.block_on([]() -> weft::task<std::string> {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    co_return std::string(buf);
  }());
  CHECK(name == "tst-0");
}

TEST_CASE("a tiny io_uring ring still takes many operations at once", "[runtime][spawn]") {
  // ring_entries = 4: most submissions find the ring full and flush it first.
  weft::runtime rt{{.workers = 1, .io = weft::io_backend::io_uring, .ring_entries = 4}};
  int done = rt.block_on([]() -> weft::task<int> {
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 64; ++i) hs.push_back(weft::spawn(weft::ops::timeout(std::chrono::milliseconds(1))));
    int ok = 0;
    for (auto& h : hs) ok += (co_await h) == 0;
    co_return ok;
  }());
  CHECK(done == 64);
}

TEST_CASE("runtime_options::report_unfinished = false silences the shutdown report", "[runtime][shutdown]") {
  std::atomic<int> destroyed{0};
  weft_test::stderr_capture err;
  {
    weft::runtime rt{{.workers = 2, .report_unfinished = false}};
    rt.block_on(leave_sleepers(5, destroyed));
    rt.spawn(sleeps_forever(destroyed)).detach();
  }
  CHECK(weft::run(
            [](std::atomic<int>& d) -> weft::task<int> {
              weft::spawn(sleeps_forever(d)).detach();
              co_return 1;
            }(destroyed),
            {.workers = 1, .report_unfinished = false}) == 1);
  CHECK(err.text().empty());
}

TEST_CASE("runtime_options: to_string(io_backend) names each backend", "[runtime][runtime_options]") {
  CHECK(std::string(weft::to_string(weft::io_backend::automatic)) == "automatic");
  CHECK(std::string(weft::to_string(weft::io_backend::io_uring)) == "io_uring");
  CHECK(std::string(weft::to_string(weft::io_backend::epoll)) == "epoll");
}

TEST_CASE("runtime_options: the defaults", "[runtime][runtime_options]") {
  const weft::runtime_options o;
  CHECK(o.workers == 0);
  CHECK(o.io == weft::io_backend::automatic);
  CHECK(o.thread_name == "weft");
  CHECK_FALSE(o.unhandled_exception);
  CHECK(o.report_unfinished);
  CHECK(o.ring_entries == 256);
  CHECK(o.recv_buffers == 512);
  CHECK(o.recv_buffer_size == 4096);
  CHECK(o.max_blocking_threads == 512);
  CHECK(o.blocking_keep_alive == std::chrono::seconds(10));
}

TEST_CASE("runtime_options: workers = 0 starts one worker per hardware thread", "[runtime][runtime_options]") {
  weft::runtime rt{{.workers = 0}};
  const unsigned hw = std::thread::hardware_concurrency();
  CHECK(rt.worker_count() == (hw ? hw : 1));
  CHECK(rt.metrics().workers.size() == rt.worker_count());
}

TEST_CASE("runtime_options: the automatic backend, and WEFT_IO", "[runtime][runtime_options]") {
  {
    // Whatever WEFT_IO says outside, this run decides on its own.
    scoped_env env("WEFT_IO", "auto");
    weft::runtime rt{{.workers = 1}};
    CHECK(rt.io_backend() != weft::io_backend::automatic);
  }
  {
    scoped_env env("WEFT_IO", "epoll");
    weft::runtime rt{{.workers = 1}};
    CHECK(rt.io_backend() == weft::io_backend::epoll);
  }
  {
    // WEFT_IO overrides only the automatic choice, not a backend asked for.
    scoped_env env("WEFT_IO", "uring");
    weft::runtime rt{{.workers = 1, .io = weft::io_backend::epoll}};
    CHECK(rt.io_backend() == weft::io_backend::epoll);
  }
}

TEST_CASE("runtime_options: unhandled_exception gets failures nobody joins, not cancellations",
          "[runtime][runtime_options]") {
  std::atomic<int> reports{0};
  std::string last;
  {
    weft::runtime rt{{.workers = 1, .unhandled_exception = [&](std::exception_ptr e) {
                        try {
                          std::rethrow_exception(e);
                        } catch (const std::exception& ex) {
                          last = ex.what();
                        }
                        ++reports;
                      }}};
    rt.block_on([]() -> task<void> {
      weft::spawn(fail_detached("nobody joins this")).detach();
      // Ending in operation_cancelled, thrown by the task itself: not reported.
      weft::spawn([]() -> task<void> {
        co_await weft::sleep_for(1ms);
        throw weft::operation_cancelled{};
      }())
          .detach();
      // Joined: its failure goes to the joiner, not to the handler.
      std::exception_ptr joined = co_await weft_test::error_of(weft::spawn(fail_detached("joined")));
      CHECK(joined != nullptr);
      co_await weft::sleep_for(20ms);
    }());
    for (int i = 0; i < 500 && reports.load() == 0; ++i) std::this_thread::sleep_for(2ms);
  }
  CHECK(reports.load() == 1);
  CHECK(last == "nobody joins this");
}

TEST_CASE("runtime_options: by default an unjoined failure is one line on stderr", "[runtime][runtime_options]") {
  weft_test::stderr_capture err;
  {
    weft::runtime rt{{.workers = 1}};
    rt.block_on([]() -> task<void> {
      weft::spawn(fail_detached("the detached task failed")).detach();
      co_await weft::sleep_for(20ms);
    }());
  }
  const std::string text = err.text();
  REQUIRE_FALSE(text.empty());
  CHECK(weft_test::occurrences(text, "\n") == 1);
  CHECK(text.back() == '\n');
  CHECK(weft_test::occurrences(text, "the detached task failed") == 1);
}

TEST_CASE("runtime_options: max_blocking_threads = 0 counts as 1", "[runtime][runtime_options]") {
  weft::runtime rt{{.workers = 1, .max_blocking_threads = 0}};
  std::atomic<bool> started{false}, release{false};
  rt.block_on([&]() -> task<void> {
    weft::runtime& r = *weft::runtime::current();
    auto first = weft::spawn_blocking([&] {
      started = true;
      const auto give_up = std::chrono::steady_clock::now() + 10s;
      while (!release && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(100us);
      return 1;
    });
    bool running = co_await weft_test::eventually([&] { return started.load(); });
    REQUIRE(running);
    auto second = weft::spawn_blocking([] { return 2; });
    bool queued = co_await weft_test::eventually([&] { return r.metrics().blocking_queue_depth == 1; });
    CHECK(queued);
    CHECK(r.metrics().blocking_threads == 1);
    release = true;
    int a = co_await first;
    int b = co_await second;
    CHECK(a + b == 3);
    CHECK(r.metrics().blocking_threads == 1);
  }());
}

TEST_CASE("runtime_options: a recv_buffer_size of 0 is refused, naming the option", "[runtime][runtime_options]") {
  // Receives into 0 bytes would return 0, read everywhere as end of stream.
  try {
    weft::runtime rt{weft::runtime_options{.workers = 1, .recv_buffer_size = 0}};
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "weft::runtime_options: recv_buffer_size is 0; it must be at least 1 byte");
  }
  weft::runtime ok{weft::runtime_options{.workers = 1, .recv_buffer_size = 1}};
  CHECK(ok.block_on([]() -> task<int> { co_return 1; }()) == 1);
}

TEST_CASE("runtime_options: recv_buffer_size bounds a pooled receive, with and without the buffer ring",
          "[runtime][runtime_options]") {
  for (auto backend : {weft::io_backend::epoll, weft::io_backend::io_uring}) {
    for (unsigned buffers : {4u, 0u}) {
      INFO("backend: " << weft::to_string(backend) << ", recv_buffers: " << buffers);
      std::unique_ptr<weft::runtime> rt;
      try {
        rt = std::make_unique<weft::runtime>(
            weft::runtime_options{.workers = 1, .io = backend, .recv_buffers = buffers, .recv_buffer_size = 16});
      } catch (const std::runtime_error& e) {
        WARN("io_uring is not available here (" << e.what() << "); the io_uring run is skipped");
        continue;
      }
      int sv[2];
      REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
      const std::string sent(100, 'x');
      REQUIRE(::send(sv[1], sent.data(), sent.size(), 0) == 100);
      ::close(sv[1]);
      std::vector<int> sizes = rt->block_on([](int fd) -> task<std::vector<int>> {
        std::vector<int> sizes;
        for (;;) {
          weft::ops::pooled_buffer b;
          int n = co_await weft::ops::recv_pooled(fd, b);
          sizes.push_back(n);
          if (n <= 0) break;
          CHECK(b.size() == static_cast<std::size_t>(n));  // the buffer holds what was received
        }
        co_return sizes;
      }(sv[0]));
      ::close(sv[0]);
      // 100 bytes in pieces of at most 16, then the end of the stream.
      int total = 0;
      bool bounded = true;
      for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
        total += sizes[i];
        bounded = bounded && sizes[i] > 0 && sizes[i] <= 16;
      }
      CHECK(bounded);
      CHECK(total == 100);
      CHECK(sizes.back() == 0);
    }
  }
}
