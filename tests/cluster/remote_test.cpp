// WEFT_REMOTE: what a registered function accepts and gives back across
// ranks, and what an unregistered one gets.
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "support.hpp"
#include "weft/cluster/pool.hpp"
#include "weft/cluster/remote.hpp"

using cluster_test::rt_options;

namespace remote_test_fns {

std::string greet(const std::string& name, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hello " + name + ";";
  return out;
}
std::map<std::string, std::vector<int>> group(std::vector<int> xs) {
  std::map<std::string, std::vector<int>> out;
  for (int x : xs) out[x % 2 ? "odd" : "even"].push_back(x);
  return out;
}
void nothing(int) {}
long widen(long x) { return x * 3; }
int not_registered(int x) { return x; }

}  // namespace remote_test_fns

WEFT_REMOTE(remote_test_fns::greet);
WEFT_REMOTE(remote_test_fns::group);
WEFT_REMOTE(remote_test_fns::nothing);
WEFT_REMOTE(remote_test_fns::widen);

using namespace remote_test_fns;

TEST_CASE("remote: arguments travel as the parameter types, results as the return type", "[cluster][remote]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::string g = co_await pool.call(greet, "ann", 2);  // a literal becomes the std::string parameter
    CHECK(g == "hello ann;hello ann;");
    std::vector<int> xs{1, 2, 3, 4, 5};
    auto m = co_await pool.call(group, xs);
    CHECK(m["odd"] == std::vector<int>{1, 3, 5});
    CHECK(m["even"] == std::vector<int>{2, 4});
    long w = co_await pool.call(widen, 7);  // int converted to long here
    CHECK(w == 21);
    co_await pool.call(nothing, 1);
    std::vector<int> items{1, 2, 3};
    auto units = co_await pool.map(nothing, items);
    CHECK(units.size() == 3);
    co_await pool.shutdown();
  }());
}

TEST_CASE("remote: an unregistered function fails its call with pool_error naming WEFT_REMOTE", "[cluster][remote]") {
  weft::runtime rt{rt_options()};
  rt.block_on([]() -> weft::task<void> {
    weft::cluster::pool pool{{.workers_per_rank = 1}};
    std::string what;
    try {
      co_await pool.call(not_registered, 1);
    } catch (const weft::ipc::pool_error& e) {
      what = e.what();
    }
    CHECK(what.find("WEFT_REMOTE") != std::string::npos);
    std::vector<int> items{1, 2};
    what.clear();
    try {
      co_await pool.map(not_registered, items);
    } catch (const weft::ipc::pool_error& e) {
      what = e.what();
    }
    CHECK(what.find("WEFT_REMOTE") != std::string::npos);
    long fine = co_await pool.call(widen, 1);  // the pool is still fine
    CHECK(fine == 3);
    co_await pool.shutdown();
  }());
}

TEST_CASE("remote: the raw invokers decode, call and encode", "[cluster][remote]") {
  auto args = weft::cluster::detail::encode_arguments<const std::string&, int>(std::string("bo"), 1);
  auto out = weft::cluster::detail::raw_call<std::string, const std::string&, int>(
      reinterpret_cast<std::uintptr_t>(&greet), args);
  weft::ipc::byte_reader in(out.data(), out.size());
  CHECK(weft::ipc::decode<std::string>(in) == "hello bo;");
  auto truncated = args;
  truncated.resize(3);
  CHECK_THROWS_AS((weft::cluster::detail::raw_call<std::string, const std::string&, int>(
                      reinterpret_cast<std::uintptr_t>(&greet), truncated)),
                  weft::ipc::serialization_error);
}
