// Reads and parses several large CSV files with spawn_blocking, one after
// another and then all at once, and prints both times.
//
//   threaded_reads [--files N] [--mb MB_PER_FILE] [--workers N] [--io uring|epoll|auto]
//
// The files are generated into a fresh temporary directory (under $TMPDIR,
// else /tmp) and removed at the end, also after an error.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/core.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "../common/cli.hpp"

namespace fs = std::filesystem;

namespace {

struct options {
  unsigned files = 4;
  unsigned mb = 20;
  weft::runtime_options runtime;
};

// What parsing one file found: rows and the sums of two columns.
struct csv_stats {
  std::uint64_t rows = 0;
  std::uint64_t quantity = 0;
  double amount = 0;
};

[[noreturn]] void fail_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

// A temporary directory that removes itself and what it holds.
class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/weft-threaded-reads-XXXXXX";
    if (!::mkdtemp(templ.data())) fail_errno("cannot create a temporary directory from " + templ);
    path_ = templ;
  }
  temp_dir(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) fmt::print(stderr, "threaded_reads: could not remove {}: {}\n", path_.string(), ec.message());
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Writes about `bytes` of "id,name,amount,quantity" rows; returns what a
// correct parser must find. Checks every write: a full disk is an error.
csv_stats generate_csv(const fs::path& path, std::uint64_t bytes, unsigned seed) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) fail_errno("cannot create " + path.string());
  csv_stats expect;
  std::string buf = "id,name,amount,quantity\n";
  std::uint64_t written = 0, x = seed * 2654435761u + 1;
  auto flush = [&] {
    if (std::fwrite(buf.data(), 1, buf.size(), f) != buf.size()) {
      int err = errno;
      std::fclose(f);
      errno = err;
      fail_errno("cannot write " + path.string());
    }
    written += buf.size();
    buf.clear();
  };
  for (std::uint64_t id = 1; written + buf.size() < bytes; ++id) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift: cheap varied values
    const unsigned cents = static_cast<unsigned>(x % 1'000'000);
    const unsigned qty = static_cast<unsigned>((x >> 24) % 100);
    fmt::format_to(std::back_inserter(buf), "{},item-{},{}.{:02},{}\n", id, x % 100000, cents / 100, cents % 100, qty);
    ++expect.rows;
    expect.quantity += qty;
    expect.amount += cents / 100.0;
    if (buf.size() >= (1u << 20)) flush();
  }
  flush();
  if (std::fclose(f) != 0) fail_errno("cannot write " + path.string());
  return expect;
}

std::string_view next_field(std::string_view& line) {
  const std::size_t comma = line.find(',');
  std::string_view field = line.substr(0, comma);
  line.remove_prefix(comma == std::string_view::npos ? line.size() : comma + 1);
  return field;
}

// The blocking work: read() the file in 1 MiB chunks, split lines (one
// may straddle two chunks) and fields, sum the amount and quantity columns.
csv_stats parse_csv(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open " + path.string());
  csv_stats s;
  std::vector<char> chunk(1 << 20);
  std::string carry;  // an incomplete last line
  std::uint64_t line_no = 0;
  auto parse_line = [&](std::string_view line) {
    if (++line_no == 1) return;  // header
    if (line.empty()) return;
    next_field(line);  // id
    next_field(line);  // name
    std::string_view amount = next_field(line), qty = next_field(line);
    double a = 0;
    unsigned q = 0;
    if (qty.empty() || !line.empty() ||
        std::from_chars(amount.data(), amount.data() + amount.size(), a).ec != std::errc{} ||
        std::from_chars(qty.data(), qty.data() + qty.size(), q).ec != std::errc{})
      throw std::runtime_error(path.string() + ":" + std::to_string(line_no) + ": malformed row");
    ++s.rows;
    s.amount += a;
    s.quantity += q;
  };
  for (;;) {
    const ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      errno = err;
      fail_errno("cannot read " + path.string());
    }
    if (n == 0) break;
    std::string_view data(chunk.data(), static_cast<std::size_t>(n));
    try {
      while (!data.empty()) {
        const std::size_t nl = data.find('\n');
        if (nl == std::string_view::npos) {
          carry.append(data);
          break;
        }
        if (carry.empty()) {
          parse_line(data.substr(0, nl));
        } else {
          carry.append(data.substr(0, nl));
          parse_line(carry);
          carry.clear();
        }
        data.remove_prefix(nl + 1);
      }
    } catch (...) {
      ::close(fd);
      throw;
    }
  }
  ::close(fd);
  if (!carry.empty()) parse_line(carry);
  return s;
}

