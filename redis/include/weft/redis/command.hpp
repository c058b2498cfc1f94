// weft::redis::command: one Redis command, encoded as the RESP array of
// bulk strings the server reads. Arguments are binary-safe (a value may
// hold \r\n or \0); integers and floating-point numbers are written in
// decimal, as Redis parses them.
//
//   redis::command set{"SET", key, value};   // strings, string_views, char*
//   set.arg("EX").arg(60);                   // integers too
//   // set.encoded() == "*5\r\n$3\r\nSET\r\n..." (with the key and value)
//
// client::command("SET", key, value) builds one of these for you; build
// one yourself to add arguments in a loop, or to put it in a pipeline
// (redis/pipeline.hpp). A command is a plain value: it does no I/O, so
// cancellation and deadlines do not apply to it.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace weft::redis {

/// What command() and command::arg() take: strings (any type that converts
/// to std::string_view), integers (not char, not bool) and floating point.
template <class T>
concept command_argument = std::convertible_to<const T&, std::string_view> ||
    (std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
     !std::is_same_v<T, signed char> && !std::is_same_v<T, unsigned char> && !std::is_same_v<T, char8_t>);

class command {
 public:
  /// std::invalid_argument for an empty name.
  template <command_argument... A>
  explicit command(std::string_view name, const A&... args) {
    set_name(name);
    (arg(args), ...);
  }

  command& arg(std::string_view s);
  command& arg(const char* s) { return arg(std::string_view(s)); }
  command& arg(const std::string& s) { return arg(std::string_view(s)); }
  command& arg(long long v);
  command& arg(unsigned long long v);
  command& arg(double v);
  template <command_argument T>
  requires(!std::convertible_to<const T&, std::string_view>) command& arg(T v) {
    if constexpr (std::is_floating_point_v<T>) return arg(static_cast<double>(v));
    else if constexpr (std::is_signed_v<T>) return arg(static_cast<long long>(v));
    else return arg(static_cast<unsigned long long>(v));
  }

  /// The command's name as given ("SET"), for messages.
  const std::string& name() const noexcept { return name_; }
  /// The number of words, the name included.
  std::size_t size() const noexcept { return argc_; }
  /// Appends the RESP encoding to out.
  void encode_to(std::string& out) const;
  /// The RESP encoding.
  std::string encoded() const;

 private:
  void set_name(std::string_view name);

  std::string name_;
  std::string body_;  // the bulk strings, after the array header
  std::size_t argc_ = 0;
};

}  // namespace weft::redis
