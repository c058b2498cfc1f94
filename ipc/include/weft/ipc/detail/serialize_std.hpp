// Internal to serialize.hpp: how a type is classified, the built-in
// encodings of standard types, memcpy, and the compile-time refusals.
//
// Wire format (native endianness): scalars and trivially copyable types are
// their bytes; bool is one byte 0 or 1; a string or vector<trivial> is a u64
// count then all elements in one block; other containers are a u64 count
// then the elements one after another; optional is a byte 0 or 1 then the
// value; variant a u64 index then the alternative; pair and tuple their
// members in order; monostate nothing.
//
// Garbage input: a declared count is checked against the bytes left, using
// the least an element can occupy, before anything is reserved. An element
// type that can occupy no bytes at all (an empty tuple, a monostate, or a
// user or cereal type, whose size is unknown here) would make any count
// plausible, so in a counted container each such element is preceded by a
// one-byte marker: the count can never exceed the bytes left.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/details/traits.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace weft::ipc::detail::ser {

// ------------------------------------------------------------ errors
// Out of line (serialize.cpp): they build strings, and the templates stay small.
[[noreturn]] void throw_count_exceeds(const char* what, std::uint64_t n, std::size_t unit, std::size_t left);
[[noreturn]] void throw_string_length(std::uint64_t n, std::size_t unit, std::size_t left);
[[noreturn]] void throw_bits_exceed(std::uint64_t n, std::size_t left);
[[noreturn]] void throw_bad_bool(unsigned value);
[[noreturn]] void throw_bad_optional_flag(unsigned value);
[[noreturn]] void throw_bad_variant_index(std::uint64_t index, std::size_t alternatives);
[[noreturn]] void throw_bad_marker(unsigned value);
[[noreturn]] void throw_duplicate_key(const char* what);
[[noreturn]] void throw_valueless_variant();
[[noreturn]] void throw_null_string();

template <class T>
inline constexpr bool dependent_false = false;

// ------------------------------------------------------------ families
template <class T>
inline constexpr bool is_basic_string = false;
template <class C, class Tr, class A>
inline constexpr bool is_basic_string<std::basic_string<C, Tr, A>> = true;
template <class T>
inline constexpr bool is_string_view = false;
template <class C, class Tr>
inline constexpr bool is_string_view<std::basic_string_view<C, Tr>> = true;
template <class T>
inline constexpr bool is_span = false;
template <class T, std::size_t E>
inline constexpr bool is_span<std::span<T, E>> = true;
template <class T>
inline constexpr bool is_vector = false;
template <class T, class A>
inline constexpr bool is_vector<std::vector<T, A>> = true;
template <class T>
inline constexpr bool is_bit_vector = false;
template <class A>
inline constexpr bool is_bit_vector<std::vector<bool, A>> = true;
template <class T>
inline constexpr bool is_sequence = false;
template <class T, class A>
inline constexpr bool is_sequence<std::deque<T, A>> = true;
template <class T, class A>
inline constexpr bool is_sequence<std::list<T, A>> = true;
template <class T>
inline constexpr bool is_deque = false;
template <class T, class A>
inline constexpr bool is_deque<std::deque<T, A>> = true;
template <class T>
inline constexpr bool is_std_array = false;
template <class T, std::size_t N>
inline constexpr bool is_std_array<std::array<T, N>> = true;
template <class T>
inline constexpr bool is_unique_set = false;
template <class K, class C, class A>
inline constexpr bool is_unique_set<std::set<K, C, A>> = true;
template <class K, class H, class E, class A>
inline constexpr bool is_unique_set<std::unordered_set<K, H, E, A>> = true;
template <class T>
inline constexpr bool is_multi_set = false;
template <class K, class C, class A>
inline constexpr bool is_multi_set<std::multiset<K, C, A>> = true;
template <class K, class H, class E, class A>
inline constexpr bool is_multi_set<std::unordered_multiset<K, H, E, A>> = true;
template <class T>
inline constexpr bool is_unique_map = false;
template <class K, class V, class C, class A>
inline constexpr bool is_unique_map<std::map<K, V, C, A>> = true;
template <class K, class V, class H, class E, class A>
inline constexpr bool is_unique_map<std::unordered_map<K, V, H, E, A>> = true;
template <class T>
inline constexpr bool is_multi_map = false;
template <class K, class V, class C, class A>
inline constexpr bool is_multi_map<std::multimap<K, V, C, A>> = true;
template <class K, class V, class H, class E, class A>
inline constexpr bool is_multi_map<std::unordered_multimap<K, V, H, E, A>> = true;
template <class T>
inline constexpr bool is_optional = false;
template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;
template <class T>
inline constexpr bool is_pair = false;
template <class A, class B>
inline constexpr bool is_pair<std::pair<A, B>> = true;
template <class T>
inline constexpr bool is_tuple = false;
template <class... Ts>
inline constexpr bool is_tuple<std::tuple<Ts...>> = true;
template <class T>
inline constexpr bool is_variant = false;
template <class... Ts>
inline constexpr bool is_variant<std::variant<Ts...>> = true;
template <class T>
inline constexpr bool is_chrono = false;
template <class R, class P>
inline constexpr bool is_chrono<std::chrono::duration<R, P>> = true;
template <class C, class D>
inline constexpr bool is_chrono<std::chrono::time_point<C, D>> = true;
// Owners and handles of memory in this process: the pointee would not come along.
template <class T>
inline constexpr bool is_pointer_like = false;
template <class T, class D>
inline constexpr bool is_pointer_like<std::unique_ptr<T, D>> = true;
template <class T>
inline constexpr bool is_pointer_like<std::shared_ptr<T>> = true;
template <class T>
inline constexpr bool is_pointer_like<std::weak_ptr<T>> = true;
template <class T>
inline constexpr bool is_pointer_like<std::reference_wrapper<T>> = true;