double ms_since(weft::clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(weft::clock::now() - t0).count();
}

bool same(const csv_stats& a, const csv_stats& b) {
  // Sums of doubles in the same order: equal up to rounding of the parse.
  return a.rows == b.rows && a.quantity == b.quantity && std::abs(a.amount - b.amount) < 1e-6 * (1 + b.amount);
}

weft::task<int> demo(options opt) {
  temp_dir dir;
  fmt::print("generating {} CSV files of {} MB in {} ...\n", opt.files, opt.mb, dir.path().string());
  std::vector<fs::path> paths;
  std::vector<weft::join_handle<csv_stats>> gen;
  for (unsigned i = 0; i < opt.files; ++i) {
    paths.push_back(dir.path() / ("data-" + std::to_string(i) + ".csv"));
    gen.push_back(weft::spawn_blocking(generate_csv, paths.back(), std::uint64_t{opt.mb} << 20, i + 1));
  }
  std::vector<csv_stats> expected;
  for (auto& h : gen) expected.push_back(co_await h);

  // One after another: each read starts when the previous one is done.
  fmt::print("sequential: one file after another\n");
  const auto t_seq = weft::clock::now();
  std::vector<csv_stats> seq;
  for (const auto& p : paths) seq.push_back(co_await weft::spawn_blocking(parse_csv, p));
  const double seq_ms = ms_since(t_seq);

  // All at once, reported as they finish.
  fmt::print("concurrent: all files at once (spawn_blocking + as_completed)\n");
  const auto t_par = weft::clock::now();
  std::vector<weft::join_handle<csv_stats>> jobs;
  for (const auto& p : paths) jobs.push_back(weft::spawn_blocking(parse_csv, p));
  std::vector<csv_stats> par(paths.size());
  auto stream = weft::as_completed(std::move(jobs));
  while (auto done = co_await stream.next()) {
    par[done->index] = co_await done->handle;
    const csv_stats& s = par[done->index];
    fmt::print("  {:<12} {:9} rows, amount {:16.2f}, quantity {:10}  (after {:.0f} ms)\n",
               paths[done->index].filename().string(), s.rows, s.amount, s.quantity, ms_since(t_par));
  }
  const double par_ms = ms_since(t_par);

  for (std::size_t i = 0; i < paths.size(); ++i) {
    if (!same(seq[i], expected[i]) || !same(par[i], expected[i])) {
      fmt::print(stderr, "threaded_reads: {} parsed wrong\n", paths[i].string());
      co_return 1;
    }
  }
  const double total_mb = static_cast<double>(opt.files) * opt.mb;
  fmt::print("sequential: {:8.1f} ms  ({:6.0f} MB/s)\n", seq_ms, total_mb / (seq_ms / 1000));
  fmt::print("concurrent: {:8.1f} ms  ({:6.0f} MB/s)\n", par_ms, total_mb / (par_ms / 1000));
  fmt::print("speed-up:   {:8.2f}x with {} files on {} cores\n", seq_ms / par_ms, opt.files,
             std::thread::hardware_concurrency());
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Generates CSV files in a temporary directory, then reads and parses them with spawn_blocking,\n"
      "one after another and then all at once, and prints both times.",
      "threaded_reads"};
  options opt;
  app.add_option("--files", opt.files, "CSV files")->check(CLI::Range(1u, 256u));
  app.add_option("--mb", opt.mb, "size of each file in MB")->check(CLI::Range(1u, 4096u));
  example::add_runtime_flags(app, opt.runtime.workers, opt.runtime.io);
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 error (disk full, a file parsed wrong), 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;

  try {
    return weft::run(demo(opt), opt.runtime);
  } catch (const std::exception& e) {
    fmt::print(stderr, "threaded_reads: error: {}\n", e.what());
    return example::exit_error;
  }
}
