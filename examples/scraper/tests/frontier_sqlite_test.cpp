// sqlite_frontier_store: the behaviour every store shares
// (frontier_store_checks.hpp), each step on a connection opened again as a
// new process would, plus what only a file has: a file made for another
// crawl is refused, a file that is not a database is an error.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "frontier_sqlite.hpp"
#include "frontier_store_checks.hpp"

namespace {

/// A fresh path in the temporary directory, removed (with SQLite's -wal
/// and -shm files) at the end.
struct temp_db {
  std::string path;
  temp_db() {
    char tmpl[] = "/tmp/weft-frontier-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    std::remove(path.c_str());
  }
  ~temp_db() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  }
};

}  // namespace

TEST_CASE("frontier_sqlite: batches are kept across connections as every store keeps them",
          "[scraper][frontier_sqlite]") {
  temp_db db;
  const std::string fp = "version=1\nseed=http://h:1/\n";
  {
    auto s = scraper::sqlite_frontier_store::open(db.path, fp);
    CHECK(s->fresh());
  }
  frontier_checks::reopen_fn reopen = [&] { return scraper::sqlite_frontier_store::open(db.path, fp); };
  frontier_checks::on_runtime([&]() -> weft::task<void> { co_await frontier_checks::check_commits(reopen); });
  auto again = scraper::sqlite_frontier_store::open(db.path, fp);
  CHECK_FALSE(again->fresh());
  CHECK(again->records() == 2);
  CHECK(again->output_offset() == 260);
}

TEST_CASE("frontier_sqlite: a crawl stopped and resumed from the file records each URL once",
          "[scraper][frontier_sqlite]") {
  temp_db db;
  // The fingerprint is the caller's (scraper --state passes
  // crawl_fingerprint); one fixed string serves the runs of this test.
  frontier_checks::reopen_fn reopen = [&] {
    return scraper::sqlite_frontier_store::open(db.path, "version=1\nseed=demo\n");
  };
  frontier_checks::on_runtime([&]() -> weft::task<void> { co_await frontier_checks::check_resumed_crawl(reopen); });
}

TEST_CASE("frontier_sqlite: a file made for another crawl is refused, naming what differs",
          "[scraper][frontier_sqlite]") {
  temp_db db;
  scraper::crawl_options o;
  o.seeds = {"http://127.0.0.1:8080/"};
  (void)scraper::sqlite_frontier_store::open(db.path, scraper::crawl_fingerprint(o));
  auto deeper = o;
  deeper.max_depth = 3;
  try {
    (void)scraper::sqlite_frontier_store::open(db.path, scraper::crawl_fingerprint(deeper));
    FAIL("no state_mismatch");
  } catch (const scraper::state_mismatch& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("max_depth: -1 in the database, 3 now") != std::string::npos);
    CHECK(what.find(db.path) != std::string::npos);
  }
  auto other = o;
  other.seeds = {"http://127.0.0.1:9090/"};
  CHECK_THROWS_AS(scraper::sqlite_frontier_store::open(db.path, scraper::crawl_fingerprint(other)),
                  scraper::state_mismatch);
  auto faster = o;
  faster.concurrency = 2;  // not part of what is crawled
  CHECK_NOTHROW(scraper::sqlite_frontier_store::open(db.path, scraper::crawl_fingerprint(faster)));
}

TEST_CASE("frontier_sqlite: a file that is not a database is an error naming it", "[scraper][frontier_sqlite]") {
  temp_db db;
  {
    std::ofstream f(db.path);
    f << "these are not the pages you are looking for\n";
  }
  try {
    (void)scraper::sqlite_frontier_store::open(db.path, "x");
    FAIL("no error");
  } catch (const scraper::state_mismatch&) {
    FAIL("a state_mismatch for a file that is not a database");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find(db.path) != std::string::npos);
    CHECK(what.find("not a database") != std::string::npos);
  }
}
