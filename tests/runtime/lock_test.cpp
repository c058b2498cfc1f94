// weft/runtime/sync/lock.hpp: unique_lock and shared_lock, the guards that
// co_await m.lock() and co_await m.lock_shared() return: ownership, adopt,
// moves, unlock() and release(), what try_lock() gives, and each guard
// calling the right unlock of weft::mutex and weft::shared_mutex.
#include <catch2/catch.hpp>

#include <mutex>
#include <type_traits>
#include <utility>

#include "weft/weft.hpp"

using weft::task;

namespace {

// Counts the calls the guards make.
struct counting_mutex {
  int unlocks = 0;
  int shared_unlocks = 0;
  void unlock() noexcept { ++unlocks; }
  void unlock_shared() noexcept { ++shared_unlocks; }
};

using unique_guard = weft::unique_lock<counting_mutex>;
using shared_guard = weft::shared_lock<counting_mutex>;

static_assert(!std::is_copy_constructible_v<unique_guard>);
static_assert(!std::is_copy_assignable_v<unique_guard>);
static_assert(std::is_nothrow_move_constructible_v<unique_guard>);
static_assert(std::is_nothrow_move_assignable_v<unique_guard>);
static_assert(!std::is_copy_constructible_v<shared_guard>);
static_assert(std::is_nothrow_move_constructible_v<shared_guard>);
static_assert(std::is_same_v<unique_guard::mutex_type, counting_mutex>);
// Only explicitly convertible to bool: `if (auto g = m.try_lock())`.
static_assert(!std::is_convertible_v<unique_guard, bool>);
static_assert(std::is_constructible_v<bool, unique_guard>);
// What the primitives hand out.
static_assert(std::is_same_v<decltype(std::declval<weft::mutex&>().try_lock()), weft::unique_lock<weft::mutex>>);
static_assert(
    std::is_same_v<decltype(std::declval<weft::shared_mutex&>().try_lock()), weft::unique_lock<weft::shared_mutex>>);
static_assert(std::is_same_v<decltype(std::declval<weft::shared_mutex&>().try_lock_shared()),
                             weft::shared_lock<weft::shared_mutex>>);

}  // namespace

TEST_CASE("lock: a default guard owns nothing and unlocks nothing", "[sync][lock]") {
  unique_guard g;
  CHECK_FALSE(g.owns_lock());
  CHECK_FALSE(g);
  CHECK(g.mutex() == nullptr);
  g.unlock();  // no effect
  CHECK(g.release() == nullptr);
  shared_guard s;
  CHECK_FALSE(s.owns_lock());
  CHECK(s.mutex() == nullptr);
}

TEST_CASE("lock: an adopted lock is unlocked once, when the guard goes or by unlock()", "[sync][lock]") {
  counting_mutex m;
  {
    unique_guard g(m, std::adopt_lock);
    CHECK(g.owns_lock());
    CHECK(static_cast<bool>(g));
    CHECK(g.mutex() == &m);
    CHECK(m.unlocks == 0);
  }
  CHECK(m.unlocks == 1);
  {
    unique_guard g(m, std::adopt_lock);
    g.unlock();
    CHECK(m.unlocks == 2);
    CHECK_FALSE(g.owns_lock());
    CHECK(g.mutex() == nullptr);
    g.unlock();  // owns nothing now
    CHECK(m.unlocks == 2);
  }
  CHECK(m.unlocks == 2);  // not again at the end of the scope
  CHECK(m.shared_unlocks == 0);
}

TEST_CASE("lock: shared_lock calls unlock_shared, unique_lock calls unlock", "[sync][lock]") {
  counting_mutex m;
  { shared_guard s(m, std::adopt_lock); }
  CHECK(m.shared_unlocks == 1);
  CHECK(m.unlocks == 0);
  {
    shared_guard s(m, std::adopt_lock);
    s.unlock();
  }
  CHECK(m.shared_unlocks == 2);
  { unique_guard g(m, std::adopt_lock); }
  CHECK(m.unlocks == 1);
  CHECK(m.shared_unlocks == 2);
}

