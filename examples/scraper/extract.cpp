// Extraction rules: CSS -> XPath translation, checking XPaths in the parent,
// evaluating them in the worker, and the rules file.
#include "extract.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "json.hpp"
#include "libxml.hpp"

namespace scraper {

namespace {

// ---------------------------------------------------------------- helpers

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char ch : s) {
    if (is_space(ch)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out += ch;
    }
  }
  return out;
}

/// The 1-based position, in characters (UTF-8), of byte `offset` of s.
std::size_t char_position(std::string_view s, std::size_t offset) {
  offset = std::min(offset, s.size());
  std::size_t n = 1;
  for (std::size_t i = 0; i < offset; ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;
  return n;
}

/// "at position 4" or "at position 4 (the end)".
std::string where(std::string_view s, std::size_t offset) {
  std::string w = "at position " + std::to_string(char_position(s, offset));
  if (offset >= s.size()) w += " (the end)";
  return w;
}

/// v as an XPath 1.0 string literal (which has no escapes).
std::string xpath_literal(std::string_view v) {
  // Appended, not "'" + std::string(v): GCC 12 warns (-Wrestrict) on that.
  auto quoted = [&](char q) {
    std::string out(1, q);
    out.append(v);
    out += q;
    return out;
  };
  if (v.find('\'') == std::string_view::npos) return quoted('\'');
  if (v.find('"') == std::string_view::npos) return quoted('"');
  std::string out = "concat(";
  std::size_t start = 0;
  for (;;) {
    const std::size_t q = v.find('\'', start);
    out += '\'';
    out.append(v.substr(start, q == std::string_view::npos ? v.npos : q - start));
    out += '\'';
    if (q == std::string_view::npos) break;
    out += ",\"'\",";
    start = q + 1;
  }
  return out + ")";
}

/// Whether a name can be written as an XPath name test as it is.
bool plain_name(std::string_view n) {
  if (n.empty() || !(is_alpha(n[0]) || n[0] == '_')) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '_'; });
}

