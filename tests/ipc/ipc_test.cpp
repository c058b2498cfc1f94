// The umbrella header weft/ipc.hpp on its own: it compiles without any
// other weft header, and a few names from the headers it gathers work
// (the shared objects, the serializer, the pool's options). Each header's
// own tests are in <header>_test.cpp.
#include <catch2/catch.hpp>

#include "weft/ipc.hpp"

#include <string>
#include <vector>

namespace ipc = weft::ipc;

TEST_CASE("weft/ipc.hpp: shared objects, the serializer and the pool's names", "[ipc][umbrella]") {
  ipc::shared_value<long> v{1};
  CHECK(v.fetch_add(2) == 1);
  CHECK(v.load() == 3);

  ipc::shared_array<int> a(3, 5);
  CHECK(a.size() == 3);
  CHECK(a[2] == 5);

  ipc::mutex m;
  {
    auto g = m.try_lock();
    CHECK(g.owns_lock());
    CHECK_FALSE(m.try_lock().owns_lock());
  }
  CHECK(m.try_lock().owns_lock());

  ipc::semaphore s{1};
  CHECK(s.try_acquire());
  CHECK(s.value() == 0);

  ipc::event e;
  CHECK_FALSE(e.is_set());
  e.set();
  CHECK(e.is_set());

  ipc::process_queue<int> q{4};
  CHECK(q.try_push(7));
  auto popped = q.try_pop();
  REQUIRE(popped.has_value());
  CHECK(*popped == 7);

  const std::vector<std::string> words{"shared", "memory"};
  std::vector<std::byte> bytes(ipc::encoded_size(words));
  ipc::byte_writer w(bytes.data(), bytes.size());
  ipc::encode(w, words);
  ipc::byte_reader r(bytes.data(), bytes.size());
  CHECK(ipc::decode<std::vector<std::string>>(r) == words);

  ipc::process_pool_options o;
  o.workers = 3;
  CHECK(o.workers == 3);
  CHECK(o.task_timeout.count() == 0);
}
