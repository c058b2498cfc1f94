#include "weft/redis/script.hpp"

#include <openssl/sha.h>

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

namespace weft::redis {

namespace {

std::string sha1_hex(const std::string& s) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

template <class Keys, class Args>
std::pair<command, command> encode(const std::string& sha1, const std::string& source, const Keys& keys,
                                   const Args& args) {
  std::pair<command, command> out{command("EVALSHA", sha1), command("EVAL", source)};
  for (command* c : {&out.first, &out.second}) {
    c->arg(keys.size());
    for (std::string_view k : keys) c->arg(k);
    for (std::string_view a : args) c->arg(a);
  }
  return out;
}

task<void> discard(task<reply> t) { (void)co_await std::move(t); }

}  // namespace

script::script(std::string source) {
  std::string sha1 = sha1_hex(source);
  st_ = std::make_shared<const state>(state{std::move(source), std::move(sha1)});
}

void script::check_keys(std::size_t num_keys, std::size_t values) {
  if (num_keys > values)
    throw std::invalid_argument(
        fmt::format("weft::redis::script::run: {} keys announced, {} values given", num_keys, values));
}

task<reply> script::run(client& c, std::span<const std::string> keys, std::span<const std::string> args) const {
  auto [evalsha, eval] = encode(st_->sha1, st_->source, keys, args);
  return run_encoded(c, std::move(evalsha), std::move(eval));
}

task<reply> script::run_encoded(client& c, command evalsha, command eval) {
  try {
    co_return co_await c.execute(evalsha);
  } catch (const error& e) {
    if (e.code() != "NOSCRIPT") throw;
  }
  // The server does not have it (never loaded, restarted, SCRIPT FLUSH):
  // EVAL runs it and caches it for the next EVALSHA.
  co_return co_await c.execute(eval);
}

task<void> script::load(client& c) const { return discard(c.command("SCRIPT", "LOAD", st_->source)); }

}  // namespace weft::redis
