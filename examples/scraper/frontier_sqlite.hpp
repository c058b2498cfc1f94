// scraper::sqlite_frontier_store: the frontier in a SQLite file, for
// crawls that survive a stop, a crash or a kill -9 (`scraper --state
// crawl.db`).
//
//   auto store = scraper::sqlite_frontier_store::open("crawl.db", scraper::crawl_fingerprint(options));
//   options.state = store;  // the crawler loads it, then commits to it in batches
//
// The file holds every URL the crawl found (with its depth, in the order
// found, and whether it is done), the robots.txt responses, the number of
// records written and the output's size with exactly those records. A
// commit is one transaction (WAL mode, synchronous=NORMAL: a process
// killed at any point loses whole batches only; a power cut may lose the
// last ones too, never corrupt the file).
//
// Threads: open() blocks (call it before the runtime, or on the blocking
// pool); load() and commit() run every SQLite call on the runtime's
// blocking pool (weft::spawn_blocking), never on a worker thread, one
// call at a time on the one connection.
//
// A database made for another crawl (other seeds or options that change
// what is crawled: see crawl_fingerprint) is refused by open() with
// state_mismatch, which names what differs.
//
// Cancellation: as frontier_store says: a load or commit cancelled before
// the pool started it never runs; one running finishes its transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "frontier.hpp"

struct sqlite3;

namespace scraper {

/// open() on a database made for another crawl.
class state_mismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class sqlite_frontier_store final : public frontier_store, public std::enable_shared_from_this<sqlite_frontier_store> {
 public:
  /// Opens path, creating it (and its tables) if new. fingerprint is the
  /// crawl's identity (crawl_fingerprint); a database made with another
  /// throws state_mismatch. Other failures (not a database, no
  /// permission) throw std::runtime_error naming the file.
  static std::shared_ptr<sqlite_frontier_store> open(const std::string& path, const std::string& fingerprint);
  ~sqlite_frontier_store() override;
  sqlite_frontier_store(const sqlite_frontier_store&) = delete;
  sqlite_frontier_store& operator=(const sqlite_frontier_store&) = delete;

  /// As of open(): whether the database was new, and what it says was
  /// written (the output is truncated back to output_offset() on resume).
  bool fresh() const noexcept { return fresh_; }
  std::uint64_t records() const noexcept { return records_; }
  std::uint64_t output_offset() const noexcept { return offset_; }

  weft::task<frontier_snapshot> load() override;
  weft::task<void> commit(frontier_batch b) override;

  /// The blocking halves of load() and commit() (for the blocking pool).
  frontier_snapshot load_now();
  void commit_now(const frontier_batch& b);

 private:
  explicit sqlite_frontier_store(std::string path) : path_(std::move(path)) {}
  void exec(const char* sql);
  [[noreturn]] void fail(const char* what);

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mu_;  // one call at a time on the connection
  bool fresh_ = false;
  std::uint64_t records_ = 0, offset_ = 0;
};

}  // namespace scraper