/// What wire_t turns into std::string (after decay).
template <class T>
inline constexpr bool is_string_source = false;
template <>
inline constexpr bool is_string_source<const char*> = true;
template <>
inline constexpr bool is_string_source<char*> = true;
template <>
inline constexpr bool is_string_source<std::string_view> = true;

// ------------------------------------------------------------ shapes
enum class shape {
  // supported (when the element types are)
  boolean,
  scalar,  // memcpy: arithmetic, enums, chrono, function and member pointers
  string,
  bit_vector,
  vector,
  sequence,
  array,
  unique_set,
  multi_set,
  unique_map,
  multi_map,
  optional,
  pair,
  tuple,
  variant,
  monostate,
  cereal,
  trivially_copyable,
  // refused
  reference,
  object_pointer,
  c_array,
  view,
  pointer_like,
  cereal_ambiguous,
  cereal_one_way,
  cereal_not_default_constructible,
  unsupported,
};

template <class T>
inline constexpr int cereal_outputs =
    cereal::traits::detail::count_output_serializers<T, cereal::BinaryOutputArchive>::value;
template <class T>
inline constexpr int cereal_inputs =
    cereal::traits::detail::count_input_serializers<T, cereal::BinaryInputArchive>::value;

template <class T>
consteval shape shape_of() {
  if constexpr (std::is_reference_v<T>) return shape::reference;
  else if constexpr (std::is_same_v<T, bool>) return shape::boolean;
  else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T> || std::is_member_pointer_v<T> ||
                     std::is_null_pointer_v<T>)
    return shape::scalar;
  else if constexpr (std::is_pointer_v<T>)
    return std::is_function_v<std::remove_pointer_t<T>> ? shape::scalar : shape::object_pointer;
  else if constexpr (std::is_array_v<T>) return shape::c_array;
  else if constexpr (std::is_union_v<T>)
    return std::is_trivially_copyable_v<T> ? shape::trivially_copyable : shape::unsupported;
  else if constexpr (!std::is_class_v<T>) return shape::unsupported;  // functions, void
  else if constexpr (is_string_view<T> || is_span<T>) return shape::view;
  else if constexpr (is_pointer_like<T>) return shape::pointer_like;
  else if constexpr (is_basic_string<T>)
    return std::is_trivially_copyable_v<typename T::value_type> ? shape::string : shape::unsupported;
  else if constexpr (is_bit_vector<T>) return shape::bit_vector;
  else if constexpr (is_vector<T>) return shape::vector;
  else if constexpr (is_sequence<T>) return shape::sequence;
  else if constexpr (is_std_array<T>) return shape::array;
  else if constexpr (is_unique_set<T>) return shape::unique_set;
  else if constexpr (is_multi_set<T>) return shape::multi_set;
  else if constexpr (is_unique_map<T>) return shape::unique_map;
  else if constexpr (is_multi_map<T>) return shape::multi_map;
  else if constexpr (is_optional<T>) return shape::optional;
  else if constexpr (is_pair<T>) return shape::pair;
  else if constexpr (is_tuple<T>) return shape::tuple;
  else if constexpr (is_variant<T>) return shape::variant;
  else if constexpr (std::is_same_v<T, std::monostate>) return shape::monostate;
  else if constexpr (is_chrono<T>) return std::is_trivially_copyable_v<T> ? shape::scalar : shape::unsupported;
  else if constexpr (cereal_outputs<T> != 0 || cereal_inputs<T> != 0) {
    if constexpr (cereal_outputs < T >> 1 || cereal_inputs < T >> 1) return shape::cereal_ambiguous;
    else if constexpr (cereal_outputs<T> != 1 || cereal_inputs<T> != 1) return shape::cereal_one_way;
    else if constexpr (!std::is_default_constructible_v<T>) return shape::cereal_not_default_constructible;
    else return shape::cereal;
  } else if constexpr (std::is_trivially_copyable_v<T>) return shape::trivially_copyable;
  else return shape::unsupported;
}

