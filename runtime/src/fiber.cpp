// Fibers: switching between a fiber's stack and its driver coroutine.
//
// Boost.Context (fcontext) does the switches; Debian's build does not tell
// the sanitizers about them, so this file does: ASan's start/finish switch
// calls and TSan's fiber contexts. The C++ runtime's per-thread record of
// exceptions being handled (__cxa_eh_globals) is swapped too, so a fiber
// may await inside a catch block and resume on another thread.
//
// All thread-local state is read and written on the driver side, which
// stays on one thread for the whole of fiber_core::resume(). The fiber side
// reads the current fiber once, before it switches out; after the switch
// back it may be on another thread and touches no thread_local.
#include "weft/runtime/fiber.hpp"

#include <cxxabi.h>
#include <boost/context/fiber.hpp>

#include <cstring>
#include <new>
#include <stdexcept>

#include "stack_pool.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_FIBER_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define WEFT_FIBER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_FIBER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT_FIBER_TSAN 1
#endif

#if WEFT_FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if WEFT_FIBER_TSAN
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
}
#endif

namespace ctx = boost::context;

namespace weft::detail {

static_assert(sizeof(ctx::fiber) == sizeof(void*) && alignof(ctx::fiber) <= alignof(void*));

namespace {

thread_local fiber_core* tls_fiber = nullptr;

// Opaque to the optimiser, so the thread-local address is computed anew.
[[gnu::noinline]] fiber_core* current_fiber() noexcept {
  fiber_core* f = tls_fiber;
  asm volatile("" : "+r"(f)::"memory");
  return f;
}

#if defined(__GLIBCXX__)
constexpr std::size_t eh_bytes = sizeof(void*) + sizeof(unsigned int);  // caughtExceptions, uncaughtExceptions
[[gnu::noinline]] void* eh_globals() noexcept {
  void* g = abi::__cxa_get_globals();
  asm volatile("" : "+r"(g)::"memory");
  return g;
}
#endif

// Hands the fiber's stack to Boost.Context, and back to the pool at the end.
struct pool_allocator {
  fiber_stack stack;
  ctx::stack_context allocate() noexcept {
    ctx::stack_context sc;
    sc.size = stack.usable;
    sc.sp = stack.top();
    return sc;
  }
  void deallocate(ctx::stack_context&) noexcept { release_stack(stack); }
};

}  // namespace

struct fiber_core::impl {
  static ctx::fiber& to_fiber(fiber_core* c) noexcept {
    return *std::launder(reinterpret_cast<ctx::fiber*>(c->to_fiber_));
  }
  static ctx::fiber& to_driver(fiber_core* c) noexcept {
    return *std::launder(reinterpret_cast<ctx::fiber*>(c->to_driver_));
  }

  // The fiber's first frame.
  static ctx::fiber entry(fiber_core* c, ctx::fiber&& driver) {
#if WEFT_FIBER_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &c->driver_stack_bottom_, &c->driver_stack_size_);
#endif
    ::new (c->to_driver_) ctx::fiber(std::move(driver));
    try {
      c->body_(c->arg_);
    } catch (const fiber_unwind&) {
      // The task is being destroyed: the stack is unwound, nothing to report.
    } catch (...) {
      c->error_ = std::current_exception();
    }
    c->finished_ = true;
    ctx::fiber d = std::move(to_driver(c));
    to_driver(c).~fiber();
#if WEFT_FIBER_ASAN
    __sanitizer_start_switch_fiber(nullptr, c->driver_stack_bottom_, c->driver_stack_size_);
#endif
    // TSan switches back on the driver side, once this stack is left.
    return d;
  }

  // From the fiber: to the driver, and back.
  static void switch_out(fiber_core* c) {
#if WEFT_FIBER_ASAN
    __sanitizer_start_switch_fiber(&c->fake_stack_fiber_, c->driver_stack_bottom_, c->driver_stack_size_);
#endif
#if WEFT_FIBER_TSAN
    __tsan_switch_to_fiber(c->tsan_driver_, 0);
#endif
    ctx::fiber& d = to_driver(c);
    d = std::move(d).resume();
#if WEFT_FIBER_ASAN
    __sanitizer_finish_switch_fiber(c->fake_stack_fiber_, &c->driver_stack_bottom_, &c->driver_stack_size_);
#endif
  }
};

await_request* fiber_core::resume() {
  if (finished_) return nullptr;
  prepare_thread_for_fibers();
  fiber_stack stack;
  if (!started_) {
    started_ = true;
    try {
      stack = acquire_stack(round_stack_size(stack_size_));
    } catch (...) {
      error_ = std::current_exception();
      finished_ = true;
      return nullptr;
    }
    stack_bottom_ = stack.bottom();
    stack_usable_ = stack.usable;
#if WEFT_FIBER_TSAN
    tsan_fiber_ = __tsan_create_fiber(0);
    tsan_driver_ = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
    // Boost.Context enters the new stack briefly here (and returns at once).
    ::new (to_fiber_) ctx::fiber(std::allocator_arg, pool_allocator{stack},
                                 [this](ctx::fiber&& driver) { return impl::entry(this, std::move(driver)); });
#if WEFT_FIBER_TSAN
    __tsan_switch_to_fiber(tsan_driver_, 0);
#endif
  }

  fiber_core* const outer = tls_fiber;
  tls_fiber = this;
#if defined(__GLIBCXX__)
  void* const eh = eh_globals();
  unsigned char driver_eh[eh_bytes];
  std::memcpy(driver_eh, eh, eh_bytes);
  std::memcpy(eh, eh_saved_, eh_bytes);
#endif
#if WEFT_FIBER_ASAN
  __sanitizer_start_switch_fiber(&fake_stack_driver_, stack_bottom_, stack_usable_);
#endif
#if WEFT_FIBER_TSAN
  tsan_driver_ = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
  ctx::fiber& f = impl::to_fiber(this);
  f = std::move(f).resume();
#if WEFT_FIBER_TSAN
  if (finished_) {
    // The fiber left its stack still in its own TSan context (see entry()).
    __tsan_switch_to_fiber(tsan_driver_, 0);
    __tsan_destroy_fiber(tsan_fiber_);
    tsan_fiber_ = nullptr;
  }
#endif
#if WEFT_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_driver_, nullptr, nullptr);
#endif
#if defined(__GLIBCXX__)
  std::memcpy(eh_saved_, eh, eh_bytes);
  std::memcpy(eh, driver_eh, eh_bytes);
#endif
  tls_fiber = outer;
  if (finished_) {
    impl::to_fiber(this).~fiber();  // empty: the stack went back to the pool
    return nullptr;
  }
  return std::exchange(request_, nullptr);
}

fiber_core::~fiber_core() {
  if (!started_ || finished_) return;
  // Suspended: unwind its stack (weft::await throws fiber_unwind).
  unwinding_ = true;
  while (!finished_) resume();
}

void fiber_await(await_request& r) {
  fiber_core* c = current_fiber();
  if (!c) throw std::logic_error("weft::await called outside a fiber (use co_await in a coroutine)");
  if (c->unwinding_) throw fiber_unwind{};
  c->request_ = &r;
  fiber_core::impl::switch_out(c);
  // Possibly on another thread now: c lives in the driver's frame.
  if (c->unwinding_) throw fiber_unwind{};
}

}  // namespace weft::detail
