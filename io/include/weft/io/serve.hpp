// weft::io::serve: the accept loop every server needs, done once.
//
//   auto listener = weft::io::tcp_listener::bind(addr);
//   co_await weft::io::serve(listener, [](weft::io::tcp_stream s) -> weft::task<> {
//     std::byte buf[4096];
//     while (std::size_t n = co_await s.read_some(buf)) co_await s.write_all({buf, n});
//   });
//   weft::io::serve_options o{.max_connections = 1000};  // a variable (GCC 12, below)
//   co_await weft::io::serve(listener, handler, o);
//
// Each connection runs as its own task. A handler that throws is reported
// (serve_options::on_handler_error) and only its connection ends. Running
// out of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM)
// does not end the loop: it reports once, backs off (5 ms doubling to 1 s)
// while the existing connections go on, and resumes accepting when
// descriptors free up. A connection aborted before accept is skipped.
//
// Cancellation: cancelling the task awaiting serve() stops accepting,
// cancels every connection task, waits for them to end, and then throws
// weft::operation_cancelled. Any other accept error (the listener was
// closed, EBADF, EINVAL) ends serve() the same way, with that error.
//
// GCC 12 frees a braced temporary written inside a co_await expression
// twice (`serve(l, h, {.on_handler_error = ...})`, `serve_options{...}`, a
// defaulted `= {}`): serve() takes its options only as a named variable
// (copied at the call) or not at all, and an rvalue, std::move(o)
// included, fails to compile with a message saying so (as for
// http::client, see weft/http/client.hpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "weft/io/deadline.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/sync/semaphore.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft::io {

struct serve_options {
  /// Most connections handled at once; accepting pauses at the limit (0: none).
  std::size_t max_connections = 0;
  std::chrono::milliseconds backoff_min{5};
  std::chrono::milliseconds backoff_max{1000};
  /// A handler's exception (operation_cancelled excepted). Default: stderr.
  std::function<void(std::exception_ptr)> on_handler_error{};
  /// A transient accept error, once per episode. Default: stderr.
  std::function<void(const std::system_error&)> on_accept_error{};
};

namespace detail {

/// Whether an accept error is worth waiting out (EMFILE...) rather than fatal.
enum class accept_failure { retry_now, back_off, fatal };
accept_failure classify_accept_error(const std::system_error& e) noexcept;
void report_accept_error(const serve_options& o, const std::system_error& e);
void report_handler_error(const serve_options& o, std::exception_ptr e);

/// The live connection tasks of one serve() call.
class connection_set {
 public:
  template <class F>
  void spawn(F make_task) {
    std::lock_guard lock(mu_);
    const std::uint64_t id = next_id_++;
    // idle_ stays set from the last time the count reached zero: clear it,
    // or wait_idle() would return while this connection still runs.
    if (count_++ == 0) idle_.clear();
    live_.emplace(id, weft::spawn(make_task(id)));
  }
  /// Called by a connection task as it ends.
  void finished(std::uint64_t id) {
    std::optional<join_handle<void>> h;
    {
      std::lock_guard lock(mu_);
      if (auto it = live_.find(id); it != live_.end()) {
        h.emplace(std::move(it->second));
        live_.erase(it);
      }
      // Under the lock, so that a spawn() cannot clear idle_ in between.
      if (--count_ == 0) idle_.set();
    }
    if (h) h->detach();
  }
  void cancel_all() {
    std::lock_guard lock(mu_);
    for (auto& [id, h] : live_) h.cancel();
  }
  /// Waits until no connection task is left; ignores cancellation on
  /// purpose: serve() must not return while its handlers still run.
  task<void> wait_idle() {
    {
      std::lock_guard lock(mu_);
      if (count_ == 0) co_return;
    }
    co_await idle_.wait_uncancellable();
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::uint64_t, join_handle<void>> live_;
  std::uint64_t next_id_ = 0;
  std::size_t count_ = 0;
  weft::event idle_;
};

template <class Handler, class Stream>
task<void> run_connection(Handler& handler, const serve_options& opts, connection_set& conns, weft::semaphore* slots,
                          Stream s, std::uint64_t id) {
  try {
    co_await handler(std::move(s));
  } catch (const operation_cancelled&) {
  } catch (...) {
    report_handler_error(opts, std::current_exception());
  }
  if (slots) slots->release();
  conns.finished(id);
}

template <class Listener, class Handler>
task<void> serve_loop(Listener& listener, Handler handler, serve_options opts) {
  using stream_type = weft::detail::await_result_t<decltype(std::declval<Listener&>().accept())>;
  detail::connection_set conns;
  std::optional<weft::semaphore> slots;
  if (opts.max_connections) slots.emplace(opts.max_connections);

  std::exception_ptr failure;
  try {
    auto backoff = opts.backoff_min;
    bool reported = false;
    for (;;) {
      if (slots) co_await slots->acquire();
      std::optional<stream_type> s;
      std::optional<std::system_error> error;  // handled below: no co_await in a catch block
      std::exception_ptr error_ptr;
      try {
        s.emplace(co_await listener.accept());
      } catch (const std::system_error& e) {
        error.emplace(e);
        error_ptr = std::current_exception();
      }
      if (error) {
        if (slots) slots->release();
        auto kind = detail::classify_accept_error(*error);
        if (kind == detail::accept_failure::fatal) std::rethrow_exception(error_ptr);
        if (kind == detail::accept_failure::back_off) {
          if (!reported) detail::report_accept_error(opts, *error);
          reported = true;
          co_await sleep_for(backoff);
          backoff = std::min(backoff * 2, opts.backoff_max);
        }
        continue;
      }
      backoff = opts.backoff_min;
      reported = false;
      conns.spawn([&](std::uint64_t id) {
        return detail::run_connection(handler, opts, conns, slots ? &*slots : nullptr, std::move(*s), id);
      });
    }
  } catch (...) {
    failure = std::current_exception();
  }
  conns.cancel_all();
  co_await conns.wait_idle();
  std::rethrow_exception(failure);
}

}  // namespace detail

template <class Listener, class Handler>
task<void> serve(Listener& listener, Handler handler) {
  return detail::serve_loop(listener, std::move(handler), serve_options{});
}
/// opts is copied at the call: it may go away before the task is awaited.
template <class Listener, class Handler>
task<void> serve(Listener& listener, Handler handler, const serve_options& opts) {
  return detail::serve_loop(listener, std::move(handler), opts);
}
/// Refused: the options as a temporary or another rvalue (see GCC 12 above).
/// (The deduced return type makes the static_assert fire at the call.)
template <class Listener, class Handler>
auto serve(Listener& listener, Handler handler, serve_options&& opts) {
  static_assert(weft::detail::always_false<Listener>,
                "weft::io::serve: pass serve_options as a named variable, not a temporary or std::move(o) "
                "(GCC 12 frees a braced temporary inside co_await twice). Write: "
                "io::serve_options o{.max_connections = 100}; co_await io::serve(listener, handler, o);");
  return detail::serve_loop(listener, std::move(handler), opts);
}

}  // namespace weft::io
