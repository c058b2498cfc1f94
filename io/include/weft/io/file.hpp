// weft::io::file: an open file, read and written at offsets or as a stream,
// and the whole-file helpers read_file / write_file.
//
//   auto f = co_await weft::io::file::open("data.bin", {.read = true, .write = true, .create = true});
//   co_await f.write_all_at(weft::io::as_bytes("header"), 0);
//   std::size_t n = co_await f.read_at(buf, 4096);        // fewer than buf.size() only at end of file
//   co_await f.fsync();
//   std::string text = co_await weft::io::read_file("/etc/hostname");
//   co_await weft::io::write_file("out.txt", "hello\n");   // created or truncated
//
// On io_uring every call is a native submission; on epoll (where regular
// files are always "ready") it runs on the runtime's blocking pool, so a
// cold page cache never stalls a worker. A file is also a weft::io stream
// (read_some / write_some at its own position), so io::read_exact,
// io::write_all and friends work on it. Meant for seekable files (and
// devices such as /dev/null or /dev/full); pipes and sockets have their
// own types.
//
// Errors are std::system_error with the errno and the path in the message
// ("open /nope/x: No such file or directory"); bad options are
// std::invalid_argument. End of file is not an error: reads return 0.
//
// Deadlines and cancellation: when the deadline passes (timeout_error) or
// the task is cancelled (operation_cancelled), an operation not yet started
// never runs. One already running may not be interruptible: on epoll a
// blocking-pool thread that has begun the call finishes it, and on io_uring
// the kernel may complete it anyway; its result is then returned as if no
// deadline had passed, so no data is silently lost. read_at and the other
// looping calls may have transferred part of the data when they throw.
//
// A file must not be moved, closed or destroyed while one of its
// operations is pending in another task.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "weft/io/deadline.hpp"
#include "weft/runtime/task.hpp"

namespace weft::io {

/// How to open a file; use designated initializers:
/// `{.write = true, .create = true, .truncate = true}`. With none of
/// read/write/append set, the file is opened for reading only.
struct open_options {
  bool read = false;
  bool write = false;
  /// Every write goes to the current end of the file (O_APPEND); implies write.
  bool append = false;
  /// Create the file if it does not exist (needs write or append).
  bool create = false;
  /// Cut an existing file to 0 bytes (needs write).
  bool truncate = false;
  /// With create: fail with EEXIST if the path exists (O_EXCL), even as a dangling symlink.
  bool exclusive = false;
  /// Permission bits of a created file, before the process umask.
  ::mode_t mode = 0666;
};
// Not guarded like http::client's request_options: GCC 12 copies a braced
// temporary written inside co_await bitwise and destroys it twice (see
// weft/http/client.hpp), which is harmless only while the struct is
// trivially copyable, so `co_await file::open(path, {.write = true})` stays allowed.
static_assert(std::is_trivially_copyable_v<open_options>,
              "open_options must stay trivially copyable, or its coroutines need the rvalue guard of "
              "weft/http/client.hpp (GCC 12 frees a braced temporary inside co_await twice)");

/// What stat() reports (a subset of statx(2)).
struct file_status {
  std::uint64_t size = 0;
  /// File type and permission bits, as st_mode.
  ::mode_t mode = 0;
  std::chrono::system_clock::time_point modified{};
  /// The preferred I/O block size (st_blksize).
  std::uint32_t block_size = 0;
  std::uint64_t inode = 0;

  bool is_regular() const noexcept { return S_ISREG(mode); }
  bool is_directory() const noexcept { return S_ISDIR(mode); }
  bool is_symlink() const noexcept { return S_ISLNK(mode); }
  /// The rwx bits with setuid, setgid and sticky (07777).
  ::mode_t permissions() const noexcept { return mode & 07777; }
};

class file {
 public:
  file() noexcept = default;
  /// Adopts an open descriptor; `path` is only used in error messages.
  file(int fd, std::string path) noexcept;
  file(file&& o) noexcept;
  file& operator=(file&& o) noexcept;
  file(const file&) = delete;
  file& operator=(const file&) = delete;
  /// Closes the descriptor, ignoring errors (use close() to see them).
  ~file();

  /// Opens `path`. Throws std::invalid_argument for contradictory options
  /// (truncate without write...) and std::system_error for ENOENT, EEXIST,
  /// EISDIR, EACCES...
  static task<file> open(std::string path, open_options opts = {}, deadline d = {});
  /// Opens `path` for writing, created if missing, truncated if not (mode 0666 & ~umask).
  static task<file> create(std::string path, deadline d = {});

  int fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  const std::string& path() const noexcept { return path_; }
  /// Gives the descriptor up without closing it.
  int release() noexcept;

  /// Reads up to buf.size() bytes at `offset`: fewer only at end of file
  /// (0 at or past it). Requests over 1 GiB are split.
  task<std::size_t> read_at(std::span<std::byte> buf, std::uint64_t offset, deadline d = {});
  /// One write at `offset` (at most 1 GiB): may write fewer bytes than
  /// given. In append mode the data goes to the end whatever `offset` is
  /// (as pwrite(2) does on Linux).
  task<std::size_t> write_at(std::span<const std::byte> buf, std::uint64_t offset, deadline d = {});
  /// Writes all of `buf` at `offset`.
  task<void> write_all_at(std::span<const std::byte> buf, std::uint64_t offset, deadline d = {});

  /// Stream use: one read at position(), which it advances; 0 at end of file.
  task<std::size_t> read_some(std::span<std::byte> buf, deadline d = {});
  /// Stream use: one write at position(), which it advances. In append
  /// mode writes go to the end of the file and leave position() alone.
  task<std::size_t> write_some(std::span<const std::byte> buf, deadline d = {});
  /// Stream use: writes all of `buf` (several write_some if need be).
  task<void> write_all(std::span<const std::byte> buf, deadline d = {});
  /// Where read_some / write_some go next (starts at 0; the kernel's file
  /// offset is not used).
  std::uint64_t position() const noexcept { return pos_; }
  void seek(std::uint64_t pos) noexcept { pos_ = pos; }

  /// The whole file, from offset 0 to end of file, whatever position() is.
  /// stat() gives the expected size; reading goes on to end of file, so a
  /// file that grows or shrinks meanwhile (or a /proc file reporting size
  /// 0) is still read correctly.
  task<std::string> read_all(deadline d = {});

  /// Flushes data and metadata to the device.
  task<void> fsync(deadline d = {});
  /// Flushes data (and the metadata needed to read it back, such as the size).
  task<void> fdatasync(deadline d = {});
  task<file_status> stat(deadline d = {});

  /// Closes the file and reports a close error (EIO from delayed writeback
  /// on some file systems). Idempotent.
  task<void> close();

 private:
  [[noreturn]] void fail(int err, const char* op) const;

  int fd_ = -1;
  bool append_ = false;
  std::uint64_t pos_ = 0;
  std::string path_;
};

/// The whole content of `path`.
task<std::string> read_file(std::string path, deadline d = {});
/// Creates or truncates `path` and writes `data` to it. Without fsync: call
/// file::fsync (or open + write_all + fsync) when it must survive a crash.
task<void> write_file(std::string path, std::span<const std::byte> data, deadline d = {});
task<void> write_file(std::string path, std::string_view data, deadline d = {});
/// Status of `path` (symlinks followed).
task<file_status> stat(std::string path, deadline d = {});

}  // namespace weft::io
