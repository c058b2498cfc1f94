// The serializer of the process backend: how arguments and results of
// spawn_process cross into a worker process as bytes in shared memory.
//
//   std::vector<std::string> words = ...;
//   std::size_t n = weft::ipc::encoded_size(words, 42);     // pass 1: exact size
//   weft::ipc::byte_writer w(slot, n);                       // pass 2: into the slot
//   weft::ipc::encode(w, words);  weft::ipc::encode(w, 42);
//   weft::ipc::byte_reader r(slot, n);                       // in the worker
//   auto words2 = weft::ipc::decode<std::vector<std::string>>(r);
//   int x = weft::ipc::decode<int>(r);
//
// What travels (the first that applies wins):
//   1. a specialization of weft::ipc::serializer<T> written by the user;
//   2. the built-ins for standard types: arithmetic, enums, std::chrono
//      durations and time points, std::basic_string, std::vector (one
//      memcpy when the element is trivially copyable), std::array, std::deque,
//      std::list, [unordered_][multi]set and [unordered_][multi]map,
//      std::optional, std::pair, std::tuple, std::variant, std::monostate
//      (cereal's own support for these, cereal/types/*.hpp, is not used: it
//      would be the same bytes, element by element, through an ostream);
//   3. a type with cereal serialize() or save()/load() (member or free) for
//      cereal::BinaryOutputArchive / BinaryInputArchive, even when it is
//      trivially copyable;
//   4. any other trivially copyable type, by memcpy.
// Refused at compile time: raw object pointers (function pointers are fine:
// a forked worker runs the same binary), std::span, std::string_view as a
// decoded type, smart pointers, std::reference_wrapper, C arrays, and any
// type none of the above covers. The static_assert names the reason.
//
// The format is for one binary talking to its own forked copy: native
// endianness and layout, counts as std::uint64_t. Decoding checks every
// declared count against the bytes left before it allocates, so garbage
// input ends in serialization_error, never in a crash or a huge allocation.
// Nothing here suspends: cancellation and deadlines do not apply.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "weft/ipc/byte_stream.hpp"
#include "weft/ipc/errors.hpp"

namespace weft::ipc {

/// The customization point. A specialization provides
///   template <class Writer> static void encode(Writer& w, const T& v);
///   static T decode(byte_reader& r);
/// and is used for T everywhere, also inside containers. Declare it before
/// T is first used with encode/decode/serializable (as any specialization).
/// The primary template holds the built-ins, cereal and memcpy.
template <class T, class Enable = void>
struct serializer;

namespace detail::ser {
template <class U>
concept has_serializer = requires(size_counter& c, byte_writer& w, byte_reader& r, const U& v) {
  serializer<U>::encode(c, v);
  serializer<U>::encode(w, v);
  { serializer<U>::decode(r) } -> std::convertible_to<U>;
};
}  // namespace detail::ser

/// T can be encoded and decoded (cv-qualifiers ignored).
template <class T>
concept serializable = std::is_object_v<T> && detail::ser::has_serializer<std::remove_cv_t<T>>;

/// Writes v through serializer<T>. Also takes what wire_t maps to
/// std::string (a string literal, const char*, std::string_view) and writes
/// it as that std::string, without making one.
template <class Writer, class T>
void encode(Writer& w, const T& v);

/// Reads a T written by encode.
template <class T>
T decode(byte_reader& r);

/// The exact number of bytes encode writes for all of vs, in order.
template <class... Ts>
std::size_t encoded_size(const Ts&... vs);

}  // namespace weft::ipc

// In this order: serialize_cereal.hpp specializes what serialize_std.hpp declares.
// clang-format off
#include "weft/ipc/detail/serialize_std.hpp"     // IWYU pragma: keep
#include "weft/ipc/detail/serialize_cereal.hpp"  // IWYU pragma: keep
// clang-format on

namespace weft::ipc {

template <class T, class Enable>
struct serializer : detail::ser::auto_serializer<T> {};

/// The type an argument of spawn_process travels as: std::decay_t<T>, except
/// that char arrays, char pointers and std::string_view become std::string,
/// so that a string literal can be passed and the worker owns its copy.
template <class T>
using wire_t = std::conditional_t<detail::ser::is_string_source<std::decay_t<T>>, std::string, std::decay_t<T>>;

template <class Writer, class T>
void encode(Writer& w, const T& v) {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_array_v<U> && std::is_same_v<std::remove_extent_t<U>, char>) {
    detail::ser::encode_chars(w, v, detail::ser::bounded_length(v, std::extent_v<U>));
  } else if constexpr (std::is_same_v<U, const char*> || std::is_same_v<U, char*>) {
    if (v == nullptr) detail::ser::throw_null_string();
    detail::ser::encode_chars(w, v, std::char_traits<char>::length(v));
  } else if constexpr (std::is_same_v<U, std::string_view>) {
    detail::ser::encode_chars(w, v.data(), v.size());
  } else if constexpr (serializable<U>) {
    serializer<U>::encode(w, v);
  } else {
    detail::ser::refuse<U>();
  }
}

template <class T>
T decode(byte_reader& r) {
  if constexpr (serializable<T>) {
    return serializer<std::remove_cv_t<T>>::decode(r);
  } else {
    detail::ser::refuse<std::remove_cv_t<T>>();
    throw serialization_error("weft::ipc: unreachable");  // the static_assert above already failed
  }
}

template <class... Ts>
std::size_t encoded_size(const Ts&... vs) {
  size_counter c;
  (encode(c, vs), ...);
  return c.size();
}

}  // namespace weft::ipc