template <class T>
inline constexpr bool members_ok = false;
template <class... Ts>
inline constexpr bool members_ok<std::tuple<Ts...>> = (serializable<Ts> && ...);
template <class... Ts>
inline constexpr bool members_ok<std::variant<Ts...>> = (serializable<Ts> && ...);

/// The types a value of T is made of, all serializable.
template <class T>
consteval bool parts_ok() {
  constexpr shape s = shape_of<T>();
  if constexpr (s == shape::vector || s == shape::sequence || s == shape::array || s == shape::unique_set ||
                s == shape::multi_set || s == shape::optional)
    return serializable<typename T::value_type>;
  else if constexpr (s == shape::unique_map || s == shape::multi_map)
    return serializable<typename T::key_type> && serializable<typename T::mapped_type>;
  else if constexpr (s == shape::pair)
    return serializable<typename T::first_type> && serializable<typename T::second_type>;
  else if constexpr (s == shape::tuple || s == shape::variant) return members_ok<T>;
  else return true;
}

// ------------------------------------------------------------ helpers
/// Marks the primary template's codecs, so containers can tell them from
/// a user specialization (whose size and bytes they cannot assume).
struct builtin_tag {
  using weft_builtin_serializer = void;
};

template <class T, shape S = shape_of<T>(), bool Ok = parts_ok<T>()>
struct auto_serializer : builtin_tag {};  // refused: no encode/decode, so not serializable

template <class T>
concept builtin = requires {
  typename serializer<T>::weft_builtin_serializer;
};

/// Copied as one block: the primary template's memcpy codec.
template <class T>
inline constexpr bool bulk = builtin<T> &&
                             (shape_of<T>() == shape::scalar || shape_of<T>() == shape::trivially_copyable);

/// The least number of bytes any value of T encodes to (T serializable).
template <class T>
consteval std::size_t min_wire_size();

template <class... Ts>
consteval std::size_t min_wire_sum() {
  return (std::size_t{0} + ... + min_wire_size<std::remove_cv_t<Ts>>());
}

template <class T>
inline constexpr std::size_t min_tuple_size = 0;
template <class... Ts>
inline constexpr std::size_t min_tuple_size<std::tuple<Ts...>> = min_wire_sum<Ts...>();

template <class T>
consteval std::size_t min_wire_size() {
  if constexpr (!builtin<T>) {
    return 0;  // a user specialization may write nothing
  } else {
    constexpr shape s = shape_of<T>();
    if constexpr (s == shape::boolean || s == shape::optional) return 1;
    else if constexpr (s == shape::scalar || s == shape::trivially_copyable) return sizeof(T);
    else if constexpr (s == shape::pair) return min_wire_sum<typename T::first_type, typename T::second_type>();
    else if constexpr (s == shape::tuple) return min_tuple_size<T>;
    else if constexpr (s == shape::array)
      return std::tuple_size_v<T> * min_wire_size<std::remove_cv_t<typename T::value_type>>();
    else if constexpr (s == shape::monostate || s == shape::cereal) return 0;  // cereal may write nothing
    else return sizeof(std::uint64_t);  // a count (strings, containers) or a variant's index
  }
}

template <class T>
T decode_as(byte_reader& r) {
  return weft::ipc::decode<std::remove_cv_t<T>>(r);
}

