// How a call travels: what the parent sends for `f(args...)` and what the
// worker process does with it. Included by process_pool.hpp; not for users.
//
// A function is identified by address. The worker is a fork of this same
// binary made before the call, so the address of a function, or of the
// invoker template instantiated for it, means the same thing there. A
// function pointer travels as its value; a captureless lambda or other
// empty function object is default-constructed in the worker. Callables
// with state are refused at compile time: their members could point into
// memory the worker does not have.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "weft/ipc/serialize.hpp"

namespace weft::ipc::detail {

/// The worker side of one call: where its result goes. Implemented in the
/// worker's loop (worker_main.cpp).
class worker_context {
 public:
  virtual ~worker_context() = default;
  /// The arguments were decoded: their arena bytes may be reused.
  virtual void release_arguments() noexcept = 0;
  /// Room for an n-byte result (in the slot or the arena); throws
  /// serialization_error when n exceeds the arena.
  virtual std::byte* result_buffer(std::size_t n) = 0;
  /// Publishes the n bytes written into result_buffer(n).
  virtual void publish(std::size_t n) noexcept = 0;
};

using invoker_fn = void (*)(worker_context& ctx, std::uintptr_t fn, byte_reader& args);

/// What can be sent as the function of a call.
template <class F>
concept remote_callable = (std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>) ||
                          (std::is_class_v<F> && std::is_empty_v<F> && std::is_default_constructible_v<F>);

template <class F>
constexpr void check_callable() {
  static_assert(remote_callable<F>,
                "weft::ipc: the function of a process task must be a function (pointer) or a captureless "
                "lambda / empty function object: a callable with state (captures) cannot travel to a worker "
                "process; pass the state as arguments instead");
}

/// The value that identifies f in the request.
template <class F>
std::uintptr_t function_word(const F& f) noexcept {
  if constexpr (std::is_pointer_v<F>) return reinterpret_cast<std::uintptr_t>(f);
  else return 0;
}

/// f again, in the worker.
template <class F>
F function_from_word(std::uintptr_t word) noexcept {
  if constexpr (std::is_pointer_v<F>) return reinterpret_cast<F>(word);
  else return F{};
}

template <class F, class... W>
using call_result_t = std::invoke_result_t<F&, W&&...>;

/// What map() gives for one item: f's result, or std::monostate for a
/// function returning void (so a map over one is still a vector, one
/// entry per item, that says each ran).
template <class F, class T>
using map_result_t = std::conditional_t<std::is_void_v<std::invoke_result_t<F&, T&&>>, std::monostate,
                                        std::decay_t<std::invoke_result_t<F&, T&&>>>;

/// Encodes a result into the context's buffer (two passes: exact size,
/// then the bytes straight into shared memory).
template <class R>
void publish_value(worker_context& ctx, const R& r) {
  size_counter counter;
  ipc::encode(counter, r);
  std::size_t n = counter.size();
  byte_writer out(ctx.result_buffer(n), n);
  ipc::encode(out, r);
  ctx.publish(n);
}

/// The worker side of `f(args...)`: decode the arguments, call, encode.
/// An exception escapes to the worker loop, which reports it.
template <class F, class... W>
void invoke_call(worker_context& ctx, std::uintptr_t fn, byte_reader& in) {
  std::tuple<W...> args{ipc::decode<W>(in)...};  // braced: left to right
  ctx.release_arguments();
  F f = function_from_word<F>(fn);
  using R = call_result_t<F, W...>;
  if constexpr (std::is_void_v<R>) {
    std::apply(f, std::move(args));
    ctx.result_buffer(0);
    ctx.publish(0);
  } else {
    publish_value(ctx, std::apply(f, std::move(args)));
  }
}

/// The worker side of one chunk of map(): f over each item, in order.
template <class F, class T>
void invoke_chunk(worker_context& ctx, std::uintptr_t fn, byte_reader& in) {
  std::vector<T> items = ipc::decode<std::vector<T>>(in);
  ctx.release_arguments();
  F f = function_from_word<F>(fn);
  using R = map_result_t<F, T>;
  std::vector<R> out;
  out.reserve(items.size());
  for (auto& item : items) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, T&&>>) {
      std::invoke(f, std::move(item));
      out.emplace_back();
    } else {
      out.push_back(std::invoke(f, std::move(item)));
    }
  }
  publish_value(ctx, out);
}

}  // namespace weft::ipc::detail
