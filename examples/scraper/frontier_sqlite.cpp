// The frontier in SQLite: three tables and one transaction per batch.
#include "frontier_sqlite.hpp"

#include <sqlite3.h>

#include <string_view>
#include <utility>
#include <vector>

#include "weft/runtime/blocking.hpp"

namespace scraper {

namespace {

/// A prepared statement, finalized on every path.
class statement {
 public:
  statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
  }
  ~statement() { sqlite3_finalize(s_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  explicit operator bool() const noexcept { return s_ != nullptr; }
  sqlite3_stmt* get() const noexcept { return s_; }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string column_text(int i) const {
    const void* p = sqlite3_column_blob(s_, i);
    const int n = sqlite3_column_bytes(s_, i);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
  }
  std::int64_t column_int(int i) const { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
};

/// The first line of fingerprint a that differs from b's, as "key: a vs b".
std::string first_difference(std::string_view a, std::string_view b) {
  auto next_line = [](std::string_view& s) {
    auto n = s.find('\n');
    std::string_view line = s.substr(0, n);
    s.remove_prefix(n == std::string_view::npos ? s.size() : n + 1);
    return line;
  };
  while (!a.empty() || !b.empty()) {
    std::string_view la = next_line(a), lb = next_line(b);
    if (la == lb) continue;
    auto key = la.substr(0, la.find('='));
    if (key.empty()) key = lb.substr(0, lb.find('='));
    auto value = [](std::string_view l) {
      return l.empty() ? std::string("(none)") : std::string(l.substr(l.find('=') + 1));
    };
    return std::string(key) + ": " + value(lb) + " in the database, " + value(la) + " now";
  }
  return "the format";
}

}  // namespace

std::shared_ptr<sqlite_frontier_store> sqlite_frontier_store::open(const std::string& path,
                                                                   const std::string& fingerprint) {
  std::shared_ptr<sqlite_frontier_store> s(new sqlite_frontier_store(path));
  if (sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK)
    s->fail("cannot open");
  sqlite3_busy_timeout(s->db_, 5000);
  // WAL: a commit appends to the log, readers never block it, and a
  // killed writer leaves the last whole transaction. NORMAL: no fsync per
  // commit (a process crash loses nothing committed; a power cut may lose
  // the last batches, which are then fetched again).
  s->exec("PRAGMA journal_mode=WAL");
  s->exec("PRAGMA synchronous=NORMAL");
  s->exec(
      "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS urls (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE,"
      " depth INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);"
      "CREATE TABLE IF NOT EXISTS robots (origin TEXT PRIMARY KEY, status INTEGER NOT NULL, body BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS sitemaps_read (origin TEXT PRIMARY KEY);");
  std::string stored;
  bool has_fingerprint = false;
  {
    statement q(s->db_, "SELECT key, value FROM meta");
    if (!q) s->fail("cannot read");
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      const std::string key = q.column_text(0), value = q.column_text(1);
      if (key == "fingerprint") {
        stored = value;
        has_fingerprint = true;
      } else if (key == "records") {
        s->records_ = std::stoull(value);
      } else if (key == "output_offset") {
        s->offset_ = std::stoull(value);
      }
    }
    if (rc != SQLITE_DONE) s->fail("cannot read");
  }
  if (!has_fingerprint) {
    statement ins(s->db_,
                  "INSERT INTO meta(key, value) VALUES ('fingerprint', ?1), ('records', '0'), ('output_offset', '0')");
    if (!ins) s->fail("cannot write");
    ins.text(1, fingerprint);
    if (ins.step() != SQLITE_DONE) s->fail("cannot write");
    s->fresh_ = true;
  } else if (stored != fingerprint) {
    throw state_mismatch("'" + path + "' holds another crawl (" + first_difference(fingerprint, stored) +
                         "): give the same seeds and options to resume it, or another --state file");
  }
  return s;
}

sqlite_frontier_store::~sqlite_frontier_store() { sqlite3_close_v2(db_); }

void sqlite_frontier_store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw std::runtime_error("state '" + path_ + "': " + msg);
  }
}