/// XML 1.0's Char: what a document (and an XPath literal) may hold.
bool xml_char(char32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

/// The code point of the valid UTF-8 sequence of `len` bytes at s[i].
char32_t code_point(std::string_view s, std::size_t i, std::size_t len) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  if (len == 1) return b(0);
  char32_t cp = b(0) & (0x7F >> len);
  for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (b(k) & 0x3F);
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// ---------------------------------------------------------------- CSS -> XPath

/// A recursive-descent parser of the CSS subset (see extract.hpp) that
/// writes XPath as it goes, the way cssselect (parsel, Scrapy) does: one
/// matcher, libxml2's XPath.
class css_translator {
 public:
  explicit css_translator(std::string_view s) : s_(s) {}

  std::string translate() {
    std::string out;
    for (;;) {
      skip_ws();
      if (!out.empty()) out += " | ";
      out += complex();
      skip_ws();
      if (end()) break;
      if (peek() != ',') fail("expected ',' or the end of the selector");
      ++i_;
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw rule_error("CSS selector \"" + std::string(s_) + "\": " + where(s_, i_) + ": " + what);
  }
  bool end() const { return i_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }
  bool starts(std::string_view w) const { return s_.substr(i_, w.size()) == w; }
  bool skip_ws() {
    const std::size_t start = i_;
    while (!end() && is_space(peek())) ++i_;
    return i_ > start;
  }

  /// compound (combinator compound)* [pseudo-element]
  std::string complex() {
    std::string path = "descendant-or-self::" + compound();
    for (;;) {
      const bool ws = skip_ws();
      if (end() || peek() == ',') return path;
      if (starts("::")) {
        // "a ::text" is "a *::text", as in CSS.
        if (ws) path += "/descendant-or-self::*";
        path += pseudo_element();
        skip_ws();
        if (!end() && peek() != ',') fail("a pseudo-element ends a selector: expected ',' or the end");
        return path;
      }
      const char c = peek();
      if (c == '>' || c == '+' || c == '~') {
        ++i_;
        skip_ws();
        if (c == '>') path += "/" + compound();
        else if (c == '+') path += "/following-sibling::*[1]/self::" + compound();
        else path += "/following-sibling::" + compound();
      } else if (ws) {
        path += "/descendant::" + compound();
      } else {
        fail(std::string("unexpected '") + c + "': expected a combinator (' ', '>', '+', '~'), ',' or the end");
      }
    }
  }

  /// [type|*] (#id | .class | [attr...] | :pseudo-class)*, as an XPath step.
  std::string compound() {
    const std::size_t start = i_;
    std::string element = "*";
    std::vector<std::string> conds;
    if (peek() == '*') {
      ++i_;
    } else if (ident_start()) {
      std::string name = ident("an element name");
      for (char& c : name) c = lower(c);  // HTML names are case-insensitive; libxml2 lowercases them
      if (plain_name(name)) element = name;
      else conds.push_back("local-name()=" + xpath_literal(name));
    }
    if (peek() == '|') fail("namespace prefixes are not supported");
    for (;;) {
      const char c = peek();
      if (c == '#') {
        ++i_;
        conds.push_back("@id=" + xpath_literal(name_chars("an id after '#'")));
      } else if (c == '.') {
        ++i_;
        conds.push_back(word_in("@class", ident("a class name after '.'")));
      } else if (c == '[') {
        conds.push_back(attribute());
      } else if (c == ':' && peek(1) != ':') {
        conds.push_back(pseudo_class());
      } else {
        break;
      }
    }
    if (i_ == start) fail("expected an element name, '*', '#id', '.class', '[attribute]' or ':pseudo-class'");
    std::string step = element;
    if (!conds.empty()) {
      step += '[';
      for (std::size_t k = 0; k < conds.size(); ++k) step += (k ? " and " : "") + conds[k];
      step += ']';
    }
    return step;
  }

  /// The XPath test: a whitespace-separated `list` contains word w.
  static std::string word_in(const std::string& list, const std::string& w) {
    if (w.empty() || std::any_of(w.begin(), w.end(), is_space)) return "false()";
    return "contains(concat(' ',normalize-space(" + list + "),' ')," + xpath_literal(" " + w + " ") + ")";
  }

  static std::string attribute_ref(std::string name) {
    for (char& c : name) c = lower(c);
    return plain_name(name) ? "@" + name : "@*[local-name()=" + xpath_literal(name) + "]";
  }

  /// [attr], [attr=v], [attr~=v], [attr|=v], [attr^=v], [attr$=v], [attr*=v]
  std::string attribute() {
    ++i_;  // '['
    skip_ws();
    if (!ident_start()) fail("expected an attribute name after '['");
    const std::string a = attribute_ref(ident("an attribute name"));
    skip_ws();
    if (peek() == ']') {
      ++i_;
      return a;
    }
    std::string op;
    if (peek() == '=') {
      op = "=";
    } else if (std::string_view("~|^$*").find(peek()) != std::string_view::npos && peek() != '\0' && peek(1) == '=') {
      op = std::string(1, peek()) + "=";
    } else if (peek() == '|') {
      fail("namespace prefixes are not supported");
    } else {
      fail("expected ']' or an operator (=, ~=, |=, ^=, $=, *=)");
    }
    i_ += op.size();
    skip_ws();
    std::string v;
    if (peek() == '"' || peek() == '\'') v = quoted();
    else if (ident_start()) v = ident("a value");
    else fail("expected a value (a name or a quoted string)");
    skip_ws();
    if (is_alpha(peek())) fail("attribute flags (such as 'i') are not supported");
    if (peek() != ']') fail("expected ']'");
    ++i_;
    const std::string lit = xpath_literal(v);
    if (op == "=") return a + "=" + lit;
    if (op == "~=") return word_in(a, v);
    if (op == "|=") return "(" + a + "=" + lit + " or starts-with(" + a + "," + xpath_literal(v + "-") + "))";
    if (v.empty()) return "false()";  // ^= $= *= with "" match nothing (Selectors 4)
    if (op == "^=") return "starts-with(" + a + "," + lit + ")";
    if (op == "*=") return "contains(" + a + "," + lit + ")";
    return "substring(" + a + ",string-length(" + a + ")-string-length(" + lit + ")+1)=" + lit;  // $=
  }

  std::string pseudo_class() {
    ++i_;  // ':'
    const std::size_t at = i_;
    if (!ident_start()) fail("expected a pseudo-class name after ':'");
    std::string name = ident("a pseudo-class name");
    for (char& c : name) c = lower(c);
    if (name == "first-child") return "not(preceding-sibling::*)";
    if (name == "last-child") return "not(following-sibling::*)";
    if (name == "only-child") return "not(preceding-sibling::*) and not(following-sibling::*)";
    if (name == "nth-child" || name == "nth-last-child") {
      if (peek() != '(') fail("expected '(' after :" + name);
      ++i_;
      auto [a, b] = an_plus_b();
      if (peek() != ')') fail("expected ')'");
      ++i_;
      // n: the element's 0-based index among its element siblings. The
      // element is the (a*k + b)th child for some k >= 0.
      const std::string n = name == "nth-child" ? "count(preceding-sibling::*)" : "count(following-sibling::*)";
      const long b0 = b - 1;
      if (a == 0) return n + "=" + std::to_string(b0);
      if (a > 0)
        return "(" + n + ">=" + std::to_string(b0) + " and (" + n + " - " + std::to_string(b0) + ") mod " +
               std::to_string(a) + "=0)";
      return "(" + n + "<=" + std::to_string(b0) + " and (" + std::to_string(b0) + " - " + n + ") mod " +
             std::to_string(-a) + "=0)";
    }
    i_ = at;
    fail("unsupported pseudo-class ':" + name +
         "' (supported: :nth-child(), :nth-last-child(), :first-child, :last-child, :only-child)");
  }

  /// The inside of :nth-child(): odd, even, B, An, An+B, with optional signs and spaces.
  std::pair<long, long> an_plus_b() {
    skip_ws();
    auto word = [&](std::string_view w) {
      if (s_.size() - i_ < w.size()) return false;
      for (std::size_t k = 0; k < w.size(); ++k)
        if (lower(s_[i_ + k]) != w[k]) return false;
      if (is_alpha(peek(w.size())) || peek(w.size()) == '-') return false;
      i_ += w.size();
      return true;
    };
    std::pair<long, long> r;
    if (word("odd")) {
      r = {2, 1};
    } else if (word("even")) {
      r = {2, 0};
    } else {
      long sign = 1;
      if (peek() == '+' || peek() == '-') sign = peek() == '-' ? -1 : 1, ++i_;
      std::optional<long> num = number();
      if (lower(peek()) == 'n') {
        ++i_;
        r.first = sign * num.value_or(1);
        skip_ws();
        if (peek() == '+' || peek() == '-') {
          const long bsign = peek() == '-' ? -1 : 1;
          ++i_;
          skip_ws();
          auto bnum = number();
          if (!bnum) fail("expected a number after the sign in an+b");
          r.second = bsign * *bnum;
        }
      } else if (num) {
        r.second = sign * *num;
      } else {
        fail("expected an+b, a number, 'odd' or 'even'");
      }
    }
    skip_ws();
    return r;
  }

  std::optional<long> number() {
    if (!is_digit(peek())) return std::nullopt;
    long v = 0;
    while (is_digit(peek())) {
      if (v > 100'000'000) fail("number too large");
      v = v * 10 + (peek() - '0');
      ++i_;
    }
    return v;
  }

  /// ::attr(NAME) -> /@NAME, ::text -> /text()
  std::string pseudo_element() {
    i_ += 2;
    const std::size_t at = i_;
    std::string name = ident_start() ? ident("a pseudo-element name") : std::string();
    for (char& c : name) c = lower(c);
    if (name == "text") return "/text()";
    if (name == "attr") {
      if (peek() != '(') fail("expected '(' after ::attr");
      ++i_;
      skip_ws();
      if (!ident_start()) fail("expected an attribute name in ::attr()");
      const std::string a = attribute_ref(ident("an attribute name"));
      skip_ws();
      if (peek() != ')') fail("expected ')'");
      ++i_;
      return "/" + a;
    }
    i_ = at;
    fail("unsupported pseudo-element (supported: ::attr(NAME), ::text)");
  }

  bool name_char(char c) const {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '_' || static_cast<unsigned char>(c) >= 0x80;
  }
  bool ident_start() const {
    const char c = peek();
    if (is_alpha(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80 || c == '\\') return true;
    if (c != '-') return false;
    const char d = peek(1);
    return is_alpha(d) || d == '_' || d == '-' || d == '\\' || static_cast<unsigned char>(d) >= 0x80;
  }
  /// An identifier (ident_start() was checked by the caller when it matters).
  std::string ident(const char* what) {
    if (!ident_start()) fail(std::string("expected ") + what);
    return name_chars(what);
  }
  /// Name characters and escapes, at least one.
  std::string name_chars(const char* what) {
    std::string out;
    while (!end()) {
      const char c = peek();
      if (c == '\\') {
        escape(out);
      } else if (name_char(c)) {
        out += c;
        ++i_;
      } else {
        break;
      }
    }
    if (out.empty()) fail(std::string("expected ") + what);
    return out;
  }
  /// A backslash escape: up to 6 hex digits (and one space after), or the
  /// next character as itself.
  void escape(std::string& out) {
    ++i_;
    if (end() || peek() == '\n') fail("a backslash must escape something");
    if (std::isxdigit(static_cast<unsigned char>(peek()))) {
      const std::size_t at = i_ - 1;
      char32_t cp = 0;
      for (int k = 0; k < 6 && !end() && std::isxdigit(static_cast<unsigned char>(peek())); ++k, ++i_)
        cp = cp * 16 + static_cast<char32_t>(is_digit(peek()) ? peek() - '0' : lower(peek()) - 'a' + 10);
      if (!end() && is_space(peek())) ++i_;
      if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;  // as CSS says
      if (!xml_char(cp)) {
        i_ = at;
        fail("an escaped character no XML document holds");
      }
      append_utf8(out, cp);
      return;
    }
    if (!xml_char(static_cast<unsigned char>(peek()))) fail("an escaped character no XML document holds");
    out += peek();
    ++i_;
  }
  std::string quoted() {
    const char q = peek();
    const std::size_t open = i_;
    ++i_;
    std::string out;
    for (;;) {
      if (end()) {
        i_ = open;
        fail("unterminated string");
      }
      const char c = peek();
      if (c == q) {
        ++i_;
        return out;
      }
      if (c == '\\') {
        escape(out);
      } else {
        if (c == '\f') fail("a form feed in a string: no XML document holds one");
        out += c;
        ++i_;
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// ---------------------------------------------------------------- XPath checks

/// Collects libxml2's errors for one compile or evaluation: the first
/// structured error (message and position), and generic messages, which
/// some evaluation paths print instead.
struct xpath_errors {
  bool any = false;
  std::string message;
  std::optional<std::size_t> offset;

  static void on_structured(void* self, xmlErrorPtr e) {
    auto* me = static_cast<xpath_errors*>(self);
    if (me->any) return;
    me->any = true;
    me->message = e->message ? collapse_whitespace(e->message) : "error";
    if (e->domain == XML_FROM_XPATH && e->str1 != nullptr && e->int1 >= 0)
      me->offset = static_cast<std::size_t>(e->int1);
  }
  static void on_generic(void* self, const char* fmt, ...) {
    auto* me = static_cast<xpath_errors*>(self);
    if (me->any) return;
    me->any = true;
    me->message = collapse_whitespace(fmt);  // the format: enough to say what went wrong
  }
};

struct comp_deleter {
  void operator()(xmlXPathCompExpr* c) const noexcept { xmlXPathFreeCompExpr(c); }
};
struct context_deleter {
  void operator()(xmlXPathContext* c) const noexcept { xmlXPathFreeContext(c); }
};
struct object_deleter {
  void operator()(xmlXPathObject* o) const noexcept { xmlXPathFreeObject(o); }
};
struct doc_deleter {
  void operator()(xmlDoc* d) const noexcept { xmlFreeDoc(d); }
};
using comp_ptr = std::unique_ptr<xmlXPathCompExpr, comp_deleter>;
using context_ptr = std::unique_ptr<xmlXPathContext, context_deleter>;
using object_ptr = std::unique_ptr<xmlXPathObject, object_deleter>;

/// Every libxml2 error of a scope (structured or generic) into `errors`.
struct error_scope {
  explicit error_scope(xpath_errors& e)
      : structured(&e, &xpath_errors::on_structured), generic(&e, &xpath_errors::on_generic) {}
  scoped_structured_errors structured;
  scoped_generic_errors generic;
};

/// A context on doc, its context node the document (relative paths such
/// as descendant-or-self::h1 start there).
context_ptr new_context(xmlDoc* doc) {
  context_ptr ctx(xmlXPathNewContext(doc));
  if (!ctx) throw std::bad_alloc();
  ctx->node = reinterpret_cast<xmlNode*>(doc);
  return ctx;
}

/// XPath 1.0's functions: all that libxml2 provides without registering
/// more, and all that check_xpath lets through.
bool core_function(std::string_view name) {
  // The names filled in, not one a line (as clang-format would have them).
  // clang-format off
  static constexpr std::array<std::string_view, 27> names = {
      "last", "position", "count", "id", "local-name", "namespace-uri", "name", "string", "concat",
      "starts-with", "contains", "substring-before", "substring-after", "substring", "string-length",
      "normalize-space", "translate", "boolean", "not", "true", "false", "lang", "number", "sum", "floor",
      "ceiling", "round"};
  // clang-format on
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// A lexical pass over an XPath 1.0 expression for what libxml2 accepts at
/// compile time and refuses only when evaluating (maybe only on some
/// pages): calls to unknown functions and variable references. It follows
/// XPath 1.0 section 3.7's rule to tell an operator name (and, or, div,
/// mod) or '*' from a name test: after an operand they are operators.
void check_names(std::string_view x) {
  auto fail = [&](std::size_t at, const std::string& what) {
    throw rule_error("XPath \"" + std::string(x) + "\": " + where(x, at) + ": " + what);
  };
  auto name_start = [](char c) { return is_alpha(c) || c == '_' || static_cast<unsigned char>(c) >= 0x80; };
  auto name_char = [&](char c) { return name_start(c) || is_digit(c) || c == '-' || c == '.'; };
  bool after_operand = false;  // the previous token ends an operand
  std::size_t i = 0;
  while (i < x.size()) {
    const char c = x[i];
    if (is_space(c)) {
      ++i;
    } else if (c == '"' || c == '\'') {
      const auto close = x.find(c, i + 1);
      if (close == std::string_view::npos) return;  // the compiler reports it
      i = close + 1;
      after_operand = true;
    } else if (is_digit(c) || (c == '.' && i + 1 < x.size() && is_digit(x[i + 1]))) {
      while (i < x.size() && (is_digit(x[i]) || x[i] == '.')) ++i;
      after_operand = true;
    } else if (c == '$') {
      fail(i, "variables are not supported (no variable is defined)");
    } else if (name_start(c)) {
      const std::size_t start = i;
      while (i < x.size() && (name_char(x[i]) || (x[i] == ':' && i + 1 < x.size() && x[i + 1] != ':'))) ++i;
      const std::string_view name = x.substr(start, i - start);
      if (after_operand) {  // an operator name
        after_operand = false;
        continue;
      }
      std::size_t j = i;
      while (j < x.size() && is_space(x[j])) ++j;
      if (j < x.size() && x[j] == '(') {
        const bool node_type =
            name == "node" || name == "text" || name == "comment" || name == "processing-instruction";
        if (!node_type && !core_function(name))
          fail(start, "unknown function '" + std::string(name) + "()' (XPath 1.0's functions only)");
        after_operand = false;  // '(' follows
      } else if (j + 1 < x.size() && x[j] == ':' && x[j + 1] == ':') {
        after_operand = false;  // an axis
      } else {
        after_operand = true;  // a name test
      }
    } else if (c == '*') {
      ++i;
      after_operand = !after_operand;  // a name test after an operator, multiplication after an operand
    } else if (c == ')' || c == ']' || c == '.') {
      ++i;
      if (c == '.' && i < x.size() && x[i] == '.') ++i;
      after_operand = true;
    } else {
      ++i;
      after_operand = false;
    }
  }
}

/// A small page on which every checked XPath is evaluated once: a type
/// error (count('a')) shows only when evaluating.
xmlDoc* probe_document() {
  static const std::unique_ptr<xmlDoc, doc_deleter> doc([] {
    static constexpr std::string_view html =
        "<!DOCTYPE html><html><head><title>t</title></head><body><div id=\"x\" class=\"y\"><h1>h</h1>"
        "<a href=\"/a\">a</a><p>p <b>b</b></p><ul><li>1</li><li>2</li></ul></div></body></html>";
    return htmlReadMemory(html.data(), static_cast<int>(html.size()), "http://probe/", "UTF-8",
                          HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
  }());
  return doc.get();
}

// ---------------------------------------------------------------- evaluation

/// Per thread (a worker process has one): compiled XPaths by expression,
/// so that each is compiled once per process, not per page.
class xpath_cache {
 public:
  /// nullptr when it does not compile (check_xpath keeps that from happening).
  xmlXPathCompExpr* get(const std::string& expr) {
    auto it = cache_.find(expr);
    if (it != cache_.end()) return it->second.get();
    xpath_errors errors;
    error_scope scope(errors);
    context_ptr ctx = new_context(nullptr);
    comp_ptr comp(xmlXPathCtxtCompile(ctx.get(), reinterpret_cast<const xmlChar*>(expr.c_str())));
    return cache_.emplace(expr, std::move(comp)).first->second.get();
  }

  /// The thread's one evaluation context, set on doc: creating one per
  /// page (it registers every XPath function in a hash table) cost more
  /// than evaluating three simple rules.
  xmlXPathContext* context_for(xmlDoc* doc) {
    if (!context_) context_ = new_context(nullptr);
    context_->doc = doc;
    context_->node = reinterpret_cast<xmlNode*>(doc);
    context_->contextSize = -1;
    context_->proximityPosition = -1;
    return context_.get();
  }

 private:
  std::unordered_map<std::string, comp_ptr> cache_;
  context_ptr context_;
};

xpath_cache& thread_cache() {
  thread_local xpath_cache cache;
  return cache;
}

/// Evaluates expr on doc; nullptr when it fails.
object_ptr evaluate(xmlXPathContext* ctx, const std::string& expr) {
  xmlXPathCompExpr* comp = thread_cache().get(expr);
  if (comp == nullptr) return nullptr;
  return object_ptr(xmlXPathCompiledEval(comp, ctx));
}

std::string node_value(xmlNode* n) {
  xmlChar* raw = xmlNodeGetContent(n);
  std::string v = raw ? reinterpret_cast<const char*>(raw) : "";
  xmlFree(raw);
  // An attribute is data (a URL, a date): kept as written. Text is
  // collapsed as the title is.
  return n->type == XML_ATTRIBUTE_NODE ? v : collapse_whitespace(v);
}

std::vector<std::string> values_of(xmlXPathObject* o) {
  std::vector<std::string> out;
  if (o == nullptr) return out;
  if (o->type == XPATH_NODESET) {
    if (o->nodesetval != nullptr)
      for (int k = 0; k < o->nodesetval->nodeNr; ++k) out.push_back(node_value(o->nodesetval->nodeTab[k]));
    return out;
  }
  xmlChar* s = xmlXPathCastToString(o);  // number, boolean, string: as XPath's string()
  if (s != nullptr) {
    out.emplace_back(reinterpret_cast<const char*>(s));
    xmlFree(s);
  }
  return out;
}

bool is_link_element(const xmlNode* n) {
  return n->type == XML_ELEMENT_NODE && n->name != nullptr &&
         (xmlStrcasecmp(n->name, BAD_CAST "a") == 0 || xmlStrcasecmp(n->name, BAD_CAST "area") == 0);
}

void push_href(const xmlNode* n, std::vector<std::string>& out) {
  for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
    if (a->name == nullptr || xmlStrcasecmp(a->name, BAD_CAST "href") != 0) continue;
    std::string value;
    for (const xmlNode* c = a->children; c != nullptr; c = c->next)
      if (c->content != nullptr) value += reinterpret_cast<const char*>(c->content);
    out.push_back(std::move(value));
    return;
  }
}

/// The hrefs of the links n is or contains, in document order.
void collect_links(const xmlNode* n, std::vector<std::string>& out) {
  if (is_link_element(n)) push_href(n, out);
  for (const xmlNode* c = n->children; c != nullptr; c = c->next)
    if (c->type == XML_ELEMENT_NODE) collect_links(c, out);
}

}  // namespace

// ---------------------------------------------------------------- the API

std::string css_to_xpath(std::string_view selector) {
  if (selector.find_first_not_of(" \t\n\r\f") == std::string_view::npos)
    throw rule_error("CSS selector \"" + std::string(selector) + "\": empty");
  // What the XPath could not hold (a rules file can give "\u0001" or a NUL,
  // which would end libxml2's C string early), or is not UTF-8. A form
  // feed is CSS whitespace; inside a string the translator refuses it.
  for (std::size_t i = 0; i < selector.size();) {
    const std::size_t len = json::utf8_sequence_length(selector, i);
    if (len == 0) throw rule_error("CSS selector: " + where(selector, i) + ": not UTF-8");
    const char32_t cp = code_point(selector, i, len);
    if (!xml_char(cp) && cp != '\f') throw rule_error("CSS selector: " + where(selector, i) + ": a control character");
    i += len;
  }
  return css_translator(selector).translate();
}

void check_xpath(std::string_view xpath) {
  init_libxml();
  const std::string expr(xpath);
  if (expr.find_first_not_of(" \t\n\r") == std::string::npos) throw rule_error("XPath \"" + expr + "\": empty");
  if (auto nul = expr.find('\0'); nul != std::string::npos)
    throw rule_error("XPath: " + where(expr, nul) + ": a NUL character");
  xpath_errors errors;
  error_scope scope(errors);
  context_ptr ctx = new_context(probe_document());
  comp_ptr comp(xmlXPathCtxtCompile(ctx.get(), reinterpret_cast<const xmlChar*>(expr.c_str())));
  if (!comp || errors.any) {
    std::string msg = "XPath \"" + expr + "\": ";
    if (errors.offset) msg += where(expr, *errors.offset) + ": ";
    throw rule_error(msg + (errors.any ? errors.message : "does not compile"));
  }
  check_names(expr);
  object_ptr result(xmlXPathCompiledEval(comp.get(), ctx.get()));
  if (!result || errors.any)
    throw rule_error("XPath \"" + expr + "\": fails when evaluated: " + (errors.any ? errors.message : "error"));
}

namespace {

/// "NAME=EXPR" split at the first '='.
std::pair<std::string, std::string> split_rule(std::string_view spec, const char* what) {
  const auto eq = spec.find('=');
  if (eq == std::string_view::npos)
    throw rule_error("\"" + std::string(spec) + "\": expected NAME=" + what + " (no '=')");
  std::string name(spec.substr(0, eq));
  std::string expr(spec.substr(eq + 1));
  if (name.empty()) throw rule_error("\"" + std::string(spec) + "\": the name before '=' is empty");
  return {std::move(name), std::move(expr)};
}

extract_rule make_xpath_rule(std::string name, std::string xpath) {
  try {
    check_xpath(xpath);
  } catch (const rule_error& e) {
    throw rule_error("rule \"" + name + "\": " + e.what());
  }
  extract_rule r;
  r.name = std::move(name);
  r.source = xpath;
  r.xpath = std::move(xpath);
  return r;
}

extract_rule make_css_rule(std::string name, std::string selector) {
  extract_rule r;
  try {
    r.xpath = css_to_xpath(selector);
    check_xpath(r.xpath);  // a translation libxml2 refuses would be a bug here: said, not crashed on
  } catch (const rule_error& e) {
    throw rule_error("rule \"" + name + "\": " + e.what());
  }
  r.name = std::move(name);
  r.source = std::move(selector);
  return r;
}

}  // namespace

extract_rule xpath_rule(std::string_view spec) {
  auto [name, expr] = split_rule(spec, "XPATH");
  return make_xpath_rule(std::move(name), std::move(expr));
}

extract_rule css_rule(std::string_view spec) {
  auto [name, expr] = split_rule(spec, "SELECTOR");
  return make_css_rule(std::move(name), std::move(expr));
}

void check_rules(const page_rules& rules) {
  std::set<std::string_view> names;
  for (const auto& r : rules.fields) {
    if (r.name.empty()) throw rule_error("a rule with an empty name");
    if (!names.insert(r.name).second) throw rule_error("rule \"" + r.name + "\": the name is given twice");
    try {
      check_xpath(r.xpath);
    } catch (const rule_error& e) {
      throw rule_error("rule \"" + r.name + "\": " + e.what());
    }
  }
  for (const auto& f : rules.follow) {
    try {
      check_xpath(f);
    } catch (const rule_error& e) {
      throw rule_error(std::string("follow: ") + e.what());
    }
  }
}

rules_file read_rules_file(const std::string& path) {
  const std::string where_file = "rules file '" + path + "'";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw rule_error(where_file + ": cannot open: " + std::strerror(errno));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw rule_error(where_file + ": cannot read: " + std::strerror(errno));

  boost::json::stream_parser p;
  boost::system::error_code ec;
  std::size_t consumed = p.write(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    std::size_t line = 1, col = 1;
    for (std::size_t k = 0; k < std::min(consumed, text.size()); ++k) {
      if (text[k] == '\n') ++line, col = 1;
      else ++col;
    }
    throw rule_error(where_file + ": not JSON (line " + std::to_string(line) + ", column " + std::to_string(col) +
                     "): " + ec.message());
  }
  const boost::json::value doc = p.release();
  if (!doc.is_object()) throw rule_error(where_file + ": expected a JSON object at the top");

  rules_file out;
  auto strings = [&](const boost::json::value& v, std::string_view key) {
    std::vector<std::string> list;
    auto one = [&](const boost::json::value& s) {
      if (!s.is_string())
        throw rule_error(where_file + ": \"" + std::string(key) + "\" takes a string or a list of strings");
      list.emplace_back(s.get_string());
    };
    if (v.is_array())
      for (const auto& s : v.get_array()) one(s);
    else one(v);
    return list;
  };
  auto named = [&](const boost::json::value& v, std::string_view key, auto make) {
    if (!v.is_object())
      throw rule_error(where_file + ": \"" + std::string(key) + "\" takes an object of names and expressions");
    for (const auto& [name, expr] : v.get_object()) {
      if (!expr.is_string())
        throw rule_error(where_file + ": \"" + std::string(key) + "\": rule \"" + std::string(name) +
                         "\": expected a string");
      try {
        out.rules.fields.push_back(make(std::string(name), std::string(expr.get_string())));
      } catch (const rule_error& e) {
        throw rule_error(where_file + ": \"" + std::string(key) + "\": " + e.what());
      }
    }
  };
  for (const auto& [key, value] : doc.get_object()) {
    if (key == "extract") {
      named(value, key, make_xpath_rule);
    } else if (key == "css") {
      named(value, key, make_css_rule);
    } else if (key == "allow") {
      out.allow = strings(value, key);
    } else if (key == "deny") {
      out.deny = strings(value, key);
    } else if (key == "follow") {
      out.rules.follow = strings(value, key);
    } else {
      throw rule_error(where_file + ": unknown key \"" + std::string(key) +
                       "\" (known: extract, css, allow, deny, follow)");
    }
  }
  try {
    check_rules(out.rules);
  } catch (const rule_error& e) {
    throw rule_error(where_file + ": " + e.what());
  }
  return out;
}

namespace detail {

field_values evaluate_fields(xmlDoc* doc, const std::vector<extract_rule>& rules) {
  field_values out;
  out.reserve(rules.size());
  xpath_errors errors;
  error_scope scope(errors);
  xmlXPathContext* ctx = thread_cache().context_for(doc);
  for (const auto& r : rules) {
    object_ptr result = evaluate(ctx, r.xpath);
    out.emplace_back(r.name, values_of(result.get()));
  }
  return out;
}

std::vector<std::string> follow_hrefs(xmlDoc* doc, const std::vector<std::string>& xpaths) {
  std::vector<std::string> out;
  xpath_errors errors;
  error_scope scope(errors);
  xmlXPathContext* ctx = thread_cache().context_for(doc);
  for (const auto& x : xpaths) {
    object_ptr result = evaluate(ctx, x);
    if (!result) continue;
    if (result->type != XPATH_NODESET) {
      auto v = values_of(result.get());
      out.insert(out.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
      continue;
    }
    if (result->nodesetval == nullptr) continue;
    for (int k = 0; k < result->nodesetval->nodeNr; ++k) {
      xmlNode* n = result->nodesetval->nodeTab[k];
      if (n->type == XML_ELEMENT_NODE) collect_links(n, out);
      else if (n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE)
        for (const xmlNode* c = n->children; c != nullptr; c = c->next) collect_links(c, out);
      else out.push_back(node_value(n));
    }
  }
  return out;
}

}  // namespace detail

}  // namespace scraper
