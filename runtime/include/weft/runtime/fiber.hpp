// Stackful fibers: blocking-style code on the async scheduler.
//
//   int parse_all(source& s) {            // a plain function, not a coroutine
//     while (!s.done()) {
//       auto chunk = weft::await(s.read_async());   // suspends only this fiber
//       handle(chunk);
//     }
//     return s.count();
//   }
//   auto h = weft::spawn_fiber([&] { return parse_all(src); });
//   int n = co_await h;                    // join_handle<int>, as for spawn()
//
// How it works. weft::fiber(f) is a task<R> whose coroutine (the driver)
// switches into a Boost.Context fiber running f on a stack of its own. When
// f calls weft::await(a) at any call depth and `a` is not ready, the fiber
// switches back to the driver with a type-erased request that lives on the
// fiber's stack; the driver co_awaits it, so `a`'s await_suspend runs with
// the driver's handle and task context exactly as in a coroutine (sleep,
// yield, join handles, I/O and sync primitives all work unchanged, stop
// requests included). When the driver resumes, the result (or exception)
// is stored in the request and the driver switches back into the fiber.
// No allocation per await. A fiber is a task like any other: it runs on
// the work-stealing scheduler and may move to another worker, but only
// while suspended in weft::await.
//
// Stacks come from a pool (mmap'd, a PROT_NONE guard page below each, page
// rounded) and are taken when the fiber first runs, so many spawned fibers
// that run one after another share a few stacks. A stack overflow hits the
// guard page and the process dies with "weft: fiber stack overflow ...";
// raise fiber_options::stack_size. If no stack can be mapped, the fiber
// fails with std::system_error.
//
// Cancellation: cancel() on the join handle makes the fiber's current (or
// next) weft::await throw weft::operation_cancelled, which ends the fiber
// unless it catches it. If the task is destroyed while the fiber is
// suspended (runtime shutdown), the fiber's stack is unwound: destructors
// run, by an internal exception (weft::detail::fiber_unwind) thrown from
// weft::await. Code in a fiber must not swallow it: a `catch (...)` must
// rethrow.
//
// Thread-local caveat: after weft::await returns the fiber may run on
// another worker thread. Do not keep references or pointers to
// thread_local objects (nor values derived from the thread's identity)
// across a weft::await; re-read them after it. (Exceptions being handled
// are kept per fiber, so awaiting inside a catch block is fine.)
#pragma once

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "weft/runtime/spawn.hpp"
#include "weft/runtime/task.hpp"
#include "weft/runtime/time.hpp"

namespace weft {

struct fiber_options {
  /// Usable stack bytes, rounded up to whole pages; a guard page is added below.
  std::size_t stack_size = 128 * 1024;
};
// Not guarded like http::client's request_options: GCC 12 copies a braced
// temporary written inside co_await bitwise and destroys it twice (see
// weft/http/client.hpp), which is harmless only while the struct is
// trivially copyable, so `co_await fiber(f, {.stack_size = n})` stays allowed.
static_assert(std::is_trivially_copyable_v<fiber_options>,
              "fiber_options must stay trivially copyable, or its coroutines need the rvalue guard of "
              "weft/http/client.hpp (GCC 12 frees a braced temporary inside co_await twice)");

namespace detail {

/// Thrown from weft::await in a fiber whose task is being destroyed, to
/// unwind the fiber's stack. Not an std::exception: do not catch it.
struct fiber_unwind {};

/// One suspension of a fiber: lives on the fiber's stack, handed to the
/// driver, which runs `suspend` and `resume` with its own coroutine handle.
struct await_request {
  /// Calls the awaiter's await_suspend(h); returns the handle to transfer
  /// to (h itself when it must not suspend).
  std::coroutine_handle<> (*suspend)(await_request*, std::coroutine_handle<>) noexcept;
  /// Calls await_resume and stores the value or the exception.
  void (*resume)(await_request*) noexcept;
  std::exception_ptr error;
};

/// From the fiber: hands `r` to the driver and suspends until it resumed.
/// Throws std::logic_error outside a fiber, fiber_unwind when unwinding.
void fiber_await(await_request& r);

/// The untyped part of a fiber: its stack and contexts (fiber.cpp).
class fiber_core {
 public:
  fiber_core(void (*body)(void*), void* arg, std::size_t stack_size) noexcept
      : body_(body), arg_(arg), stack_size_(stack_size) {}
  fiber_core(const fiber_core&) = delete;
  fiber_core& operator=(const fiber_core&) = delete;
  /// Unwinds a suspended fiber (its destructors run) and frees its stack.
  ~fiber_core();

  /// Runs the fiber until it awaits (returns the request) or ends (returns
  /// nullptr; then error() holds its exception, if any).
  await_request* resume();
  std::exception_ptr& error() noexcept { return error_; }

  struct impl;  // fiber.cpp

