#include "weft/redis/reply.hpp"

#include <fmt/format.h>

#include <utility>

namespace weft::redis {

std::string_view to_string(reply_kind k) noexcept {
  switch (k) {
    case reply_kind::nil: return "nil";
    case reply_kind::integer: return "integer";
    case reply_kind::simple_string: return "simple string";
    case reply_kind::bulk_string: return "bulk string";
    case reply_kind::error: return "error";
    case reply_kind::array: return "array";
  }
  return "unknown";
}

reply reply::integer(long long v) {
  reply r;
  r.kind_ = reply_kind::integer;
  r.integer_ = v;
  return r;
}

reply reply::simple_string(std::string s) {
  reply r;
  r.kind_ = reply_kind::simple_string;
  r.string_ = std::move(s);
  return r;
}

reply reply::bulk_string(std::string s) {
  reply r;
  r.kind_ = reply_kind::bulk_string;
  r.string_ = std::move(s);
  return r;
}

reply reply::error(std::string message) {
  reply r;
  r.kind_ = reply_kind::error;
  r.string_ = std::move(message);
  return r;
}

reply reply::array(std::vector<reply> elements) {
  reply r;
  r.kind_ = reply_kind::array;
  r.elements_ = std::move(elements);
  return r;
}

void reply::wrong_kind(std::string_view wanted) const {
  std::string what = fmt::format("weft::redis::reply: wanted {}, the reply is {}", wanted, to_string());
  throw reply_type_error(what);
}

long long reply::as_integer() const {
  if (kind_ != reply_kind::integer) wrong_kind("an integer");
  return integer_;
}

const std::string& reply::as_string() const {
  if (!is_string()) wrong_kind("a string");
  return string_;
}

std::optional<std::string> reply::as_optional_string() const {
  if (is_nil()) return std::nullopt;
  return as_string();
}

const std::string& reply::as_error() const {
  if (kind_ != reply_kind::error) wrong_kind("an error");
  return string_;
}

const std::vector<reply>& reply::as_array() const {
  if (kind_ != reply_kind::array) wrong_kind("an array");
  return elements_;
}

std::vector<reply>& reply::as_array() {
  if (kind_ != reply_kind::array) wrong_kind("an array");
  return elements_;
}

const reply& reply::operator[](std::size_t i) const {
  const std::vector<reply>& e = as_array();
  if (i >= e.size())
    throw std::out_of_range(fmt::format("weft::redis::reply: element {} of an array of {}", i, e.size()));
  return e[i];
}

namespace {

constexpr std::size_t shown_bytes = 64;

void quote(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size() && i < shown_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
  }
  out += '"';
  if (s.size() > shown_bytes) out += fmt::format("... ({} bytes)", s.size());
}

void render(std::string& out, const reply& r) {
  switch (r.kind()) {
    case reply_kind::nil: out += "(nil)"; break;
    case reply_kind::integer: out += fmt::format("{}", r.as_integer()); break;
    case reply_kind::simple_string:
    case reply_kind::bulk_string: quote(out, r.as_string()); break;
    case reply_kind::error:
      out += "(error) ";
      out += r.as_error().substr(0, shown_bytes);
      break;
    case reply_kind::array: {
      out += '[';
      bool first = true;
      for (const reply& e : r.as_array()) {
        if (!first) out += ", ";
        first = false;
        render(out, e);
      }
      out += ']';
      break;
    }
  }
}

}  // namespace

std::string reply::to_string() const {
  std::string out;
  render(out, *this);
  return out;
}

bool operator==(const reply& a, const reply& b) noexcept {
  return a.kind_ == b.kind_ && a.integer_ == b.integer_ && a.string_ == b.string_ && a.elements_ == b.elements_;
}

}  // namespace weft::redis
