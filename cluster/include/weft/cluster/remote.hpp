// WEFT_REMOTE(f): registers a function that weft::cluster::pool may run on
// another rank.
//
//   std::uint64_t count_primes(std::uint64_t lo, std::uint64_t hi) { ... }
//   WEFT_REMOTE(count_primes);   // at namespace scope, after the definition
//
//   auto n = co_await pool.call(count_primes, 0, 1'000'000);
//
// Why a registration: the ranks of an MPI job are separately started copies
// of the program, each loaded at its own address (PIE, address-space
// randomization), so a function cannot travel by address as it does to a
// forked process_pool worker. It travels as its index in a registry keyed
// by the name written in WEFT_REMOTE (and its type). weft::cluster::init()
// checks at start-up that every rank holds the same registry and the same
// executable (its GNU build-id, or a hash of its bytes) and refuses a
// mismatched rank, naming the rank and its host.
//
// The arguments travel as f's parameter types (decayed: `const
// std::string&` travels as std::string) through weft::ipc's serializer;
// the result as f's return type. Only functions can be registered (not
// lambdas or other function objects: give them a name). Two different
// functions registered under the same name (static functions in two files)
// are reported by init(). Nothing here suspends: cancellation does not
// apply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "weft/ipc/serialize.hpp"

namespace weft::cluster::detail {

/// Runs a registered function on encoded arguments and returns its
/// encoded result (in a local process_pool worker of a serving rank).
using raw_invoker = std::vector<std::byte> (*)(std::uintptr_t fn, const std::vector<std::byte>& args);

struct remote_function {
  const char* name;
  const char* signature;  // typeid(F).name(): the same in every copy of one binary
  std::uintptr_t fn;      // its address in this process
  raw_invoker call;       // f(args...)
  raw_invoker chunk;      // f over a vector of items (map), or null when f does not take one argument
  std::uint32_t id;       // its index, the same on every rank (assigned by init)
};

void register_remote(const char* name, const char* signature, std::uintptr_t fn, raw_invoker call,
                     raw_invoker chunk) noexcept;

/// The registration of fn, or null (valid once init() has run).
const remote_function* find_remote(std::uintptr_t fn) noexcept;

template <class T>
std::vector<std::byte> encode_value(const T& v) {
  std::vector<std::byte> out(ipc::encoded_size(v));
  ipc::byte_writer w(out.data(), out.size());
  ipc::encode(w, v);
  return out;
}

template <class R, class... P>
std::vector<std::byte> raw_call(std::uintptr_t fn, const std::vector<std::byte>& bytes) {
  ipc::byte_reader in(bytes.data(), bytes.size());
  std::tuple<std::decay_t<P>...> args{ipc::decode<std::decay_t<P>>(in)...};  // braced: left to right
  auto f = reinterpret_cast<R (*)(P...)>(fn);
  auto invoke = [&]<std::size_t... I>(std::index_sequence<I...>)->decltype(auto) {
    return f(static_cast<P&&>(std::get<I>(args))...);
  };
  if constexpr (std::is_void_v<R>) {
    invoke(std::index_sequence_for<P...>{});
    return {};
  } else {
    return encode_value<std::decay_t<R>>(invoke(std::index_sequence_for<P...>{}));
  }
}

/// What map() gives for one item: f's result, or std::monostate for void.
template <class R>
using item_result_t = std::conditional_t<std::is_void_v<R>, std::monostate, std::decay_t<R>>;

template <class R, class P>
std::vector<std::byte> raw_chunk(std::uintptr_t fn, const std::vector<std::byte>& bytes) {
  ipc::byte_reader in(bytes.data(), bytes.size());
  auto items = ipc::decode<std::vector<std::decay_t<P>>>(in);
  auto f = reinterpret_cast<R (*)(P)>(fn);
  std::vector<item_result_t<R>> out;
  out.reserve(items.size());
  for (auto& item : items) {
    if constexpr (std::is_void_v<R>) {
      f(static_cast<P&&>(item));
      out.emplace_back();
    } else {
      out.push_back(f(static_cast<P&&>(item)));
    }
  }
  return encode_value(out);
}

struct registrar {
  template <class R, class... P>
  registrar(const char* name, R (*f)(P...)) noexcept {
    raw_invoker chunk = nullptr;
    if constexpr (sizeof...(P) == 1) chunk = &raw_chunk<R, P...>;
    register_remote(name, typeid(R(*)(P...)).name(), reinterpret_cast<std::uintptr_t>(f), &raw_call<R, P...>, chunk);
  }
};

}  // namespace weft::cluster::detail

#define WEFT_CLUSTER_CONCAT2(a, b) a##b
#define WEFT_CLUSTER_CONCAT(a, b) WEFT_CLUSTER_CONCAT2(a, b)

/// Registers the function f for weft::cluster::pool (at namespace scope).
#define WEFT_REMOTE(f)                                                                                           \
  [[maybe_unused]] static const ::weft::cluster::detail::registrar WEFT_CLUSTER_CONCAT(weft_remote_, __LINE__) { \
#f, &f                                                                                                       \
  }
