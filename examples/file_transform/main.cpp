// Reads every file in a folder, transforms it (upper case, numbered lines)
// and writes the result under the same name into another folder, a few
// files at a time, with progress on stderr and a summary at the end.
//
//   file_transform [IN_DIR OUT_DIR] [--jobs J] [--workers N] [--io uring|epoll|auto]
//
// Without folders it makes a demo input (200 text files of varying size)
// in a new temporary directory, and removes it at the end. A file that
// cannot be read or written is reported with the reason and the others go
// on; the exit status is then 1.
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <weft/weft.hpp>

#include "../common/cli.hpp"

namespace fs = std::filesystem;
namespace io = weft::io;

namespace {

struct options {
  std::string in_dir, out_dir;  // empty: demo
  unsigned jobs = 8;            // files in flight
  weft::runtime_options runtime;
};

// What happened to one file.
struct outcome {
  fs::path name;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::string error;  // empty: done
};

// The work itself: CPU-light and easy to check by eye.
std::string number_lines_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4 + 16);
  unsigned long line = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view part = text.substr(0, nl);
    fmt::format_to(std::back_inserter(out), "{:6}  ", ++line);
    for (char c : part) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    out.push_back('\n');
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

weft::task<outcome> transform_one(fs::path in, fs::path out_dir) {
  outcome r;
  r.name = in.filename();
  const fs::path out = out_dir / in.filename();
  bool writing = false;
  try {
    const std::string text = co_await io::read_file(in);
    r.bytes_in = text.size();
    const std::string result = number_lines_upper(text);
    writing = true;
    co_await io::write_file(out, result);
    r.bytes_out = result.size();
  } catch (const weft::operation_cancelled&) {
    throw;  // not a failure of this file: the whole job is stopping
  } catch (const std::exception& e) {
    r.error = e.what();  // "open /in/x: Permission denied", "write /out/x: No space left on device"...
    std::error_code ignored;
    if (writing) fs::remove(out, ignored);  // leave no half-written output behind
  }
  co_return r;
}

// One of J identical workers: takes paths until the queue is closed and empty.
weft::task<void> transform_worker(weft::channel<fs::path>& todo, weft::channel<outcome>& done,
                                  const fs::path& out_dir) {
  while (auto in = co_await todo.recv()) co_await done.send(co_await transform_one(std::move(*in), out_dir));
}

// Queues every path, then closes the queue so that the workers end.
weft::task<void> feed(const std::vector<fs::path>& files, weft::channel<fs::path>& todo) {
  for (const auto& f : files) co_await todo.send(f);
  todo.close();
}

// Progress on stderr: redrawn in place on a terminal, else a line per 10%.
class progress {
 public:
  explicit progress(std::size_t total) : total_(total), tty_(::isatty(STDERR_FILENO) == 1) {}

  void update(std::size_t done, std::size_t failed, std::uint64_t bytes_in) {
    const auto now = weft::clock::now();
    const bool last = done == total_;
    if (tty_) {
      if (!last && now - drawn_ < std::chrono::milliseconds(100)) return;
      drawn_ = now;
      fmt::print(stderr, "\r{:6}/{} files  {:9.1f} MB  {} failed{}", done, total_, bytes_in / 1e6, failed,
                 last ? "\n" : "");
    } else {
      const std::size_t tenth = total_ ? done * 10 / total_ : 10;
      if (tenth == tenth_ && !last) return;
      tenth_ = tenth;
      fmt::print(stderr, "{}/{} files, {:.1f} MB, {} failed\n", done, total_, bytes_in / 1e6, failed);
    }
  }

 private:
  std::size_t total_;
  bool tty_;
  weft::clock::time_point drawn_{};
  std::size_t tenth_ = 0;
};