 private:
  friend struct impl;
  friend void fiber_await(await_request& r);
  void (*body_)(void*);
  void* arg_;
  std::size_t stack_size_;
  std::exception_ptr error_;
  alignas(void*) unsigned char to_fiber_[sizeof(void*)];   // boost::context::fiber
  alignas(void*) unsigned char to_driver_[sizeof(void*)];  // boost::context::fiber
  await_request* request_ = nullptr;
  bool started_ = false, finished_ = false, unwinding_ = false;
  // Sanitizer and exception-handling state, saved across switches (the
  // sanitizer fields are used only in sanitized builds of fiber.cpp).
  [[maybe_unused]] const void* stack_bottom_ = nullptr;
  [[maybe_unused]] std::size_t stack_usable_ = 0;
  [[maybe_unused]] void* fake_stack_fiber_ = nullptr;
  [[maybe_unused]] void* fake_stack_driver_ = nullptr;
  [[maybe_unused]] const void* driver_stack_bottom_ = nullptr;
  [[maybe_unused]] std::size_t driver_stack_size_ = 0;
  [[maybe_unused]] void* tsan_fiber_ = nullptr;
  [[maybe_unused]] void* tsan_driver_ = nullptr;
  void* eh_saved_[2] = {nullptr, nullptr};  // the fiber's __cxa_eh_globals
};

/// The awaiter the driver co_awaits for a request.
struct erased_awaiter {
  await_request* r;
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept { return r->suspend(r, h); }
  void await_resume() const noexcept { r->resume(r); }
};

template <class T>
using fiber_value_t = std::conditional_t<std::is_rvalue_reference_v<T>, std::remove_cvref_t<T>, T>;

template <class Awaiter, class R>
struct typed_request : await_request {
  Awaiter* awaiter;
  bool suspend_failed = false;
  std::conditional_t<std::is_void_v<R>, char,
                     std::conditional_t<std::is_reference_v<R>, std::remove_reference_t<R>*, std::optional<R>>>
      value{};

  explicit typed_request(Awaiter* a) noexcept : await_request{&do_suspend, &do_resume, {}}, awaiter(a) {}

  static std::coroutine_handle<> do_suspend(await_request* base, std::coroutine_handle<> h) noexcept {
    auto* self = static_cast<typed_request*>(base);
    try {
      using S = decltype(self->awaiter->await_suspend(h));
      if constexpr (std::is_void_v<S>) {
        self->awaiter->await_suspend(h);
        return std::noop_coroutine();
      } else if constexpr (std::same_as<S, bool>) {
        if (self->awaiter->await_suspend(h)) return std::noop_coroutine();
        return transfer(h);
      } else {
        return self->awaiter->await_suspend(h);
      }
    } catch (...) {
      self->error = std::current_exception();
      self->suspend_failed = true;
      return transfer(h);
    }
  }

  static void do_resume(await_request* base) noexcept {
    auto* self = static_cast<typed_request*>(base);
    if (self->suspend_failed) return;
    try {
      if constexpr (std::is_void_v<R>) {
        self->awaiter->await_resume();
      } else if constexpr (std::is_reference_v<R>) {
        self->value = std::addressof(self->awaiter->await_resume());
      } else {
        self->value.emplace(self->awaiter->await_resume());
      }
    } catch (...) {
      self->error = std::current_exception();
    }
  }

  R get() {
    if (error) std::rethrow_exception(error);
    if constexpr (std::is_void_v<R>) return;
    else if constexpr (std::is_reference_v<R>) return static_cast<R>(*value);
    else return std::move(*value);
  }
};

template <class F, class R>
struct fiber_body {
  F fn;
  result<R> out;

  static void run(void* p) {
    auto* self = static_cast<fiber_body*>(p);
    if constexpr (std::is_void_v<R>) {
      std::invoke(std::move(self->fn));
      self->out.set_value();
    } else {
      self->out.set_value(std::invoke(std::move(self->fn)));
    }
  }
};

template <class R, class F>
task<R> drive_fiber(F fn, fiber_options options) {
  fiber_body<F, R> body{std::move(fn), {}};
  fiber_core core(&fiber_body<F, R>::run, &body, options.stack_size);
  while (await_request* r = core.resume()) co_await erased_awaiter{r};
  if (core.error()) std::rethrow_exception(core.error());
  co_return consume(body.out);
}

}  // namespace detail

/// From inside a fiber: awaits `a` (anything co_await accepts: a task, a
/// join handle, sleep_for, yield_now, an I/O operation, a lock...),
/// suspending only this fiber. Returns its result or rethrows. Outside a
/// fiber it throws std::logic_error.
template <class Awaitable>
decltype(auto) await(Awaitable&& a) {
  auto aw = detail::get_awaiter(std::forward<Awaitable>(a));
  using raw = decltype(aw.await_resume());
  using R = detail::fiber_value_t<raw>;
  if (aw.await_ready()) {
    if constexpr (std::is_void_v<R>) {
      aw.await_resume();
      return;
    } else {
      return static_cast<R>(aw.await_resume());
    }
  }
  detail::typed_request<decltype(aw), R> req(&aw);
  detail::fiber_await(req);
  return req.get();
}

/// A task that runs `f()` on a fiber of its own; its result is f's.
/// Spawn it, block_on it or co_await it.
template <class F>
auto fiber(F&& f, fiber_options options = {}) {
  using fn_t = std::decay_t<F>;
  using R = std::invoke_result_t<fn_t&&>;
  static_assert(!std::is_rvalue_reference_v<R>, "a fiber cannot return an rvalue reference");
  return detail::drive_fiber<R, fn_t>(fn_t(std::forward<F>(f)), options);
}

/// Spawns `f` on a fiber onto the current runtime (see weft::spawn).
template <class F>
auto spawn_fiber(F&& f, fiber_options options = {}) {
  return spawn(weft::fiber(std::forward<F>(f), options));
}

}  // namespace weft