TEST_CASE("lock: release() gives up ownership without unlocking", "[sync][lock]") {
  counting_mutex m;
  {
    unique_guard g(m, std::adopt_lock);
    counting_mutex* released = g.release();
    CHECK(released == &m);
    CHECK_FALSE(g.owns_lock());
  }
  CHECK(m.unlocks == 0);
  {
    shared_guard s(m, std::adopt_lock);
    CHECK(s.release() == &m);
  }
  CHECK(m.shared_unlocks == 0);
}

TEST_CASE("lock: moves transfer ownership, move-assignment unlocks what the target held", "[sync][lock]") {
  counting_mutex a, b;
  {
    unique_guard g1(a, std::adopt_lock);
    unique_guard g2(std::move(g1));
    CHECK_FALSE(g1.owns_lock());
    CHECK(g1.mutex() == nullptr);
    CHECK(g2.mutex() == &a);
    CHECK(a.unlocks == 0);

    unique_guard g3(b, std::adopt_lock);
    g3 = std::move(g2);  // g3 held b: b is unlocked now, a moves over
    CHECK(b.unlocks == 1);
    CHECK(a.unlocks == 0);
    CHECK(g3.mutex() == &a);
    CHECK_FALSE(g2.owns_lock());

    auto& self = g3;
    g3 = std::move(self);  // self-move: keeps the lock
    CHECK(g3.mutex() == &a);
    CHECK(a.unlocks == 0);

    unique_guard empty;
    g3 = std::move(empty);  // unlocks a, owns nothing
    CHECK(a.unlocks == 1);
    CHECK_FALSE(g3.owns_lock());
  }
  CHECK(a.unlocks == 1);  // nothing unlocked twice by the moved-from guards
  CHECK(b.unlocks == 1);

  {
    shared_guard s1(a, std::adopt_lock);
    shared_guard s2(b, std::adopt_lock);
    s2 = std::move(s1);
    CHECK(b.shared_unlocks == 1);
    CHECK(a.shared_unlocks == 0);
  }
  CHECK(a.shared_unlocks == 1);
  CHECK(b.shared_unlocks == 1);
}

TEST_CASE("lock: the guards of weft::mutex and weft::shared_mutex release the real locks", "[sync][lock]") {
  weft::runtime rt{{.workers = 1}};
  rt.block_on([]() -> task<void> {
    weft::mutex m;
    {
      weft::unique_lock<weft::mutex> g = co_await m.lock();
      CHECK(g.owns_lock());
      CHECK(g.mutex() == &m);
      auto busy = m.try_lock();
      CHECK_FALSE(busy);  // a failed try_lock gives a guard owning nothing
      CHECK(busy.mutex() == nullptr);
      auto moved = std::move(g);
      CHECK_FALSE(m.try_lock());  // still held, by `moved`
    }
    auto again = m.try_lock();  // released when `moved` went
    CHECK(again);
    // release(): the caller unlocks by hand.
    weft::mutex* raw = again.release();
    CHECK(raw == &m);
    CHECK_FALSE(m.try_lock());
    raw->unlock();
    CHECK(m.try_lock());

    weft::shared_mutex sm;
    {
      weft::shared_lock<weft::shared_mutex> r1 = co_await sm.lock_shared();
      auto r2 = sm.try_lock_shared();
      CHECK(r1.owns_lock());
      CHECK(r2.owns_lock());
      CHECK_FALSE(sm.try_lock());
      r1.unlock();
      CHECK_FALSE(sm.try_lock());  // r2 still reads
    }
    {
      weft::unique_lock<weft::shared_mutex> w = co_await sm.lock();
      CHECK(w.mutex() == &sm);
      CHECK_FALSE(sm.try_lock_shared());
    }
    auto w = sm.try_lock();  // both kinds released by their guards
    CHECK(w);
  }());
}
