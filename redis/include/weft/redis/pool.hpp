// weft::redis::pool: a few clients (one connection each) to one server,
// handed out round-robin, for programs that want more than one connection:
// to spread replies over several reader tasks and server-side buffers, or
// to keep a blocking command (BLPOP) from holding every other command's
// replies behind it.
//
//   redis::pool p = co_await redis::pool::connect("redis://127.0.0.1:6379", 4);
//   co_await p.command("INCR", "hits");             // on the next client in turn
//   redis::client& c = p.next();                    // or pick one and keep it
//
// One client already pipelines the commands of every task that shares it
// (see client.hpp): a pool is not needed for concurrency, only for more
// connections. Each client reconnects on its own. Deadlines, errors and
// cancellation are those of client.hpp; connect() fails as
// client::connect does (the clients connected so far are closed).
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weft/redis/client.hpp"

namespace weft::redis {

class pool {
 public:
  /// `size` clients to the server of url, connected one after the other;
  /// std::invalid_argument for size 0.
  template <class Url>
  requires std::convertible_to<const Url&, std::string_view>
  static task<pool> connect(const Url& url, std::size_t size) {
    return connect_url(std::string(std::string_view(url)), size);
  }
  static task<pool> connect(const client_options& o, std::size_t size);
  /// Refused: the options as a temporary (see GCC 12 in client.hpp).
  template <class Unused = void>
  static auto connect(client_options&& o, std::size_t size) {
    static_assert(weft::detail::always_false<Unused>,
                  "weft::redis::pool::connect: pass client_options as a named variable, not a temporary "
                  "or std::move(o) (GCC 12 frees a braced temporary inside co_await twice). Write: "
                  "redis::client_options o{.port = 6380}; co_await redis::pool::connect(o, 4);");
    return connect(static_cast<const client_options&>(o), size);
  }

  /// The next client in turn (thread-safe). The pool must outlive its use.
  client& next() noexcept;
  std::size_t size() const noexcept { return st_->clients.size(); }
  /// Client i (0 <= i < size()).
  client& at(std::size_t i) { return st_->clients.at(i); }

  /// command() and execute() on the next client.
  template <command_argument... A>
  task<reply> command(std::string_view name, const A&... args) {
    return next().command(name, args...);
  }
  template <command_argument... A>
  task<reply> command(io::deadline d, std::string_view name, const A&... args) {
    return next().command(d, name, args...);
  }
  task<std::vector<reply>> execute(const pipeline& p) { return next().execute(p); }

 private:
  struct state {
    std::vector<client> clients;
    std::atomic<std::size_t> turn{0};
  };
  explicit pool(std::unique_ptr<state> st) noexcept : st_(std::move(st)) {}
  static task<pool> connect_url(std::string url, std::size_t size);
  static task<pool> connect_copy(client_options o, std::size_t size);

  std::unique_ptr<state> st_;
};

}  // namespace weft::redis
