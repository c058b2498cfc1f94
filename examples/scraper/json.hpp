// JSON output for the scraper's records and statistics: string escaping and
// a small streaming writer that places commas and colons itself.
//
//   scraper::json::writer w;
//   w.begin_object();
//   w.key("url").value("http://example.com/");
//   w.key("status").value(200);
//   w.key("links").begin_array().value("http://a/").value("http://b/").end_array();
//   w.end_object();
//   std::string line = w.take();   // {"url":"http://example.com/","status":200,"links":[...]}
//
// Strings are written as valid UTF-8 whatever they hold: control
// characters are escaped, bytes that are not UTF-8 become U+FFFD (a page
// title may come from a page in any encoding). Non-finite doubles are
// written as null (JSON has no NaN). Nothing blocks; no cancellation.
#pragma once

#include <fmt/core.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace scraper::json {

/// Length of the valid UTF-8 sequence starting s[i], or 0 if it is not one
/// (overlong forms, surrogates and code points above U+10FFFF are not).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t n;
  unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  return n;
}

/// Appends s to out as a JSON string, quotes included.
inline void escape_to(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

/// s as a JSON string, quotes included.
inline std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  escape_to(out, s);
  return out;
}

/// Writes one JSON value (usually an object) into a string. Misuse (a
/// value where a key is due, unbalanced ends) throws std::logic_error.
class writer {
 public:
  writer& begin_object() { return open('{', true); }
  writer& end_object() { return close('}', true); }
  writer& begin_array() { return open('[', false); }
  writer& end_array() { return close(']', false); }

  writer& key(std::string_view k) {
    if (stack_.empty() || !stack_.back().object || stack_.back().key_done)
      throw std::logic_error("json::writer: key outside an object or twice");
    comma();
    escape_to(out_, k);
    out_ += ':';
    stack_.back().key_done = true;
    return *this;
  }

  writer& value(std::string_view s) {
    before_value();
    escape_to(out_, s);
    return *this;
  }
  writer& value(const char* s) { return value(std::string_view(s)); }
  writer& value(const std::string& s) { return value(std::string_view(s)); }
  writer& value(bool b) {
    before_value();
    out_ += b ? "true" : "false";
    return *this;
  }
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  writer& value(I i) {
    before_value();
    out_ += std::to_string(i);
    return *this;
  }
  writer& value(double d) {
    before_value();
    if (!std::isfinite(d)) {
      out_ += "null";
    } else {
      // The shortest of {:.6g}..{:.17g} that reads back the same ({:.17g} always does).
      char buf[32];
      for (int precision = 6; precision <= 17; ++precision) {
        *fmt::format_to(buf, "{:.{}g}", d, precision) = '\0';
        if (std::strtod(buf, nullptr) == d) break;
      }
      out_ += buf;
    }
    return *this;
  }
  writer& null() {
    before_value();
    out_ += "null";
    return *this;
  }
  /// Inserts already-serialized JSON as the next value.
  writer& raw(std::string_view json) {
    before_value();
    out_ += json;
    return *this;
  }

  /// Whether a complete value has been written (every object/array closed).
  bool complete() const noexcept { return stack_.empty() && wrote_top_; }
  const std::string& str() const noexcept { return out_; }
  /// The text, leaving the writer empty for the next value.
  std::string take() {
    if (!complete()) throw std::logic_error("json::writer: value incomplete");
    std::string s = std::move(out_);
    out_.clear();
    wrote_top_ = false;
    return s;
  }

 private:
  struct level {
    bool object;
    bool first = true;
    bool key_done = false;
  };

  void comma() {
    if (!stack_.back().first) out_ += ',';
    stack_.back().first = false;
  }
  void before_value() {
    if (stack_.empty()) {
      if (wrote_top_) throw std::logic_error("json::writer: a second top-level value");
      wrote_top_ = true;
      return;
    }
    level& l = stack_.back();
    if (l.object) {
      if (!l.key_done) throw std::logic_error("json::writer: value in an object without a key");
      l.key_done = false;
    } else {
      comma();
    }
  }
  writer& open(char c, bool object) {
    before_value();
    out_ += c;
    stack_.push_back({object});
    return *this;
  }
  writer& close(char c, bool object) {
    if (stack_.empty() || stack_.back().object != object || stack_.back().key_done)
      throw std::logic_error("json::writer: unbalanced end");
    stack_.pop_back();
    out_ += c;
    return *this;
  }

  std::string out_;
  std::vector<level> stack_;
  bool wrote_top_ = false;
};

}  // namespace scraper::json
