// file_read: read a 1 GiB file with 4 concurrent readers (each reads its
// quarter with io::file::read_at in 1 MiB chunks), on the default driver
// and on epoll, against `cat FILE > /dev/null`. The page cache is warmed
// first, so this measures the read path (system calls, copies, the driver
// or the blocking pool), not the disk. Best of 3 for each.
//
//   bench_file_read [FILE]     (default /tmp/weft-file-read.bin; created,
//                               or reused when it has the right size)
//   -> RESULT file_read io=<uring|epoll> readers=4 size_mb=1024 gb_per_s=X cat_gb_per_s=Y ratio=Z
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "weft/weft.hpp"

namespace {

namespace io = weft::io;
using bench_clock = std::chrono::steady_clock;

constexpr std::uint64_t file_size = std::uint64_t{1} << 30;
constexpr std::size_t chunk = std::size_t{1} << 20;
constexpr unsigned readers = 4;
constexpr int reps = 3;

// Each 1 MiB chunk starts with its index, so readers can check they got
// the right bytes without a full compare.
void stamp(std::vector<char>& buf, std::uint64_t index) { std::memcpy(buf.data(), &index, sizeof index); }

weft::task<void> generate(std::string path) {
  io::file f = co_await io::file::create(path);
  std::vector<char> buf(chunk);
  for (std::size_t i = 0; i < chunk; ++i) buf[i] = static_cast<char>('a' + (i * 7) % 26);
  for (std::uint64_t i = 0; i < file_size / chunk; ++i) {
    stamp(buf, i);
    co_await f.write_all_at({reinterpret_cast<const std::byte*>(buf.data()), buf.size()}, i * chunk);
  }
  co_await f.close();
}

// Reads [begin, end) in chunks; returns the bytes read, or aborts on a wrong chunk.
weft::task<std::uint64_t> read_range(io::file& f, std::uint64_t begin, std::uint64_t end) {
  std::vector<std::byte> buf(chunk);
  std::uint64_t total = 0;
  for (std::uint64_t off = begin; off < end; off += chunk) {
    const std::size_t n = co_await f.read_at(buf, off);
    std::uint64_t index;
    std::memcpy(&index, buf.data(), sizeof index);
    if (n != chunk || index != off / chunk) {
      std::fprintf(stderr, "file_read: bad chunk at offset %llu\n", static_cast<unsigned long long>(off));
      std::abort();
    }
    total += n;
  }
  co_return total;
}

weft::task<double> weft_read_seconds(std::string path) {
  io::file f = co_await io::file::open(path);
  const auto t0 = bench_clock::now();
  std::vector<weft::task<std::uint64_t>> parts;
  const std::uint64_t quarter = file_size / readers;
  for (unsigned r = 0; r < readers; ++r) parts.push_back(read_range(f, r * quarter, (r + 1) * quarter));
  const std::vector<std::uint64_t> got = co_await weft::when_all(std::move(parts));
  const double secs = std::chrono::duration<double>(bench_clock::now() - t0).count();
  std::uint64_t sum = 0;
  for (auto n : got) sum += n;
  if (sum != file_size) {
    std::fprintf(stderr, "file_read: read %llu bytes\n", static_cast<unsigned long long>(sum));
    std::abort();
  }
  co_return secs;
}

struct timing {
  double seconds = 1e9;
  const char* driver = "";  // the one the runtime really uses
};

timing best_weft(const std::string& path, weft::io_backend backend) {
  weft::runtime rt{{.io = backend}};  // one worker per core
  timing t;
  t.driver = rt.io_backend() == weft::io_backend::io_uring ? "uring" : "epoll";
  for (int i = 0; i < reps; ++i) t.seconds = std::min(t.seconds, rt.block_on(weft_read_seconds(path)));
  return t;
}

// `cat FILE > /dev/null` through /bin/sh, path quoted for the shell.
double cat_seconds(const std::string& path) {
  std::string quoted = "'";
  for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  const std::string cmd = "cat " + quoted + " > /dev/null";
  const auto t0 = bench_clock::now();
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "file_read: '%s' failed\n", cmd.c_str());
    std::exit(1);
  }
  return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "/tmp/weft-file-read.bin";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != file_size) {
    std::fprintf(stderr, "file_read: writing %s (1 GiB)\n", path.c_str());
    try {
      weft::run(generate(path));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "file_read: %s\n", e.what());
      return 1;
    }
  }
  cat_seconds(path);  // warms the page cache

  double cat_best = 1e9;
  for (int i = 0; i < reps; ++i) cat_best = std::min(cat_best, cat_seconds(path));
  const double gb = static_cast<double>(file_size) / 1e9;
  const double cat_rate = gb / cat_best;

  for (auto backend : {weft::io_backend::automatic, weft::io_backend::epoll}) {
    const timing t = best_weft(path, backend);
    const double rate = gb / t.seconds;
    std::printf("RESULT file_read io=%s readers=%u size_mb=%llu gb_per_s=%.2f cat_gb_per_s=%.2f ratio=%.2f\n", t.driver,
                readers, static_cast<unsigned long long>(file_size >> 20), rate, cat_rate, rate / cat_rate);
    std::fflush(stdout);
  }
  return 0;
}
