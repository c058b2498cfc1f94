// buffered_reader / buffered_writer, on both drivers: lines and records
// split across tiny reads, CRLF, limits, end of stream mid-line,
// read_exact, flush semantics, large writes, deadlines and cancellation
// (nothing buffered is lost), layering, and a stream type of the tests' own
// (memory_stream, io_test_support.hpp) to show that any type satisfying the
// concepts works.
#include <cctype>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "io_test_support.hpp"
#include "weft/runtime/sync/event.hpp"
#include "weft/runtime/yield.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

static_assert(io::stream<memory_stream>);
static_assert(io::stream<io::buffered_reader<memory_stream>>);
static_assert(io::stream<io::buffered_writer<memory_stream>>);
static_assert(io::stream<io::buffered_reader<io::tcp_stream>>);
static_assert(io::stream<io::buffered_reader<io::unix_stream&>>);
static_assert(io::stream<io::buffered_reader<io::buffered_writer<io::tcp_stream>>>);

/// One chunk per byte: every read returns a single byte.
std::deque<std::string> one_byte_chunks(std::string_view s) {
  std::deque<std::string> out;
  for (char c : s) out.emplace_back(1, c);
  return out;
}

/// Writes `s` one byte per send, then half-closes.
weft::task<void> trickle(io::unix_stream& s, std::string s_text) {
  for (char c : s_text) co_await s.write_all(bytes(std::string_view(&c, 1)), 10s);
  s.shutdown_write();
}

}  // namespace

TEST_CASE("buffered_reader: lines written one byte at a time over a unix stream", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::vector<std::optional<std::string>> lines;
  rt.block_on([&]() -> weft::task<void> {
    auto [a, b] = io::unix_stream::pair();
    auto writer = weft::spawn(trickle(a, "first\nsecond\r\n\r\nlast, no newline"));
    io::buffered_reader in{std::move(b), 4};  // smaller than a line: the buffer grows
    for (;;) {
      auto line = co_await in.read_line(100, 10s);
      lines.push_back(line);
      if (!line) break;
    }
    co_await writer;
  }());
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "first");
  CHECK(lines[1] == "second");
  CHECK(lines[2] == "");
  CHECK(lines[3] == "last, no newline");
  CHECK_FALSE(lines[4].has_value());
}

TEST_CASE("buffered_reader: records, lines and exact reads split into one-byte reads", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::optional<std::string> head, line, again;
  std::string body, rest;
  std::size_t reads = 0;
  rt.block_on([&]() -> weft::task<void> {
    memory_stream m;
    m.incoming = one_byte_chunks("GET / HTTP/1.1\r\nHost: x\r\n\r\n12345line\r\nrest");
    io::buffered_reader in{std::move(m), 8};
    head = co_await in.read_until("\r\n\r\n");
    body = co_await in.read_exact(5);
    line = co_await in.read_line();
    std::byte buf[16];
    std::size_t n = co_await io::read_full(in, buf);
    rest = text({buf, n});
    again = co_await in.read_until("\r\n");
    reads = in.inner().reads;
  }());
  CHECK(head == "GET / HTTP/1.1\r\nHost: x");
  CHECK(body == "12345");
  CHECK(line == "line");
  CHECK(rest == "rest");
  CHECK_FALSE(again.has_value());
  CHECK(reads > 40);  // really one byte per read
}

TEST_CASE("buffered_reader: lines longer than the limit", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::optional<std::string> exact, after_skip, crlf_at_limit;
  std::string kept;
  std::size_t limit_seen = 0;
  bool long_first = false, no_newline_long = false, last_line_long = false;
  rt.block_on([&]() -> weft::task<void> {
    {
      memory_stream m;
      m.incoming = one_byte_chunks("0123456789\nabcdefgh\r\nABCDEFGH\n");
      io::buffered_reader in{std::move(m)};
      try {
        (void)co_await in.read_line(8);
      } catch (const io::line_too_long& e) {
        long_first = true;
        limit_seen = e.max_length();
      }
      kept = std::string(in.buffered_text());    // the bytes stay, for the caller to skip or report
      (void)co_await in.read_line(1000);         // skip the long line
      crlf_at_limit = co_await in.read_line(8);  // 8 bytes + "\r\n": fits
      exact = co_await in.read_line(8);
      after_skip = co_await in.read_line(8);
    }
    {
      // Too long is noticed without waiting for a newline that never comes.
      memory_stream m;
      m.incoming = {std::string(64, 'x'), "\n"};
      io::buffered_reader in{std::move(m), 16};
      try {
        (void)co_await in.read_line(10);
      } catch (const io::line_too_long&) {
        no_newline_long = in.inner().incoming.size() == 2;  // the "\n" was never read
      }
    }
    {
      memory_stream m;
      m.incoming = {"0123456789"};  // a last line, too long, at end of stream
      io::buffered_reader in{std::move(m)};
      try {
        (void)co_await in.read_line(9);
      } catch (const io::line_too_long&) {
        last_line_long = true;
      }
    }
  }());
  CHECK(long_first);
  CHECK(limit_seen == 8);
  CHECK(kept.rfind("0123456789", 0) == 0);
  CHECK(crlf_at_limit == "abcdefgh");
  CHECK(exact == "ABCDEFGH");
  CHECK_FALSE(after_skip.has_value());
  CHECK(no_newline_long);
  CHECK(last_line_long);
}

