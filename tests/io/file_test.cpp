// weft::io::file and the file ops (ops::openat, fsync, statx, read/write at
// an offset) on both drivers: round trips, offsets, whole-file helpers,
// stream use, errors with their paths, /dev/full, and what cancellation
// does to an operation waiting for the blocking pool on epoll.
//
// Tasks record what they saw and the assertions run after block_on, so
// nothing asserts from two workers at once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <semaphore>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "io_test_support.hpp"
#include "weft/runtime/blocking.hpp"
#include "weft/runtime/ops.hpp"
#include "weft/runtime/spawn.hpp"
#include "weft/runtime/when_all.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;
namespace fs = std::filesystem;

namespace {

static_assert(io::stream<io::file>, "a file is a weft::io stream");

// A fresh directory under /tmp, removed with what it holds.
class temp_dir {
 public:
  temp_dir() {
    std::string templ = "/tmp/weft-file-test-XXXXXX";
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  temp_dir(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

// How an awaitable ended: its exception, reduced to what the tests check.
struct outcome {
  std::string kind = "none";  // none, system_error, invalid_argument, timeout, cancelled, eof, other
  int code = 0;
  std::string what;
};

template <class A>
weft::task<outcome> outcome_of(A a) {
  try {
    (void)co_await std::move(a);
  } catch (const std::system_error& e) {
    co_return outcome{"system_error", e.code().value(), e.what()};
  } catch (const std::invalid_argument& e) {
    co_return outcome{"invalid_argument", 0, e.what()};
  } catch (const weft::timeout_error& e) {
    co_return outcome{"timeout", 0, e.what()};
  } catch (const weft::operation_cancelled& e) {
    co_return outcome{"cancelled", 0, e.what()};
  } catch (const io::unexpected_eof& e) {
    co_return outcome{"eof", 0, e.what()};
  } catch (const std::exception& e) {
    co_return outcome{"other", 0, e.what()};
  }
  co_return outcome{};
}

std::string pattern(std::size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 7;
  for (auto& c : s) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

std::span<std::byte> wbytes(std::string& s) { return io::as_writable_bytes(s); }

std::string slurp(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- ops

TEST_CASE("file ops: openat, fsync, fdatasync and statx", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_dir dir;
  const std::string path = dir / "ops.bin";
  struct seen {
    int created = 0, cloexec = 0, wrote = 0, sync = 0, datasync = 0, stat_fd = 0, stat_path = 0;
    std::uint64_t size_fd = 0, size_path = 0;
    int missing = 0, exists = 0, bad_fsync = 0, stat_missing = 0, closed = 0;
  };
  seen s = rt.block_on([&]() -> weft::task<seen> {
    seen s;
    int fd = co_await weft::ops::openat(AT_FDCWD, path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    s.created = fd;
    if (fd < 0) co_return s;
    s.cloexec = ::fcntl(fd, F_GETFD) & FD_CLOEXEC;
    s.wrote = co_await weft::ops::write(fd, "12345", 5, 10);
    s.sync = co_await weft::ops::fsync(fd);
    s.datasync = co_await weft::ops::fsync(fd, true);
    struct ::statx sx {};
    s.stat_fd = co_await weft::ops::statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx);
    s.size_fd = sx.stx_size;
    struct ::statx sp {};
    s.stat_path = co_await weft::ops::statx(AT_FDCWD, path.c_str(), 0, STATX_SIZE, &sp);
    s.size_path = sp.stx_size;
    s.closed = co_await weft::ops::close(fd);
    s.missing = co_await weft::ops::openat(AT_FDCWD, (dir / "nope").c_str(), O_RDONLY);
    s.exists = co_await weft::ops::openat(AT_FDCWD, path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    s.bad_fsync = co_await weft::ops::fsync(fd);  // closed above
    struct ::statx sm {};
    s.stat_missing = co_await weft::ops::statx(AT_FDCWD, (dir / "nope").c_str(), 0, STATX_SIZE, &sm);
    co_return s;
  }());
  REQUIRE(s.created >= 0);
  CHECK(s.cloexec != 0);
  CHECK(s.wrote == 5);
  CHECK(s.sync == 0);
  CHECK(s.datasync == 0);
  CHECK(s.stat_fd == 0);
  CHECK(s.size_fd == 15);
  CHECK(s.stat_path == 0);
  CHECK(s.size_path == 15);
  CHECK(s.closed == 0);
  CHECK(s.missing == -ENOENT);
  CHECK(s.exists == -EEXIST);
  CHECK(s.bad_fsync == -EBADF);
  CHECK(s.stat_missing == -ENOENT);
}

TEST_CASE("file ops: on epoll file I/O waits in the blocking pool, never on the worker", "[io][file]") {
  // One worker and one pool thread, held by a job we control: on epoll a
  // file read must queue behind it while the worker goes on running other
  // tasks; a queued read can be cancelled (it never runs) or time out. On
  // io_uring the same reads complete natively, pool or no pool.
  auto backend = WEFT_BOTH_BACKENDS();
  auto opts = io_options(backend, 1);
  opts.max_blocking_threads = 1;
  weft::runtime rt{opts};
  temp_dir dir;
  const std::string path = dir / "pool.txt";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::fputs("abcdef", f);
    std::fclose(f);
  }
  struct seen {
    bool finished_while_pool_busy = false, worker_ran_meanwhile = false;
    outcome cancelled, timed_out;
    std::string cancelled_buf, read_after;
    std::size_t late_read = 0;
  };
  std::binary_semaphore release{0};
  std::atomic<bool> blocker_running{false};
  seen s = rt.block_on([&]() -> weft::task<seen> {
    seen s;
    io::file f = co_await io::file::open(path);
    auto blocker = weft::spawn_blocking([&] {
      blocker_running = true;
      release.acquire();
    });
    // Releases the pool thread however this task ends, so the runtime can stop.
    struct releaser {
      std::binary_semaphore* r;
      void now() {
        if (r) std::exchange(r, nullptr)->release();
      }
      ~releaser() { now(); }
    } guard{&release};
    for (int i = 0; i < 10'000 && !blocker_running; ++i) co_await weft::sleep_for(1ms);

    std::string buf(6, '.');
    auto reader = weft::spawn(f.read_at(wbytes(buf), 0));
    std::atomic<bool> ran{false};
    co_await weft::spawn([&]() -> weft::task<void> {
      ran = true;
      co_return;
    }());
    co_await weft::sleep_for(20ms);
    s.worker_ran_meanwhile = ran;
    s.finished_while_pool_busy = reader.is_finished();
    if (s.finished_while_pool_busy) {  // io_uring
      (void)co_await reader;
      s.read_after = buf;
    } else {  // epoll: the read is queued; cancel it, it must never run
      reader.cancel();
      s.cancelled = co_await outcome_of(std::move(reader));
      s.cancelled_buf = buf;
    }
    std::string buf2(6, '.');
    s.timed_out = co_await outcome_of(f.read_at(wbytes(buf2), 0, 30ms));

    guard.now();  // the pool thread is free again: reads work as usual
    co_await blocker;
    std::string buf3(6, '.');
    s.late_read = co_await f.read_at(wbytes(buf3), 0);
    if (!s.finished_while_pool_busy) s.read_after = buf3;
    co_return s;
  }());
  CHECK(s.worker_ran_meanwhile);
  if (backend == weft::io_backend::epoll) {
    CHECK_FALSE(s.finished_while_pool_busy);
    CHECK(s.cancelled.kind == "cancelled");
    CHECK(s.cancelled_buf == "......");  // the dropped job never ran
    CHECK(s.timed_out.kind == "timeout");
  } else {
    CHECK(s.finished_while_pool_busy);
    CHECK(s.timed_out.kind == "none");
  }
  CHECK(s.late_read == 6);
  CHECK(s.read_after == "abcdef");
}

// ---------------------------------------------------------------- file

TEST_CASE("file: write_file and read_file round trip, empty and multi-MB", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_dir dir;
  const std::string big = pattern(5 * 1024 * 1024 + 123);
  struct seen {
    std::string small, empty, big;
    std::uint64_t big_size = 0;
  };
  seen s = rt.block_on([&]() -> weft::task<seen> {
    seen s;
    co_await io::write_file(dir / "small.txt", "hello, file\n");
    s.small = co_await io::read_file(dir / "small.txt");
    co_await io::write_file(dir / "empty", "");
    s.empty = co_await io::read_file(dir / "empty");
    co_await io::write_file(dir / "big.bin", io::as_bytes(big));
    s.big = co_await io::read_file(dir / "big.bin");
    s.big_size = (co_await io::stat(dir / "big.bin")).size;
    // write_file truncates what was there.
    co_await io::write_file(dir / "big.bin", "short");
    co_return s;
  }());
  CHECK(s.small == "hello, file\n");
  CHECK(s.empty.empty());
  CHECK(s.big_size == big.size());
  CHECK(s.big.size() == big.size());
  CHECK(s.big == big);
  CHECK(slurp(dir / "big.bin") == "short");
}

TEST_CASE("file: read_at and write_at at offsets, reading past the end gives 0", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_dir dir;
  const std::string path = dir / "offsets.bin";
  struct seen {
    std::size_t w1 = 0, w2 = 0, r_head = 0, r_hole = 0, r_tail = 0, r_past = 0, r_straddle = 0;
    std::string head, hole, tail, straddle;
    std::uint64_t size = 0;
  };
  seen s = rt.block_on([&]() -> weft::task<seen> {
    seen s;
    io::file f = co_await io::file::open(path, {.read = true, .write = true, .create = true});
    s.w1 = co_await f.write_at(io::as_bytes("TAIL-DATA"), 1000);
    s.w2 = co_await f.write_at(io::as_bytes("HEAD"), 0);
    std::string head(4, '.'), hole(16, '.'), tail(9, '.'), past(8, '.'), straddle(20, '.');
    s.r_head = co_await f.read_at(wbytes(head), 0);
    s.r_hole = co_await f.read_at(wbytes(hole), 100);
    s.r_tail = co_await f.read_at(wbytes(tail), 1000);
    s.r_past = co_await f.read_at(wbytes(past), 5000);
    s.r_straddle = co_await f.read_at(wbytes(straddle), 1004);  // 5 bytes left
    s.head = head, s.hole = hole, s.tail = tail, s.straddle = straddle;
    s.size = (co_await f.stat()).size;
    co_return s;
  }());
  CHECK(s.w1 == 9);
  CHECK(s.w2 == 4);
  CHECK(s.r_head == 4);
  CHECK(s.head == "HEAD");
  CHECK(s.r_hole == 16);
  CHECK(s.hole == std::string(16, '\0'));
  CHECK(s.r_tail == 9);
  CHECK(s.tail == "TAIL-DATA");
  CHECK(s.r_past == 0);
  CHECK(s.r_straddle == 5);
  CHECK(s.straddle.substr(0, 5) == "-DATA");
  CHECK(s.size == 1009);
}

TEST_CASE("file: many tasks write their own regions of one file at once", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_dir dir;
  const std::string path = dir / "regions.bin";
  constexpr std::size_t parts = 16, part_size = 256 * 1024;
  std::vector<std::string> data;
  for (unsigned i = 0; i < parts; ++i) data.push_back(pattern(part_size, i + 1));
  std::string whole = rt.block_on([&]() -> weft::task<std::string> {
    io::file f = co_await io::file::create(path);
    std::vector<weft::task<void>> writers;
    for (std::size_t i = 0; i < parts; ++i) writers.push_back(f.write_all_at(io::as_bytes(data[i]), i * part_size));
    co_await weft::when_all(std::move(writers));
    co_await f.fdatasync();
    co_await f.close();
    co_return co_await io::read_file(path);
  }());
  std::string expected;
  for (auto& d : data) expected += d;
  CHECK(whole.size() == expected.size());
  CHECK(whole == expected);
}

TEST_CASE("file: a file is a stream: read_exact, write_all, position, append", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_dir dir;
  const std::string path = dir / "stream.txt";
  struct seen {
    std::string first, second, appended;
    std::uint64_t pos_after_write = 0, pos_after_read = 0, pos_after_append = 0;
    std::size_t eof_read = 1;
    outcome exact_read, short_read;
  };
  seen s = rt.block_on([&]() -> weft::task<seen> {
    seen s;
    io::file f = co_await io::file::open(path, {.read = true, .write = true, .create = true, .truncate = true});
    co_await io::write_all(f, io::as_bytes("line one\n"));
    co_await f.write_all(io::as_bytes("line two\n"));
    s.pos_after_write = f.position();
    f.seek(0);
    std::string a(9, '.'), b(9, '.');
    co_await io::read_exact(f, wbytes(a));
    co_await io::read_exact(f, wbytes(b));
    s.first = a, s.second = b;
    s.pos_after_read = f.position();
    std::string c(4, '.');
    s.eof_read = co_await f.read_some(wbytes(c));
    f.seek(14);
    s.exact_read = co_await outcome_of(io::read_exact(f, wbytes(c)));  // 4 bytes left, wants 4: fine
    f.seek(15);
    s.short_read = co_await outcome_of(io::read_exact(f, wbytes(c)));  // 3 left: unexpected_eof
    co_await f.close();

    io::file log = co_await io::file::open(path, {.append = true});
    co_await log.write_all(io::as_bytes("line three\n"));
    co_await log.write_all_at(io::as_bytes("four\n"), 0);  // append mode: still at the end
    s.pos_after_append = log.position();
    co_await log.close();
    s.appended = co_await io::read_file(path);
    co_return s;
  }());
  CHECK(s.pos_after_write == 18);
  CHECK(s.first == "line one\n");
  CHECK(s.second == "line two\n");
  CHECK(s.pos_after_read == 18);
  CHECK(s.eof_read == 0);
  CHECK(s.exact_read.kind == "none");
  CHECK(s.short_read.kind == "eof");
  CHECK(s.appended == "line one\nline two\nline three\nfour\n");
  CHECK(s.pos_after_append == 0);
}

TEST_CASE("file: open errors name the path and the errno", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_dir dir;
  const std::string missing = dir / "no/such/file";
  const std::string existing = dir / "exists";
  {
    std::FILE* f = std::fopen(existing.c_str(), "w");
    REQUIRE(f);
    std::fclose(f);
  }
  const std::string locked = dir / "locked";
  const bool root = ::geteuid() == 0;
  if (!root) {
    std::FILE* f = std::fopen(locked.c_str(), "w");
    REQUIRE(f);
    std::fclose(f);
    REQUIRE(::chmod(locked.c_str(), 0) == 0);
  }
  struct seen {
    outcome enoent, eexist, eisdir_open, eisdir_read, eacces, stat_missing, read_file_missing;
  };
  seen s = rt.block_on([&]() -> weft::task<seen> {
    seen s;
    s.enoent = co_await outcome_of(io::file::open(missing));
    s.eexist = co_await outcome_of(io::file::open(existing, {.write = true, .create = true, .exclusive = true}));
    s.eisdir_open = co_await outcome_of(io::file::open(dir.str(), {.write = true}));
    // A directory opens for reading; reading it is what fails.
    s.eisdir_read = co_await outcome_of(io::read_file(dir.str()));
    if (!root) s.eacces = co_await outcome_of(io::file::open(locked));
    s.stat_missing = co_await outcome_of(io::stat(missing));
    s.read_file_missing = co_await outcome_of(io::read_file(missing));
    co_return s;
  }());
  CHECK(s.enoent.kind == "system_error");
  CHECK(s.enoent.code == ENOENT);
  CHECK(s.enoent.what == "open " + missing + ": No such file or directory");
  CHECK(s.eexist.code == EEXIST);
  CHECK(s.eexist.what == "open " + existing + ": File exists");
  CHECK(s.eisdir_open.code == EISDIR);
  CHECK(s.eisdir_open.what == "open " + dir.str() + ": Is a directory");
  CHECK(s.eisdir_read.code == EISDIR);
  CHECK(s.eisdir_read.what == "read " + dir.str() + ": Is a directory");
  if (root) {
    WARN("running as root: the EACCES case is skipped (root may open any file)");
  } else {
    CHECK(s.eacces.code == EACCES);
    CHECK(s.eacces.what == "open " + locked + ": Permission denied");
  }
  CHECK(s.stat_missing.what == "stat " + missing + ": No such file or directory");
  CHECK(s.read_file_missing.code == ENOENT);
}

TEST_CASE("file: contradictory options and unusable paths are std::invalid_argument", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_dir dir;
  const std::string p = dir / "x";
  std::vector<outcome> got = rt.block_on([&]() -> weft::task<std::vector<outcome>> {
    std::vector<outcome> v;
    v.push_back(co_await outcome_of(io::file::open(p, {.create = true})));
    v.push_back(co_await outcome_of(io::file::open(p, {.read = true, .truncate = true})));
    v.push_back(co_await outcome_of(io::file::open(p, {.write = true, .exclusive = true})));
    v.push_back(co_await outcome_of(io::file::open("")));
    v.push_back(co_await outcome_of(io::file::open(std::string("a\0b", 3))));
    v.push_back(co_await outcome_of(io::stat("")));
    co_return v;
  }());
  REQUIRE(got.size() == 6);
  for (auto& o : got) CHECK(o.kind == "invalid_argument");
  CHECK(got[0].what == "open " + p + ": create needs write or append");
  CHECK(got[1].what == "open " + p + ": truncate needs write or append");
  CHECK(got[2].what == "open " + p + ": exclusive needs create");
  CHECK(got[3].what == "open: empty path");
  CHECK(got[4].what == "open: path contains a NUL byte");
  CHECK(got[5].what == "stat: empty path");
  CHECK_FALSE(fs::exists(p));
}

TEST_CASE("file: stat, fsync, fdatasync and close", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  temp_dir dir;
  const std::string path = dir / "stat.bin";
  struct seen {
    io::file_status st, dir_st;
    outcome sync, datasync, first_close, second_close, after_close;
    bool open_after_close = true;
  };
  seen s = rt.block_on([&]() -> weft::task<seen> {
    seen s;
    io::file f = co_await io::file::open(path, {.write = true, .create = true, .exclusive = true, .mode = 0600});
    co_await f.write_all_at(io::as_bytes(pattern(12345)), 0);
    s.sync = co_await outcome_of(f.fsync());
    s.datasync = co_await outcome_of(f.fdatasync());
    s.st = co_await f.stat();
    s.dir_st = co_await io::stat(dir.str());
    s.first_close = co_await outcome_of(f.close());
    s.second_close = co_await outcome_of(f.close());
    s.open_after_close = f.is_open();
    s.after_close = co_await outcome_of(f.fsync());
    co_return s;
  }());
  CHECK(s.sync.kind == "none");
  CHECK(s.datasync.kind == "none");
  CHECK(s.st.size == 12345);
  CHECK(s.st.is_regular());
  CHECK_FALSE(s.st.is_directory());
  CHECK(s.st.permissions() == 0600);
  CHECK(s.st.block_size > 0);
  CHECK(s.st.inode != 0);
  CHECK(s.st.modified > std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 50));
  CHECK(s.dir_st.is_directory());
  CHECK(s.first_close.kind == "none");
  CHECK(s.second_close.kind == "none");
  CHECK_FALSE(s.open_after_close);
  CHECK(s.after_close.code == EBADF);
  CHECK(s.after_close.what == "fsync " + path + ": Bad file descriptor");
}

TEST_CASE("file: a full device fails with ENOSPC, naming it", "[io][file]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  if (::access("/dev/full", W_OK) != 0) {
    WARN("/dev/full is not writable here: skipped");
    return;
  }
  struct seen {
    outcome write, write_file;
  };
  seen s = rt.block_on([&]() -> weft::task<seen> {
    seen s;
    io::file f = co_await io::file::open("/dev/full", {.write = true});
    s.write = co_await outcome_of(f.write_all(io::as_bytes(pattern(100'000))));
    s.write_file = co_await outcome_of(io::write_file("/dev/full", "data"));
    co_return s;
  }());
  CHECK(s.write.kind == "system_error");
  CHECK(s.write.code == ENOSPC);
  CHECK(s.write.what == "write /dev/full: No space left on device");
  CHECK(s.write_file.code == ENOSPC);
}
