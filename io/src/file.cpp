#include "weft/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <stdexcept>
#include <utility>

#include "error.hpp"
#include "weft/io/stream.hpp"
#include "weft/runtime/errors.hpp"
#include "weft/runtime/ops.hpp"

namespace weft::io {

using detail::throw_errno;

namespace {

/// The most one read or write asks for: io_uring takes a 32-bit length and
/// the result is an int; bigger requests are split.
constexpr std::size_t max_chunk = std::size_t{1} << 30;

constexpr std::uint64_t max_offset = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

/// A path the kernel would read differently from what the caller meant
/// (cut at the first NUL) or not at all.
void check_path(const std::string& path, const char* op) {
  if (path.empty()) throw std::invalid_argument(std::string(op) + ": empty path");
  if (path.find('\0') != std::string::npos) throw std::invalid_argument(std::string(op) + ": path contains a NUL byte");
}

int open_flags(const open_options& o, const std::string& path) {
  const bool writes = o.write || o.append;
  auto bad = [&](const char* why) { throw std::invalid_argument("open " + path + ": " + why); };
  if (o.create && !writes) bad("create needs write or append");
  if (o.truncate && !writes) bad("truncate needs write or append");
  if (o.exclusive && !o.create) bad("exclusive needs create");
  int flags = writes ? (o.read ? O_RDWR : O_WRONLY) : O_RDONLY;
  if (o.append) flags |= O_APPEND;
  if (o.create) flags |= O_CREAT;
  if (o.truncate) flags |= O_TRUNC;
  if (o.exclusive) flags |= O_EXCL;
  return flags;
}

file_status to_status(const struct ::statx& sx) {
  file_status s;
  s.size = sx.stx_size;
  s.mode = sx.stx_mode;
  s.block_size = sx.stx_blksize;
  s.inode = sx.stx_ino;
  const auto since_epoch = std::chrono::seconds(sx.stx_mtime.tv_sec) + std::chrono::nanoseconds(sx.stx_mtime.tv_nsec);
  s.modified = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch));
  return s;
}

constexpr unsigned stat_mask = STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_MTIME | STATX_INO;

}  // namespace

file::file(int fd, std::string path) noexcept : fd_(fd), path_(std::move(path)) {}

file::file(file&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), append_(o.append_), pos_(o.pos_), path_(std::move(o.path_)) {}

file& file::operator=(file&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    append_ = o.append_;
    pos_ = o.pos_;
    path_ = std::move(o.path_);
  }
  return *this;
}

file::~file() {
  if (fd_ >= 0) ::close(fd_);
}

int file::release() noexcept { return std::exchange(fd_, -1); }

void file::fail(int err, const char* op) const { throw_errno(err, std::string(op) + " " + path_); }

task<file> file::open(std::string path, open_options opts, deadline d) {
  check_path(path, "open");
  const int flags = open_flags(opts, path);
  const int fd = co_await within(d, ops::openat(AT_FDCWD, path.c_str(), flags, opts.mode));
  if (fd < 0) throw_errno(-fd, "open " + path);
  file f(fd, std::move(path));
  f.append_ = opts.append;
  co_return f;
}

task<file> file::create(std::string path, deadline d) {
  return open(std::move(path), {.write = true, .create = true, .truncate = true}, d);
}

task<std::size_t> file::read_at(std::span<std::byte> buf, std::uint64_t offset, deadline d) {
  std::size_t total = 0;
  while (total < buf.size()) {
    // Past 2^63 pread(2) itself says EINVAL; -1 would mean "no offset" to ops::read.
    if (offset > max_offset - total) fail(EINVAL, "read");
    const std::size_t want = std::min(buf.size() - total, max_chunk);
    const int r =
        co_await within(d, ops::read(fd_, buf.data() + total, want, static_cast<std::int64_t>(offset + total)));
    if (r < 0) fail(-r, "read");
    if (r == 0) break;  // end of file
    total += static_cast<std::size_t>(r);
  }
  co_return total;
}