template <class W>
void put_u64(W& w, std::uint64_t n) {
  w.write(&n, sizeof n);
}

inline std::uint64_t get_u64(byte_reader& r) {
  std::uint64_t n;
  r.read(&n, sizeof n);
  return n;
}

inline constexpr unsigned char element_marker = 0xA5;

/// One element of a counted container: the parts of Ts..., preceded by a
/// marker byte when they could be empty.
template <class... Ts>
inline constexpr bool needs_marker = min_wire_sum<Ts...>() == 0;

template <class... Ts>
inline constexpr std::size_t element_unit = needs_marker<Ts...> ? 1 : min_wire_sum<Ts...>();

template <class... Ts, class W>
void put_marker(W& w) {
  if constexpr (needs_marker<Ts...>) w.write(&element_marker, 1);
}

template <class... Ts>
void check_marker(byte_reader& r) {
  if constexpr (needs_marker<Ts...>) {
    unsigned char m;
    r.read(&m, 1);
    if (m != element_marker) throw_bad_marker(m);
  }
}

/// A declared element count, checked against the bytes left before anything
/// is allocated for it.
inline std::size_t get_count(byte_reader& r, std::size_t unit, const char* what) {
  std::uint64_t n = get_u64(r);
  if (n > r.remaining() / unit) throw_count_exceeds(what, n, unit, r.remaining());
  return static_cast<std::size_t>(n);
}

template <class W>
void encode_chars(W& w, const char* p, std::size_t n) {
  put_u64(w, n);
  w.write(p, n);
}

/// strlen that stops at the end of a char array without a terminator.
inline std::size_t bounded_length(const char* p, std::size_t max) {
  const void* nul = std::memchr(p, 0, max);
  return nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - p) : max;
}

inline bool aligned_for(const std::byte* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

/// n trivially copyable T from p into the end of v (which has room), in one
/// copy where p is aligned for T.
template <class T, class A>
void append_block(std::vector<T, A>& v, const std::byte* p, std::size_t n) {
  if (aligned_for(p, alignof(T))) {
    // Copies the block with memmove: no zeroing pass, no per-element loop.
    const T* first = reinterpret_cast<const T*>(p);
    v.insert(v.end(), first, first + n);
  } else if constexpr (std::is_default_constructible_v<T>) {
    std::size_t old = v.size();
    v.resize(old + n);
    std::memcpy(static_cast<void*>(v.data() + old), p, n * sizeof(T));
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      std::array<std::byte, sizeof(T)> raw;
      std::memcpy(raw.data(), p + i * sizeof(T), sizeof(T));
      v.push_back(std::bit_cast<T>(raw));
    }
  }
}

// ------------------------------------------------------------ codecs
template <class T>
struct memcpy_codec : builtin_tag {
  template <class W>
  static void encode(W& w, const T& v) {
    w.write(std::addressof(v), sizeof(T));
  }
  static T decode(byte_reader& r) {
    if constexpr (std::is_default_constructible_v<T>) {
      T v;
      r.read(std::addressof(v), sizeof(T));
      return v;
    } else {
      std::array<std::byte, sizeof(T)> raw;
      r.read(raw.data(), raw.size());
      return std::bit_cast<T>(raw);
    }
  }
};

template <class T>
struct auto_serializer<T, shape::scalar, true> : memcpy_codec<T> {};
template <class T>
struct auto_serializer<T, shape::trivially_copyable, true> : memcpy_codec<T> {};

template <>
struct auto_serializer<bool, shape::boolean, true> : builtin_tag {
  template <class W>
  static void encode(W& w, bool v) {
    unsigned char b = v ? 1 : 0;
    w.write(&b, 1);
  }
  // Any other byte would be a bool with an invalid value: undefined behaviour.
  static bool decode(byte_reader& r) {
    unsigned char b;
    r.read(&b, 1);
    if (b > 1) throw_bad_bool(b);
    return b == 1;
  }
};

template <class T>
struct auto_serializer<T, shape::string, true> : builtin_tag {
  using C = typename T::value_type;
  template <class W>
  static void encode(W& w, const T& s) {
    put_u64(w, s.size());
    w.write(s.data(), s.size() * sizeof(C));
  }
  static T decode(byte_reader& r) {
    std::uint64_t n = get_u64(r);
    if (n > r.remaining() / sizeof(C)) throw_string_length(n, sizeof(C), r.remaining());
    const std::byte* p = r.take(static_cast<std::size_t>(n) * sizeof(C));
    if constexpr (alignof(C) == 1) {
      return T(reinterpret_cast<const C*>(p), static_cast<std::size_t>(n));
    } else {
      T s(static_cast<std::size_t>(n), C{});
      std::memcpy(static_cast<void*>(s.data()), p, static_cast<std::size_t>(n) * sizeof(C));
      return s;
    }
  }
};