TEST_CASE("buffered_reader: read_until limits, end of stream mid-record, bad delimiter", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::optional<std::string> at_limit;
  bool too_long = false, eof_mid = false, empty_delim = false;
  std::string left_after_eof;
  rt.block_on([&]() -> weft::task<void> {
    {
      memory_stream m;
      m.incoming = one_byte_chunks("abcd--|--efghi--|--");
      io::buffered_reader in{std::move(m), 2};
      at_limit = co_await in.read_until("--|--", 4);
      try {
        (void)co_await in.read_until("--|--", 4);
      } catch (const io::line_too_long&) {
        too_long = true;
      }
    }
    {
      memory_stream m;
      m.incoming = one_byte_chunks("partial\r\n");
      io::buffered_reader in{std::move(m)};
      try {
        (void)co_await in.read_until("\r\n\r\n");
      } catch (const io::unexpected_eof&) {
        eof_mid = true;
      }
      left_after_eof = std::string(in.buffered_text());
      try {
        (void)co_await in.read_until("");
      } catch (const std::invalid_argument&) {
        empty_delim = true;
      }
    }
  }());
  CHECK(at_limit == "abcd");
  CHECK(too_long);
  CHECK(eof_mid);
  CHECK(left_after_eof == "partial\r\n");
  CHECK(empty_delim);
}

TEST_CASE("buffered_reader: read_exact and read_some, bypass and end of stream", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::string big, small, direct, kept;
  std::size_t direct_n = 0;
  bool eof = false;
  rt.block_on([&]() -> weft::task<void> {
    {
      memory_stream m;
      m.incoming = {std::string(3000, 'a'), std::string(97, 'b') + "xy", std::string(64, 'd')};
      io::buffered_reader in{std::move(m), 16};
      big = co_await in.read_exact(3097);  // far beyond the capacity
      std::byte two[2];
      std::size_t n = co_await in.read_some(two);
      small = text({two, n});
      std::byte wide[64];  // >= capacity, nothing buffered: straight from the stream
      direct_n = co_await in.read_some(wide);
      direct = text({wide, direct_n});
    }
    {
      memory_stream m;
      m.incoming = one_byte_chunks("abc");
      io::buffered_reader in{std::move(m)};
      try {
        (void)co_await in.read_exact(4);
      } catch (const io::unexpected_eof&) {
        eof = true;
      }
      kept = std::string(in.buffered_text());
    }
  }());
  CHECK(big == std::string(3000, 'a') + std::string(97, 'b'));
  CHECK(small == "xy");
  CHECK(direct_n == 64);
  CHECK(direct == std::string(64, 'd'));
  CHECK(eof);
  CHECK(kept == "abc");
}

TEST_CASE("buffered_writer: nothing reaches the stream before flush or a full buffer", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::string before_flush, after_flush, final_text;
  std::vector<std::size_t> sizes;
  std::size_t some = 0;
  rt.block_on([&]() -> weft::task<void> {
    io::buffered_writer out{memory_stream{}, 8};
    co_await out.write("abc");
    co_await out.write(std::string_view("de"));
    before_flush = out.inner().written;
    co_await out.flush();
    after_flush = out.inner().written;
    co_await out.write("12345");
    co_await out.write("6789");                // does not fit: "12345" goes out, "6789" stays
    co_await out.write(std::string(20, 'L'));  // >= capacity: "6789", then L*20 straight through
    co_await out.write("xy");
    some = co_await out.write_some(bytes("0123456789"));  // takes what fits: 6
    co_await out.flush();
    co_await out.flush();  // nothing left: no write
    final_text = out.inner().written;
    sizes = out.inner().write_sizes;
  }());
  CHECK(before_flush.empty());
  CHECK(after_flush == "abcde");
  CHECK(some == 6);
  CHECK(final_text ==
        "abcde"
        "12345"
        "6789" +
            std::string(20, 'L') + "xy012345");
  CHECK(sizes == std::vector<std::size_t>{5, 5, 4, 20, 8});
}

TEST_CASE("buffered_writer: partial writes, and a flush that times out keeps its bytes", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::exception_ptr timed_out;
  std::string kept, written;
  std::vector<std::size_t> sizes;
  rt.block_on([&]() -> weft::task<void> {
    weft::event gate;
    memory_stream m;
    m.max_write = 3;
    m.write_gate = &gate;
    io::buffered_writer out{std::move(m), 64};
    co_await out.write("hello, world");
    timed_out = co_await error_of(out.flush(20ms));  // the stream accepts nothing
    kept = text(out.buffered());
    gate.set();
    co_await out.flush(10s);
    written = out.inner().written;
    sizes = out.inner().write_sizes;
  }());
  CHECK_THROWS_AS(rethrow_if(timed_out), weft::timeout_error);
  CHECK(kept == "hello, world");
  CHECK(written == "hello, world");
  CHECK(sizes == std::vector<std::size_t>{3, 3, 3, 3});
}

