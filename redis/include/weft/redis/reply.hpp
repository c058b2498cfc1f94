// weft::redis::reply: one RESP2 reply, as the server sent it — nil, an
// integer, a simple string (+OK), a bulk string (binary-safe), an error
// (-ERR ...) or an array of replies (nested as deep as the server nests
// them, e.g. what a Lua script returns).
//
//   redis::reply r = co_await c.command("MGET", "a", "b");
//   for (const redis::reply& e : r.as_array())
//     if (!e.is_nil()) use(e.as_string());
//   long long n = (co_await c.command("INCR", "hits")).as_integer();
//
// The accessors check the kind: as_integer() on a bulk string throws
// redis::reply_type_error naming both kinds, never a wrong value. A reply
// is a plain value (copyable, comparable); it does no I/O, so cancellation
// and deadlines do not apply to it.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weft::redis {

enum class reply_kind { nil, integer, simple_string, bulk_string, error, array };

/// "nil", "integer", "simple string", "bulk string", "error", "array".
std::string_view to_string(reply_kind k) noexcept;

/// An accessor called on a reply of another kind.
class reply_type_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class reply {
 public:
  /// nil.
  reply() noexcept = default;

  static reply nil() { return reply(); }
  static reply integer(long long v);
  static reply simple_string(std::string s);
  static reply bulk_string(std::string s);
  static reply error(std::string message);
  static reply array(std::vector<reply> elements);

  reply_kind kind() const noexcept { return kind_; }
  bool is_nil() const noexcept { return kind_ == reply_kind::nil; }
  bool is_integer() const noexcept { return kind_ == reply_kind::integer; }
  /// A simple or a bulk string.
  bool is_string() const noexcept { return kind_ == reply_kind::simple_string || kind_ == reply_kind::bulk_string; }
  bool is_error() const noexcept { return kind_ == reply_kind::error; }
  bool is_array() const noexcept { return kind_ == reply_kind::array; }

  /// The integer; reply_type_error for any other kind.
  long long as_integer() const;
  /// The bytes of a simple or bulk string; reply_type_error otherwise.
  const std::string& as_string() const;
  /// The string, or nullopt for nil (GET on a missing key); reply_type_error otherwise.
  std::optional<std::string> as_optional_string() const;
  /// The message of an error reply ("ERR unknown command ..."); reply_type_error otherwise.
  const std::string& as_error() const;
  /// The elements of an array; reply_type_error otherwise.
  const std::vector<reply>& as_array() const;
  std::vector<reply>& as_array();

  /// The number of elements of an array; reply_type_error otherwise.
  std::size_t size() const { return as_array().size(); }
  /// Element i of an array; std::out_of_range past the end, reply_type_error if not an array.
  const reply& operator[](std::size_t i) const;

  /// A readable rendering for messages and tests: 42, "text" (escaped),
  /// (nil), (error) ERR ..., [1, "a", [(nil)]]; long strings are cut.
  std::string to_string() const;

  friend bool operator==(const reply& a, const reply& b) noexcept;

 private:
  [[noreturn]] void wrong_kind(std::string_view wanted) const;

  reply_kind kind_ = reply_kind::nil;
  long long integer_ = 0;
  std::string string_;  // simple and bulk strings, errors
  std::vector<reply> elements_;
};

}  // namespace weft::redis