template <class T>
struct auto_serializer<T, shape::vector, true> : builtin_tag {
  using E = typename T::value_type;
  template <class W>
  static void encode(W& w, const T& v) {
    put_u64(w, v.size());
    if constexpr (bulk<E>) {
      w.write(v.data(), v.size() * sizeof(E));
    } else {
      for (const E& e : v) {
        put_marker<E>(w);
        weft::ipc::encode(w, e);
      }
    }
  }
  static T decode(byte_reader& r) {
    T v;
    if constexpr (bulk<E>) {
      std::size_t n = get_count(r, sizeof(E), "vector");
      const std::byte* p = r.take(n * sizeof(E));
      v.reserve(n);
      append_block(v, p, n);
    } else {
      std::size_t n = get_count(r, element_unit<E>, "vector");
      v.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        check_marker<E>(r);
        v.push_back(decode_as<E>(r));
      }
    }
    return v;
  }
};

template <class T>
struct auto_serializer<T, shape::bit_vector, true> : builtin_tag {
  template <class W>
  static void encode(W& w, const T& v) {
    put_u64(w, v.size());
    unsigned char chunk[256];
    std::size_t used = 0;
    for (std::size_t i = 0; i < v.size(); i += 8) {
      unsigned char byte = 0;
      for (std::size_t b = 0; b < 8 && i + b < v.size(); ++b)
        byte |= static_cast<unsigned char>(v[i + b] ? 1u << b : 0u);
      chunk[used++] = byte;
      if (used == sizeof chunk) {
        w.write(chunk, used);
        used = 0;
      }
    }
    w.write(chunk, used);
  }
  static T decode(byte_reader& r) {
    std::uint64_t n = get_u64(r);
    std::uint64_t bytes = n / 8 + (n % 8 != 0);
    if (bytes > r.remaining()) throw_bits_exceed(n, r.remaining());
    const std::byte* p = r.take(static_cast<std::size_t>(bytes));
    T v(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < n; ++i) v[i] = ((std::to_integer<unsigned>(p[i / 8]) >> (i % 8)) & 1u) != 0;
    return v;
  }
};

template <class T>
struct auto_serializer<T, shape::sequence, true> : builtin_tag {
  using E = typename T::value_type;
  template <class W>
  static void encode(W& w, const T& v) {
    put_u64(w, v.size());
    for (const E& e : v) {
      put_marker<E>(w);
      weft::ipc::encode(w, e);
    }
  }
  static T decode(byte_reader& r) {
    std::size_t n = get_count(r, element_unit<E>, is_deque<T> ? "deque" : "list");
    T v;
    for (std::size_t i = 0; i < n; ++i) {
      check_marker<E>(r);
      v.push_back(decode_as<E>(r));
    }
    return v;
  }
};

template <class T>
struct auto_serializer<T, shape::array, true> : builtin_tag {
  using E = typename T::value_type;
  static constexpr std::size_t N = std::tuple_size_v<T>;
  template <class W>
  static void encode(W& w, const T& a) {
    if constexpr (bulk<E>) {
      w.write(a.data(), N * sizeof(E));
    } else {
      for (const E& e : a) weft::ipc::encode(w, e);
    }
  }
  static T decode(byte_reader& r) {
    if constexpr (bulk<E> && std::is_default_constructible_v<E>) {
      T a;
      r.read(a.data(), N * sizeof(E));
      return a;
    } else if constexpr (std::is_default_constructible_v<E> && std::is_move_assignable_v<E>) {
      T a;
      for (E& e : a) e = decode_as<E>(r);
      return a;
    } else {
      // Braced elements are decoded left to right.
      return [&]<std::size_t... I>(std::index_sequence<I...>) { return T{((void)I, decode_as<E>(r))...}; }
      (std::make_index_sequence<N>{});
    }
  }
};