TEST_CASE("buffered_writer: large and small writes over a unix stream arrive intact", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::string expected, got;
  for (int i = 0; i < 1000; ++i) expected += "line " + std::to_string(i) + "\n";
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  expected += big + "tail";
  rt.block_on([&]() -> weft::task<void> {
    auto [a, b] = io::unix_stream::pair();
    auto reader = weft::spawn([](io::unix_stream s, std::string& out) -> weft::task<void> {
      std::byte buf[65536];
      while (std::size_t n = co_await s.read_some(buf, 30s)) out += text({buf, n});
    }(std::move(b), got));
    io::buffered_writer out{a};  // refers to a
    static_assert(std::is_same_v<decltype(out), io::buffered_writer<io::unix_stream&>>);
    for (int i = 0; i < 1000; ++i) co_await out.write("line " + std::to_string(i) + "\n", 30s);
    co_await out.write(big, 30s);  // bypasses the buffer, after the lines before it
    co_await out.write("tail", 30s);
    co_await out.flush(30s);
    a.shutdown_write();
    co_await reader;
  }());
  CHECK(got.size() == expected.size());
  CHECK(got == expected);
}

TEST_CASE("buffered_reader: a timed-out or cancelled read_line loses nothing", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend, 1)};  // the cancel must find the reader parked or not yet started
  std::exception_ptr timed_out, cancelled;
  std::string after_timeout, after_cancel;
  std::optional<std::string> line1, line2;
  rt.block_on([&]() -> weft::task<void> {
    auto [a, b] = io::unix_stream::pair();
    io::buffered_reader in{b};
    co_await a.write_all(bytes("abc"));
    (void)co_await in.fill();  // "abc" is buffered
    timed_out = co_await error_of(in.read_line(100, 20ms));
    after_timeout = std::string(in.buffered_text());

    auto h = weft::spawn(
        [](io::buffered_reader<io::unix_stream&>& r) -> weft::task<void> { (void)co_await r.read_line(100); }(in));
    co_await a.write_all(bytes("def"));
    co_await weft::yield_now();  // let the reader take "def" and park again
    h.cancel();
    cancelled = co_await error_of(std::move(h));
    after_cancel = std::string(in.buffered_text());
    co_await a.write_all(bytes("\nnext\n"));
    line1 = co_await in.read_line(100, 10s);
    line2 = co_await in.read_line(100, 10s);
  }());
  CHECK_THROWS_AS(rethrow_if(timed_out), weft::timeout_error);
  CHECK(after_timeout == "abc");
  CHECK_THROWS_AS(rethrow_if(cancelled), weft::operation_cancelled);
  // Whether the reader got to "def" before the cancel depends on the driver; nothing is lost either way.
  CHECK((after_cancel == "abc" || after_cancel == "abcdef"));
  CHECK(line1 == "abcdef");
  CHECK(line2 == "next");
}

TEST_CASE("buffered layers: a buffered duplex stream, request and response", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::optional<std::string> reply;
  rt.block_on([&]() -> weft::task<void> {
    auto [a, b] = io::unix_stream::pair();
    // Server side: an echo of lines, upper-cased, through a reader over a writer.
    auto server = weft::spawn([](io::unix_stream s) -> weft::task<void> {
      io::buffered_reader io_{io::buffered_writer{std::move(s)}};
      while (auto line = co_await io_.read_line(1024, 10s)) {
        for (char& c : *line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        co_await io::write_all(io_, bytes(*line + "\n"), 10s);  // reader forwards writes to the writer
        co_await io_.inner().flush(10s);
      }
    }(std::move(b)));
    io::buffered_reader in{a};
    co_await io::write_all(in, bytes("hello\n"), 10s);
    reply = co_await in.read_line(1024, 10s);
    a.shutdown_write();
    co_await server;
  }());
  CHECK(reply == "HELLO");
}

TEST_CASE("buffered_reader: moved with data buffered, and consume checks its bound", "[io][buffered]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  std::optional<std::string> first, second;
  bool out_of_range = false;
  rt.block_on([&]() -> weft::task<void> {
    memory_stream m;
    m.incoming = {"one\ntwo\n"};
    io::buffered_reader in{std::move(m)};
    first = co_await in.read_line();
    auto moved = std::move(in);
    try {
      moved.consume(100);
    } catch (const std::out_of_range&) {
      out_of_range = true;
    }
    second = co_await moved.read_line();
  }());
  CHECK(first == "one");
  CHECK(out_of_range);
  CHECK(second == "two");
}
