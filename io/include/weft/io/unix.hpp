// Unix-domain stream sockets: weft::io::unix_listener and unix_stream.
//
//   auto l = weft::io::unix_listener::bind("/tmp/app.sock");
//   auto s = co_await weft::io::unix_stream::connect("/tmp/app.sock");
//   auto [a, b] = weft::io::unix_stream::pair();   // socketpair(2)
#pragma once

#include <string_view>
#include <utility>

#include "weft/io/socket.hpp"
#include "weft/io/tcp.hpp"

namespace weft::io {

class unix_stream : public stream_socket {
 public:
  unix_stream() noexcept = default;
  explicit unix_stream(int fd) noexcept : stream_socket(fd) {}

  static task<unix_stream> connect(std::string_view path, deadline d = {});
  /// Two connected streams (socketpair), e.g. to talk to a child process.
  static std::pair<unix_stream, unix_stream> pair();
};

class unix_listener : public socket {
 public:
  unix_listener() noexcept = default;
  explicit unix_listener(int fd) noexcept : socket(fd) {}

  /// Binds and listens at `path` ('@name': abstract). With
  /// `remove_existing`, a stale socket file at `path` is unlinked first.
  static unix_listener bind(std::string_view path, const listen_options& opts = {}, bool remove_existing = false);

  task<unix_stream> accept(deadline d = {});
};

}  // namespace weft::io
