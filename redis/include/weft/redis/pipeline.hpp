// weft::redis::pipeline: a batch of commands sent in one write and
// answered in order, with one reply each.
//
//   redis::pipeline p;
//   for (const std::string& k : keys) p.add("INCR", k);
//   std::vector<redis::reply> r = co_await c.execute(p);   // r.size() == p.size()
//
// An error reply of one command is that command's reply (reply::is_error),
// not an exception: the other commands' replies are kept. A pipeline is not
// a transaction: other clients' commands may run between its commands (put
// MULTI ... EXEC in it, or use a Lua script, for atomicity). It is a plain
// value; what happens to it on cancellation and deadlines is in
// client.hpp (client::execute).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "weft/redis/command.hpp"

namespace weft::redis {

class pipeline {
 public:
  /// Adds one command (as command's constructor).
  template <command_argument... A>
  pipeline& add(std::string_view name, const A&... args) {
    return add(command(name, args...));
  }
  pipeline& add(const command& c);

  std::size_t size() const noexcept { return names_.size(); }
  bool empty() const noexcept { return names_.empty(); }
  void clear() noexcept;

  /// The commands' names, in order (for messages).
  const std::vector<std::string>& names() const noexcept { return names_; }
  /// Every command's RESP encoding, one after the other.
  const std::string& encoded() const noexcept { return encoded_; }

 private:
  std::vector<std::string> names_;
  std::string encoded_;
};

}  // namespace weft::redis