task<std::size_t> file::write_at(std::span<const std::byte> buf, std::uint64_t offset, deadline d) {
  if (buf.empty()) co_return 0;
  if (offset > max_offset) fail(EINVAL, "write");
  const std::size_t want = std::min(buf.size(), max_chunk);
  const int r = co_await within(d, ops::write(fd_, buf.data(), want, static_cast<std::int64_t>(offset)));
  if (r < 0) fail(-r, "write");
  // Regular files never accept 0 bytes of a non-empty write without an
  // error; a device that did would make write_all loop forever.
  if (r == 0) fail(EIO, "write");
  co_return static_cast<std::size_t>(r);
}

task<void> file::write_all_at(std::span<const std::byte> buf, std::uint64_t offset, deadline d) {
  while (!buf.empty()) {
    const std::size_t n = co_await write_at(buf, offset, d);
    buf = buf.subspan(n);
    offset += n;
  }
}

task<std::size_t> file::read_some(std::span<std::byte> buf, deadline d) {
  if (buf.empty()) co_return 0;
  if (pos_ > max_offset) fail(EINVAL, "read");
  const std::size_t want = std::min(buf.size(), max_chunk);
  const int r = co_await within(d, ops::read(fd_, buf.data(), want, static_cast<std::int64_t>(pos_)));
  if (r < 0) fail(-r, "read");
  pos_ += static_cast<std::uint64_t>(r);
  co_return static_cast<std::size_t>(r);
}

task<std::size_t> file::write_some(std::span<const std::byte> buf, deadline d) {
  // O_APPEND makes the kernel ignore the offset and write at the end.
  const std::size_t n = co_await write_at(buf, append_ ? 0 : pos_, d);
  if (!append_) pos_ += n;
  co_return n;
}

task<void> file::write_all(std::span<const std::byte> buf, deadline d) {
  while (!buf.empty()) {
    const std::size_t n = co_await write_some(buf, d);
    buf = buf.subspan(n);
  }
}

task<std::string> file::read_all(deadline d) {
  const file_status st = co_await stat(d);
  // One byte more than the size: the read that sees end of file needs room,
  // and a buffer that was big enough is never reallocated.
  std::string out(st.size > 0 ? st.size + 1 : 64 * 1024, '\0');
  std::size_t n = 0;
  for (;;) {
    if (n == out.size()) out.resize(out.size() * 2);  // it grew, or /proc said 0
    const std::size_t got =
        co_await read_at(std::span<std::byte>(reinterpret_cast<std::byte*>(out.data()) + n, out.size() - n), n, d);
    n += got;
    if (n < out.size()) break;  // read_at stops short only at end of file
  }
  out.resize(n);
  co_return out;
}

task<void> file::fsync(deadline d) {
  const int r = co_await within(d, ops::fsync(fd_, false));
  if (r < 0) fail(-r, "fsync");
}

task<void> file::fdatasync(deadline d) {
  const int r = co_await within(d, ops::fsync(fd_, true));
  if (r < 0) fail(-r, "fdatasync");
}

task<file_status> file::stat(deadline d) {
  struct ::statx sx {};
  const int r = co_await within(d, ops::statx(fd_, "", AT_EMPTY_PATH, stat_mask, &sx));
  if (r < 0) fail(-r, "stat");
  co_return to_status(sx);
}

task<void> file::close() {
  if (fd_ < 0) co_return;
  const int fd = std::exchange(fd_, -1);
  int r;
  try {
    r = co_await ops::close(fd);
  } catch (const operation_cancelled&) {
    ::close(fd);  // not submitted: the descriptor must not leak
    throw;
  }
  // Linux frees the descriptor even when close reports an error.
  if (r < 0) fail(-r, "close");
}

task<std::string> read_file(std::string path, deadline d) {
  file f = co_await file::open(std::move(path), {}, d);
  co_return co_await f.read_all(d);
}

task<void> write_file(std::string path, std::span<const std::byte> data, deadline d) {
  file f = co_await file::create(std::move(path), d);
  co_await f.write_all_at(data, 0, d);
  co_await f.close();
}

task<void> write_file(std::string path, std::string_view data, deadline d) {
  return write_file(std::move(path), as_bytes(data), d);
}

task<file_status> stat(std::string path, deadline d) {
  check_path(path, "stat");
  struct ::statx sx {};
  const int r = co_await within(d, ops::statx(AT_FDCWD, path.c_str(), 0, stat_mask, &sx));
  if (r < 0) throw_errno(-r, "stat " + path);
  co_return to_status(sx);
}

}  // namespace weft::io
