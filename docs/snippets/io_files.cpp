// Files: whole-file helpers, and a file read and written at offsets.
#include <weft/weft.hpp>

#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "check.hpp"

namespace io = weft::io;

weft::task<> files(std::string dir) {
  // [start whole]
  const std::string path = dir + "/notes.txt";
  co_await io::write_file(path, "one\ntwo\n");  // created, or truncated
  CHECK(co_await io::read_file(path) == "one\ntwo\n");
  // [end whole]

  // [start file]
  auto f = co_await io::file::open(path, {.read = true, .write = true});  // braced options are fine here
  co_await f.write_all_at(io::as_bytes("ONE"), 0);
  std::array<std::byte, 3> buf;
  std::size_t n = co_await f.read_at(buf, 4);  // fewer than asked only at the end of the file
  CHECK(n == 3 && std::memcmp(buf.data(), "two", 3) == 0);
  io::file_status st = co_await f.stat();
  CHECK(st.size == 8 && st.is_regular());
  co_await f.fsync();
  co_await f.close();  // reports a close error, which the destructor cannot

  io::buffered_reader lines{co_await io::file::open(path)};  // a file is a stream too
  CHECK(co_await lines.read_line() == "ONE");
  // [end file]

  // [start file_errors]
  const std::string missing = dir + "/no/such/file";
  try {
    co_await io::file::open(missing);
    CHECK(false);
  } catch (const std::system_error& e) {  // "open <path>: No such file or directory"
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK(std::string(e.what()).starts_with("open " + missing));
  }
  try {
    co_await io::file::open(path, {.truncate = true});  // truncate without write
    CHECK(false);
  } catch (const std::invalid_argument&) {
  }
  // [end file_errors]
}

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("weft-docs-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  weft::run(files(dir.string()));
  fs::remove_all(dir);
}