// Every entry of `dir` that is not a directory, sorted. A plain blocking
// function: transform_all runs it on the blocking pool.
std::vector<fs::path> list_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (!e.is_directory()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

weft::task<int> transform_all(fs::path in_dir, fs::path out_dir, unsigned jobs) {
  const std::vector<fs::path> files = co_await weft::spawn_blocking(list_files, in_dir);
  fmt::print("{} files from {} to {}, {} at a time\n", files.size(), in_dir.string(), out_dir.string(), jobs);

  const auto t0 = weft::clock::now();
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::vector<outcome> failures;
  progress bar(files.size());
  weft::channel<fs::path> todo{jobs};
  weft::channel<outcome> done{jobs};
  co_await weft::task_scope::run([&](weft::task_scope& scope) -> weft::task<> {
    for (unsigned i = 0; i < jobs; ++i) scope.spawn(transform_worker(todo, done, out_dir));
    scope.spawn(feed(files, todo));
    // One task prints and sums: no lock needed around the counters.
    for (std::size_t n = 1; n <= files.size(); ++n) {
      outcome r = *co_await done.recv();
      bytes_in += r.bytes_in;
      bytes_out += r.bytes_out;
      if (!r.error.empty()) failures.push_back(std::move(r));
      bar.update(n, failures.size(), bytes_in);
    }
  });
  const double secs = std::chrono::duration<double>(weft::clock::now() - t0).count();

  fmt::print("files:  {} done, {} failed\n", files.size() - failures.size(), failures.size());
  fmt::print("bytes:  {:.2f} MB in, {:.2f} MB out\n", bytes_in / 1e6, bytes_out / 1e6);
  fmt::print("time:   {:.3f} s, {:.1f} MB/s (in + out)\n", secs, secs > 0 ? (bytes_in + bytes_out) / 1e6 / secs : 0.0);
  for (const auto& f : failures) fmt::print("failed: {}: {}\n", f.name.string(), f.error);
  co_return failures.empty() ? 0 : 1;
}

// The demo input: text files from about 1 KB to 300 KB.
weft::task<void> make_demo_input(fs::path dir, unsigned count) {
  static constexpr std::string_view words[] = {"weft",   "warp", "loom",  "thread", "shuttle", "bobbin",
                                               "heddle", "reed", "spool", "twill",  "satin",   "plain"};
  std::uint32_t x = 12345;
  for (unsigned i = 0; i < count; ++i) {
    const std::size_t target = 1000 + (std::size_t{i} * i * 7919) % 300'000;
    std::string text;
    while (text.size() < target) {
      for (int w = 0; w < 9; ++w) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;  // xorshift: varied but repeatable
        text += words[x % std::size(words)];
        text += w == 8 ? '\n' : ' ';
      }
    }
    co_await io::write_file(dir / fmt::format("doc-{:03}.txt", i), text);
  }
}

// A new directory under $TMPDIR (else /tmp) that removes itself.
class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/weft-file-transform-XXXXXX";
    if (!::mkdtemp(templ.data()))
      throw std::system_error(errno, std::generic_category(), "cannot create a directory from " + templ);
    path_ = templ;
  }
  temp_dir(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (ec) fmt::print(stderr, "file_transform: could not remove {}: {}\n", path_.string(), ec.message());
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

weft::task<int> demo(unsigned jobs) {
  temp_dir tmp;
  const fs::path in = tmp.path() / "in", out = tmp.path() / "out";
  fs::create_directory(in);
  fs::create_directory(out);
  fmt::print("demo: writing 200 text files into {} (removed at the end)\n", in.string());
  co_await make_demo_input(in, 200);
  const int status = co_await transform_all(in, out, jobs);
  const std::string sample = co_await io::read_file(out / "doc-001.txt");
  fmt::print("doc-001.txt now starts with:\n{}", sample.substr(0, sample.find('\n', sample.find('\n') + 1) + 1));
  co_return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Transforms every file of IN_DIR (upper case, numbered lines) into OUT_DIR, a few at a time.\n"
      "Without folders it makes a demo input in a temporary directory and removes it at the end.",
      "file_transform"};
  options opt;
  auto* in = app.add_option("IN_DIR", opt.in_dir, "folder whose files are read")->check(CLI::ExistingDirectory);
  auto* out = app.add_option("OUT_DIR", opt.out_dir, "folder the results are written to (created if missing)");
  in->needs(out);
  out->needs(in);
  app.add_option("--jobs", opt.jobs, "files in flight at once")->check(CLI::Range(1u, 4096u));
  example::add_runtime_flags(app, opt.runtime.workers, opt.runtime.io);
  example::add_version_flag(app);
  app.footer("Exit codes: 0 done, 1 a file could not be transformed (the others are), 2 usage error.");
  if (auto rc = example::parse(app, argc, argv)) return *rc;

  try {
    if (opt.in_dir.empty()) return weft::run(demo(opt.jobs), opt.runtime);
    fs::create_directories(opt.out_dir);
    // Writing into the input folder would overwrite the files being read.
    if (fs::equivalent(opt.in_dir, opt.out_dir)) return example::usage_failure(app, "OUT_DIR must not be IN_DIR");
    return weft::run(transform_all(opt.in_dir, opt.out_dir, opt.jobs), opt.runtime);
  } catch (const std::exception& e) {
    fmt::print(stderr, "file_transform: error: {}\n", e.what());
    return example::exit_error;
  }
}
