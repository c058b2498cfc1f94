// weft::redis::script: a Lua script run by its SHA1 (EVALSHA), loaded on
// demand: when the server answers NOSCRIPT (it never saw the script, or
// was restarted, or SCRIPT FLUSH ran) the script is sent whole with EVAL,
// which also caches it there, and later runs use EVALSHA again.
//
//   static const redis::script take{"local v = redis.call('LPOP', KEYS[1]) "
//                                   "if v then redis.call('INCR', KEYS[2]) end return v"};
//   redis::reply r = co_await take.run(c, 2, "q", "taken");   // 2 keys, then the arguments
//
// A script runs atomically on the server: the way to make a multi-step
// operation one step. Its reply is a redis::reply (Lua tables become
// arrays, nested as deep as the script nests them); an error raised by
// the script throws redis::error (command "EVALSHA" or "EVAL").
//
// Keys and arguments as EVAL takes them: the number of keys, then the
// keys, then the arguments (strings, string_views, integers: as
// client::command takes them), or two spans of std::string. They are
// encoded before run() returns, so they only need to live until then
// (there is no braced-list form: GCC 12 cannot compile one inside
// co_await). The client must outlive the task. Cancellation and
// deadlines are those of client::execute: each of the (at most two)
// commands has the client's command_timeout.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "weft/redis/client.hpp"
#include "weft/redis/reply.hpp"
#include "weft/runtime/task.hpp"

namespace weft::redis {

class script {
 public:
  explicit script(std::string source);

  const std::string& source() const noexcept { return st_->source; }
  /// The SHA1 of the source, 40 lowercase hex digits (as SCRIPT LOAD returns it).
  const std::string& sha1() const noexcept { return st_->sha1; }

  /// num_keys keys, then the arguments; std::invalid_argument if there
  /// are fewer than num_keys values.
  template <command_argument... A>
  task<reply> run(client& c, std::size_t num_keys, const A&... keys_then_args) const {
    check_keys(num_keys, sizeof...(A));
    return run_encoded(c, redis::command("EVALSHA", sha1(), num_keys, keys_then_args...),
                       redis::command("EVAL", source(), num_keys, keys_then_args...));
  }
  task<reply> run(client& c, std::span<const std::string> keys, std::span<const std::string> args) const;

  /// SCRIPT LOAD: caches the script on the server now (before a pipeline
  /// that runs it with EVALSHA, say).
  task<void> load(client& c) const;

 private:
  struct state {
    std::string source;
    std::string sha1;
  };
  static void check_keys(std::size_t num_keys, std::size_t values);
  static task<reply> run_encoded(client& c, redis::command evalsha, redis::command eval);

  std::shared_ptr<const state> st_;
};

}  // namespace weft::redis