template <class T, bool Unique>
struct set_codec : builtin_tag {
  using K = typename T::key_type;
  template <class W>
  static void encode(W& w, const T& s) {
    put_u64(w, s.size());
    for (const K& k : s) {
      put_marker<K>(w);
      weft::ipc::encode(w, k);
    }
  }
  static T decode(byte_reader& r) {
    std::size_t n = get_count(r, element_unit<K>, "set");
    T s;
    if constexpr (requires { s.reserve(n); }) s.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      check_marker<K>(r);
      std::size_t before = s.size();
      // Encoded in the set's order: a hint at the end makes each insert O(1).
      s.emplace_hint(s.end(), decode_as<K>(r));
      if (Unique && s.size() == before) throw_duplicate_key("set");
    }
    return s;
  }
};

template <class T>
struct auto_serializer<T, shape::unique_set, true> : set_codec<T, true> {};
template <class T>
struct auto_serializer<T, shape::multi_set, true> : set_codec<T, false> {};

template <class T, bool Unique>
struct map_codec : builtin_tag {
  using K = typename T::key_type;
  using V = typename T::mapped_type;
  template <class W>
  static void encode(W& w, const T& m) {
    put_u64(w, m.size());
    for (const auto& [k, v] : m) {
      put_marker<K, V>(w);
      weft::ipc::encode(w, k);
      weft::ipc::encode(w, v);
    }
  }
  static T decode(byte_reader& r) {
    std::size_t n = get_count(r, element_unit<K, V>, "map");
    T m;
    if constexpr (requires { m.reserve(n); }) m.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      check_marker<K, V>(r);
      K k = decode_as<K>(r);
      V v = decode_as<V>(r);
      std::size_t before = m.size();
      m.emplace_hint(m.end(), std::move(k), std::move(v));
      if (Unique && m.size() == before) throw_duplicate_key("map");
    }
    return m;
  }
};

template <class T>
struct auto_serializer<T, shape::unique_map, true> : map_codec<T, true> {};
template <class T>
struct auto_serializer<T, shape::multi_map, true> : map_codec<T, false> {};

template <class T>
struct auto_serializer<T, shape::optional, true> : builtin_tag {
  using E = typename T::value_type;
  template <class W>
  static void encode(W& w, const T& o) {
    unsigned char flag = o.has_value() ? 1 : 0;
    w.write(&flag, 1);
    if (o) weft::ipc::encode(w, *o);
  }
  static T decode(byte_reader& r) {
    unsigned char flag;
    r.read(&flag, 1);
    if (flag > 1) throw_bad_optional_flag(flag);
    if (flag == 0) return T();
    return T(std::in_place, decode_as<E>(r));
  }
};

template <class T>
struct auto_serializer<T, shape::pair, true> : builtin_tag {
  template <class W>
  static void encode(W& w, const T& p) {
    weft::ipc::encode(w, p.first);
    weft::ipc::encode(w, p.second);
  }
  static T decode(byte_reader& r) {
    // Braced: first is decoded before second.
    return T{decode_as<typename T::first_type>(r), decode_as<typename T::second_type>(r)};
  }
};

template <class... Ts>
struct auto_serializer<std::tuple<Ts...>, shape::tuple, true> : builtin_tag {
  template <class W>
  static void encode(W& w, const std::tuple<Ts...>& t) {
    std::apply([&w](const auto&... x) { (weft::ipc::encode(w, x), ...); }, t);
  }
  static std::tuple<Ts...> decode([[maybe_unused]] byte_reader& r) {
    return std::tuple<Ts...>{decode_as<Ts>(r)...};  // braced: in order
  }
};

