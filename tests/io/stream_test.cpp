// The stream concepts and the helpers every stream gets from them
// (io/stream.hpp): write_all over partial writes, read_exact across chunk
// boundaries and its unexpected_eof, read_full stopping at end of stream,
// deadlines passed down to each call, byte views; on memory_stream
// (io_test_support.hpp) and on a real Unix stream pair, both drivers.
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "io_fault_support.hpp"

using namespace std::chrono_literals;
using namespace weft_test;
namespace io = weft::io;

namespace {

/// Only reads: a readable_stream, not a stream.
struct read_only {
  weft::task<std::size_t> read_some(std::span<std::byte>, io::deadline = {}) { co_return 0; }
};
/// Only writes: a writable_stream, not a stream.
struct write_only {
  weft::task<std::size_t> write_some(std::span<const std::byte> b, io::deadline = {}) { co_return b.size(); }
};

static_assert(io::stream<memory_stream>);
static_assert(io::stream<io::tcp_stream>);
static_assert(io::stream<io::unix_stream>);
static_assert(io::stream<io::tls_stream<io::tcp_stream>>);
static_assert(io::readable_stream<read_only> && !io::writable_stream<read_only> && !io::stream<read_only>);
static_assert(io::writable_stream<write_only> && !io::readable_stream<write_only> && !io::stream<write_only>);
static_assert(!io::readable_stream<int> && !io::writable_stream<std::string>);
static_assert(std::is_base_of_v<std::runtime_error, io::unexpected_eof>);

template <class F>
void run(F&& body) {
  weft::runtime rt{io_options(weft::io_backend::epoll, 1)};
  rt.block_on(body());
}

}  // namespace

TEST_CASE("stream: as_bytes and as_writable_bytes view the same memory", "[io][stream]") {
  const std::string_view hello = "hello";
  auto ro = io::as_bytes(hello);
  CHECK(ro.size() == 5);
  CHECK(static_cast<const void*>(ro.data()) == static_cast<const void*>(hello.data()));
  CHECK(io::as_bytes("").empty());

  char buf[4] = {'a', 'b', 'c', 'd'};
  auto rw = io::as_writable_bytes(buf);
  REQUIRE(rw.size() == 4);
  rw[1] = std::byte{'X'};
  CHECK(std::string(buf, 4) == "aXcd");
}

TEST_CASE("stream: write_all goes on over partial writes, and writes nothing for nothing", "[io][stream]") {
  memory_stream s;
  s.max_write = 5;
  run([&]() -> weft::task<void> {
    co_await io::write_all(s, bytes("hello, streams"));
    co_await io::write_all(s, {});
  });
  CHECK(s.written == "hello, streams");
  CHECK(s.write_sizes == std::vector<std::size_t>{5, 5, 4});
}

TEST_CASE("stream: read_exact fills across chunks, then throws unexpected_eof at a short end", "[io][stream]") {
  memory_stream s;
  s.incoming = {"ab", "cde", "f"};
  std::string first(4, '\0'), second(2, '\0'), third(1, '\0');
  std::size_t reads_after_first = 0, reads_after_empty = 0;
  outcome at_end;
  run([&]() -> weft::task<void> {
    co_await io::read_exact(s, io::as_writable_bytes(first));
    reads_after_first = s.reads;
    co_await io::read_exact(s, {});  // nothing to read: no call
    reads_after_empty = s.reads;
    co_await io::read_exact(s, io::as_writable_bytes(second));
    at_end = co_await outcome_of(io::read_exact(s, io::as_writable_bytes(third)));
  });
  CHECK(first == "abcd");
  CHECK(reads_after_first == 2);
  CHECK(reads_after_empty == 2);
  CHECK(second == "ef");
  INFO(at_end);
  CHECK(at_end.kind == outcome::other);
  CHECK(at_end.what == "unexpected end of stream");
  CHECK(std::string(io::unexpected_eof{}.what()) == "unexpected end of stream");
}

TEST_CASE("stream: read_full returns what came before the end of stream", "[io][stream]") {
  memory_stream s;
  s.incoming = {"ab", "cd", "efg"};
  std::string three(3, '\0'), ten(10, '\0'), more(4, '\0');
  std::size_t got_three = 0, got_ten = 0, got_more = 99;
  run([&]() -> weft::task<void> {
    got_three = co_await io::read_full(s, io::as_writable_bytes(three));
    got_ten = co_await io::read_full(s, io::as_writable_bytes(ten));
    got_more = co_await io::read_full(s, io::as_writable_bytes(more));
  });
  CHECK(got_three == 3);
  CHECK(three == "abc");
  CHECK(got_ten == 4);
  CHECK(ten.substr(0, 4) == "defg");
  CHECK(got_more == 0);
}

TEST_CASE("stream: the deadline reaches each write_some, what was written stays written", "[io][stream]") {
  memory_stream s;
  weft::event gate;  // never set: every write_some waits for it
  s.write_gate = &gate;
  outcome o;
  run([&]() -> weft::task<void> { o = co_await outcome_of(io::write_all(s, bytes("stuck"), 50ms)); });
  INFO(o);
  CHECK(o.kind == outcome::timeout);
  CHECK(s.written.empty());
  CHECK(s.write_sizes.empty());
}

TEST_CASE("stream: write_all and read_exact over a Unix stream pair", "[io][stream]") {
  auto backend = WEFT_BOTH_BACKENDS();
  weft::runtime rt{io_options(backend)};
  struct result {
    std::string got;
    outcome short_read;
  };
  result r = rt.block_on([]() -> weft::task<result> {
    auto [a, b] = io::unix_stream::pair();
    const std::string big(1 << 20, 'w');  // more than a socket buffer holds
    auto writer = weft::spawn([](io::unix_stream& s, const std::string& data) -> weft::task<void> {
      co_await io::write_all(s, bytes(data), 20s);
      s.shutdown_write();
    }(a, big));
    result out;
    std::string in(big.size(), '\0');
    co_await io::read_exact(b, io::as_writable_bytes(in), 20s);
    out.got = in == big ? "same" : "differs";
    std::byte one[1];
    co_await writer;
    out.short_read = co_await outcome_of(io::read_exact(b, one, 20s));
    co_return out;
  }());
  CHECK(r.got == "same");
  INFO(r.short_read);
  CHECK(r.short_read.what == "unexpected end of stream");
}
