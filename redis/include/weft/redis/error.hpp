// The errors of weft::redis:
//
//   redis::error             the server answered a command with an error
//                            reply (-ERR ..., -WRONGTYPE ..., -NOSCRIPT ...):
//                            that command failed, the connection is fine.
//   redis::connection_error  the connection failed or was closed under the
//                            command (refused, reset, closed by the server,
//                            a malformed or oversized reply): what() names
//                            the server and what happened. The client
//                            reconnects on the next command.
//
//   try {
//     co_await c.command("INCR", "a-string-key");
//   } catch (const redis::error& e) {
//     // e.code() == "WRONGTYPE"? no: "ERR"; e.message(): "ERR value is not an integer ..."
//   }
//
// A deadline that passes is weft::timeout_error, a cancelled wait
// weft::operation_cancelled (see client.hpp). These types do no I/O
// themselves, so cancellation does not apply to them.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace weft::redis {

class error : public std::runtime_error {
 public:
  /// what(): "redis GET: WRONGTYPE Operation against a key ...".
  error(std::string command, std::string message);

  /// The command that failed ("GET"; "EVALSHA" for a script).
  const std::string& command() const noexcept { return command_; }
  /// The server's message, whole ("WRONGTYPE Operation against a key ...").
  const std::string& message() const noexcept { return message_; }
  /// Its first word, the error's code by Redis' convention ("ERR",
  /// "WRONGTYPE", "NOSCRIPT", "WRONGPASS").
  std::string_view code() const noexcept;

 private:
  std::string command_;
  std::string message_;
};

class connection_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace weft::redis