template <class... Ts>
struct auto_serializer<std::variant<Ts...>, shape::variant, true> : builtin_tag {
  using V = std::variant<Ts...>;
  template <class W>
  static void encode(W& w, const V& v) {
    if (v.valueless_by_exception()) throw_valueless_variant();
    put_u64(w, v.index());
    std::visit([&w](const auto& x) { weft::ipc::encode(w, x); }, v);
  }
  static V decode(byte_reader& r) {
    std::uint64_t i = get_u64(r);
    if (i >= sizeof...(Ts)) throw_bad_variant_index(i, sizeof...(Ts));
    return dispatch(r, static_cast<std::size_t>(i), std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t I>
  static V decode_alternative(byte_reader& r) {
    return V(std::in_place_index<I>, decode_as<std::variant_alternative_t<I, V>>(r));
  }
  template <std::size_t... I>
  static V dispatch(byte_reader& r, std::size_t i, std::index_sequence<I...>) {
    static constexpr V (*table[])(byte_reader&) = {&decode_alternative<I>...};
    return table[i](r);
  }
};

template <>
struct auto_serializer<std::monostate, shape::monostate, true> : builtin_tag {
  template <class W>
  static void encode(W&, std::monostate) {}
  static std::monostate decode(byte_reader&) { return {}; }
};

// ------------------------------------------------------------ refusals
template <class T>
void refuse();

template <class T, class... Rest>
void refuse_first() {
  if constexpr (!serializable<T>) refuse<std::remove_cv_t<T>>();
  else if constexpr (sizeof...(Rest) != 0) refuse_first<Rest...>();
  else static_assert(dependent_false<T>, "weft::ipc: internal error: no member of this type is refused");
}

template <class... Ts>
void refuse_members(std::type_identity<std::tuple<Ts...>>) {
  refuse_first<Ts...>();
}
template <class... Ts>
void refuse_members(std::type_identity<std::variant<Ts...>>) {
  refuse_first<Ts...>();
}

/// Fails the compilation with the reason T cannot travel; for a container,
/// the reason of the element type that cannot (the instantiation chain
/// names each level).
template <class T>
void refuse() {
  constexpr shape s = shape_of<T>();
  if constexpr (!builtin<T>) {
    static_assert(dependent_false<T>,
                  "weft::ipc: this specialization of weft::ipc::serializer<T> is incomplete: it needs "
                  "template <class Writer> static void encode(Writer& w, const T& v) and "
                  "static T decode(weft::ipc::byte_reader& r)");
  } else if constexpr (s == shape::reference) {
    static_assert(dependent_false<T>, "weft::ipc: a reference cannot be sent to a worker process: pass the value");
  } else if constexpr (s == shape::object_pointer) {
    static_assert(dependent_false<T>,
                  "weft::ipc: a raw pointer cannot be sent to a worker process: it points into this process's "
                  "memory. Send the value, a std::vector or a std::string (function pointers are fine)");
  } else if constexpr (s == shape::c_array) {
    static_assert(dependent_false<T>,
                  "weft::ipc: a C array cannot be sent to a worker process (it decays to a pointer): use std::array "
                  "or std::vector");
  } else if constexpr (s == shape::view) {
    static_assert(dependent_false<T>,
                  "weft::ipc: std::span and std::string_view cannot be decoded in a worker process: they would "
                  "point into memory the worker does not own. Use std::vector or std::string (a string_view "
                  "argument of spawn_process travels as a std::string: see wire_t)");
  } else if constexpr (s == shape::pointer_like) {
    static_assert(dependent_false<T>,
                  "weft::ipc: std::unique_ptr, std::shared_ptr, std::weak_ptr and std::reference_wrapper cannot be "
                  "sent to a worker process: they point into this process's memory. Send the value they point to");
  } else if constexpr (s == shape::cereal_ambiguous) {
    static_assert(dependent_false<T>,
                  "weft::ipc: this type has more than one cereal serialization function for a binary archive "
                  "(e.g. serialize() and save()/load()): keep one");
  } else if constexpr (s == shape::cereal_one_way) {
    static_assert(dependent_false<T>,
                  "weft::ipc: this type has a cereal save() without a load() or the reverse: a type sent to a "
                  "worker process needs both (or one serialize())");
  } else if constexpr (s == shape::cereal_not_default_constructible) {
    static_assert(dependent_false<T>,
                  "weft::ipc: a cereal type sent to a worker process must be default-constructible (it is "
                  "constructed, then loaded)");
  } else if constexpr (s == shape::vector || s == shape::sequence || s == shape::array || s == shape::unique_set ||
                       s == shape::multi_set || s == shape::optional) {
    refuse_first<typename T::value_type>();
  } else if constexpr (s == shape::unique_map || s == shape::multi_map) {
    refuse_first<typename T::key_type, typename T::mapped_type>();
  } else if constexpr (s == shape::pair) {
    refuse_first<typename T::first_type, typename T::second_type>();
  } else if constexpr (s == shape::tuple || s == shape::variant) {
    refuse_members(std::type_identity<T>{});
  } else {
    static_assert(dependent_false<T>,
                  "weft::ipc: type T cannot be sent to a worker process: give it a cereal serialize() function or "
                  "specialize weft::ipc::serializer (T is named in the instantiation above)");
  }
}

}  // namespace weft::ipc::detail::ser