void sqlite_frontier_store::fail(const char* what) {
  throw std::runtime_error("state '" + path_ + "': " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
}

frontier_snapshot sqlite_frontier_store::load_now() {
  std::lock_guard g(mu_);
  frontier_snapshot snap;
  {
    statement q(db_, "SELECT url, depth, done FROM urls ORDER BY id");
    if (!q) fail("cannot read");
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      if (q.column_int(2)) snap.done.push_back(q.column_text(0));
      else snap.pending.push_back(frontier_item{q.column_text(0), static_cast<std::size_t>(q.column_int(1))});
    }
    if (rc != SQLITE_DONE) fail("cannot read");
  }
  {
    statement q(db_, "SELECT origin, status, body FROM robots");
    if (!q) fail("cannot read");
    int rc;
    while ((rc = q.step()) == SQLITE_ROW)
      snap.robots.push_back(robots_entry{q.column_text(0), static_cast<int>(q.column_int(1)), q.column_text(2)});
    if (rc != SQLITE_DONE) fail("cannot read");
  }
  {
    statement q(db_, "SELECT origin FROM sitemaps_read");
    if (!q) fail("cannot read");
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) snap.sitemaps_read.push_back(q.column_text(0));
    if (rc != SQLITE_DONE) fail("cannot read");
  }
  {
    statement q(db_, "SELECT key, value FROM meta WHERE key IN ('records', 'output_offset')");
    if (!q) fail("cannot read");
    while (q.step() == SQLITE_ROW) {
      if (q.column_text(0) == "records") snap.records = std::stoull(q.column_text(1));
      else snap.output_offset = std::stoull(q.column_text(1));
    }
  }
  return snap;
}

void sqlite_frontier_store::commit_now(const frontier_batch& b) {
  std::lock_guard g(mu_);
  exec("BEGIN IMMEDIATE");
  try {
    statement found(db_, "INSERT OR IGNORE INTO urls(url, depth) VALUES (?1, ?2)");
    statement done(db_, "INSERT INTO urls(url, depth, done) VALUES (?1, 0, 1) ON CONFLICT(url) DO UPDATE SET done = 1");
    statement robots(db_, "INSERT OR REPLACE INTO robots(origin, status, body) VALUES (?1, ?2, ?3)");
    statement meta(db_, "UPDATE meta SET value = ?2 WHERE key = ?1");
    statement sitemaps(db_, "INSERT OR IGNORE INTO sitemaps_read(origin) VALUES (?1)");
    if (!found || !done || !robots || !meta || !sitemaps) fail("cannot write");
    for (const auto& f : b.found) {
      found.text(1, f.url);
      found.integer(2, static_cast<std::int64_t>(f.depth));
      if (found.step() != SQLITE_DONE) fail("cannot write");
      found.reset();
    }
    for (const auto& u : b.done) {
      done.text(1, u);
      if (done.step() != SQLITE_DONE) fail("cannot write");
      done.reset();
    }
    for (const auto& r : b.robots) {
      robots.text(1, r.origin);
      robots.integer(2, r.status);
      robots.blob(3, r.body);
      if (robots.step() != SQLITE_DONE) fail("cannot write");
      robots.reset();
    }
    for (const auto& o : b.sitemaps_read) {
      sitemaps.text(1, o);
      if (sitemaps.step() != SQLITE_DONE) fail("cannot write");
      sitemaps.reset();
    }
    const std::pair<const char*, std::uint64_t> values[] = {{"records", b.records}, {"output_offset", b.output_offset}};
    for (const auto& [key, value] : values) {
      meta.text(1, key);
      meta.text(2, std::to_string(value));
      if (meta.step() != SQLITE_DONE) fail("cannot write");
      meta.reset();
    }
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  exec("COMMIT");
}

weft::task<frontier_snapshot> sqlite_frontier_store::load() {
  // The lambda owns what it uses: a job already running when its awaiter
  // is cancelled runs on to the end.
  // (The lambda is a named local: GCC 12 mishandles temporaries with
  // captures inside a co_await expression.)
  auto job = [self = shared_from_this()] { return self->load_now(); };
  auto h = weft::spawn_blocking(std::move(job));
  co_return co_await h;
}

weft::task<void> sqlite_frontier_store::commit(frontier_batch b) {
  auto job = [self = shared_from_this(), b = std::move(b)] { self->commit_now(b); };
  auto h = weft::spawn_blocking(std::move(job));
  co_await h;
}

}  // namespace scraper
