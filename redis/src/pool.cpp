#include "weft/redis/pool.hpp"

#include <stdexcept>
#include <utility>

namespace weft::redis {

task<pool> pool::connect_url(std::string url, std::size_t size) {
  // A coroutine, so that a bad URL throws where the task is awaited.
  co_return co_await connect_copy(parse_url(url), size);
}

task<pool> pool::connect(const client_options& o, std::size_t size) { return connect_copy(o, size); }

task<pool> pool::connect_copy(client_options o, std::size_t size) {
  if (size == 0) throw std::invalid_argument("weft::redis::pool::connect: a pool of 0 clients");
  auto st = std::make_unique<state>();
  st->clients.reserve(size);
  for (std::size_t i = 0; i < size; ++i) st->clients.push_back(co_await client::connect(o));
  co_return pool(std::move(st));
}

client& pool::next() noexcept {
  const std::size_t i = st_->turn.fetch_add(1, std::memory_order_relaxed);
  return st_->clients[i % st_->clients.size()];
}

}  // namespace weft::redis
