#include "weft/redis/command.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <stdexcept>

#include "weft/redis/pipeline.hpp"

namespace weft::redis {

void command::set_name(std::string_view name) {
  if (name.empty()) throw std::invalid_argument("weft::redis::command: the command name is empty");
  name_.assign(name);
  arg(name);
}

command& command::arg(std::string_view s) {
  char head[32];
  auto [end, ec] = std::to_chars(head, head + sizeof head, s.size());
  body_ += '$';
  body_.append(head, end);
  body_ += "\r\n";
  body_ += s;
  body_ += "\r\n";
  ++argc_;
  return *this;
}

command& command::arg(long long v) {
  char digits[32];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  return arg(std::string_view(digits, end - digits));
}

command& command::arg(unsigned long long v) {
  char digits[32];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  return arg(std::string_view(digits, end - digits));
}

command& command::arg(double v) {
  // Redis parses "inf", "-inf" and decimal (strtold); NaN means nothing to it.
  if (std::isnan(v)) throw std::invalid_argument("weft::redis::command: NaN as an argument of " + name_);
  if (std::isinf(v)) return arg(std::string_view(v > 0 ? "inf" : "-inf"));
  char digits[64];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);  // shortest round-trip form
  return arg(std::string_view(digits, end - digits));
}

void command::encode_to(std::string& out) const {
  out += fmt::format("*{}\r\n", argc_);
  out += body_;
}

std::string command::encoded() const {
  std::string out;
  out.reserve(body_.size() + 16);
  encode_to(out);
  return out;
}

pipeline& pipeline::add(const command& c) {
  c.encode_to(encoded_);
  names_.push_back(c.name());
  return *this;
}

void pipeline::clear() noexcept {
  names_.clear();
  encoded_.clear();
}

}  // namespace weft::redis
