#include <catch2/catch.hpp>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "weft/ipc/serialize.hpp"

namespace ipc = weft::ipc;

// ------------------------------------------------------------ test types
namespace {

enum class color : std::uint8_t { red = 1, green = 2, blue = 3 };
enum plain_enum { plain_a = -5, plain_b = 70000 };

struct point {
  double x, y;
  int tag;
  friend bool operator==(const point&, const point&) = default;
};

// Trivially copyable but not default-constructible: decoded by bit_cast.
struct fixed {
  explicit fixed(int v) : value(v) {}
  int value;
  friend bool operator==(const fixed&, const fixed&) = default;
};

int triple(int x) { return 3 * x; }

union float_bits {
  float f;
  std::uint32_t u;
};

// cereal, member serialize().
struct person {
  std::string name;
  int age = 0;
  std::vector<std::string> tags;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, age, tags);
  }
  friend bool operator==(const person&, const person&) = default;
};

// cereal, member save() and load().
struct account {
  std::string id;
  long long cents = 0;
  template <class Archive>
  void save(Archive& ar) const {
    ar(id, cents);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(id, cents);
  }
  friend bool operator==(const account&, const account&) = default;
};

// cereal, free serialize().
struct rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const rgb&, const rgb&) = default;
};
template <class Archive>
void serialize(Archive& ar, rgb& c) {
  ar(c.r, c.g, c.b);
}

// Trivially copyable with a cereal serialize() that skips a field: cereal
// must win over memcpy.
struct cached_sum {
  int a = 0;
  int b = 0;
  int cache = 0;  // not sent
  template <class Archive>
  void serialize(Archive& ar) {
    ar(a, b);
  }
};

// cereal with nothing to write: an element that may occupy 0 bytes.
struct empty_cereal {
  template <class Archive>
  void serialize(Archive&) {}
  friend bool operator==(const empty_cereal&, const empty_cereal&) = default;
};

// A cereal type whose save() throws something of its own.
struct refusing_save {
  struct nope : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  template <class Archive>
  void save(Archive&) const {
    throw nope("refusing_save::save");
  }
  template <class Archive>
  void load(Archive&) {}
};

// A cereal type whose save() throws cereal's exception.
struct cereal_failure {
  template <class Archive>
  void save(Archive&) const {
    throw cereal::Exception("custom cereal failure");
  }
  template <class Archive>
  void load(Archive&) {}
};

// Trivially copyable, with cereal, and with a user specialization (below):
// the specialization wins over both.
struct special {
  int v = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(v);
  }
};

// Not trivially copyable and no cereal: refused.
struct opaque {
  std::string s;
};

}  // namespace

namespace {
// Recursive through a standard container, sent by a user specialization.
struct tree {
  int value = 0;
  std::vector<tree> kids;
  friend bool operator==(const tree&, const tree&) = default;
};
}  // namespace

template <>
struct weft::ipc::serializer<tree> {
  template <class Writer>
  static void encode(Writer& w, const tree& t) {
    weft::ipc::encode(w, t.value);
    weft::ipc::encode(w, t.kids);
  }
  static tree decode(byte_reader& r) {
    tree t;
    t.value = weft::ipc::decode<int>(r);
    t.kids = weft::ipc::decode<std::vector<tree>>(r);
    return t;
  }
};

template <>
struct weft::ipc::serializer<special> {
  static constexpr std::uint32_t magic = 0x5bec1a1u;
  template <class Writer>
  static void encode(Writer& w, const special& s) {
    w.write(&magic, sizeof magic);
    std::int64_t wide = s.v;
    w.write(&wide, sizeof wide);
  }
  static special decode(byte_reader& r) {
    std::uint32_t m = 0;
    r.read(&m, sizeof m);
    if (m != magic) throw serialization_error("special: bad magic");
    std::int64_t wide = 0;
    r.read(&wide, sizeof wide);
    return special{static_cast<int>(wide)};
  }
};

// ------------------------------------------------------------ helpers
namespace {

// An exactly sized heap buffer per call, so that ASan catches any read or
// write past it.
struct encoded {
  std::unique_ptr<std::byte[]> bytes;
  std::size_t size = 0;
};

template <class T>
encoded encode_exactly(const T& v) {
  ipc::size_counter counter;
  ipc::encode(counter, v);
  encoded e{std::make_unique<std::byte[]>(counter.size() + 1), counter.size()};
  ipc::byte_writer w(e.bytes.get(), e.size);
  ipc::encode(w, v);
  CHECK(w.written() == counter.size());
  CHECK(ipc::encoded_size(v) == counter.size());
  return e;
}

template <class T>
T round_trip(const T& v) {
  encoded e = encode_exactly(v);
  ipc::byte_reader r(e.bytes.get(), e.size);
  T out = ipc::decode<T>(r);
  CHECK(r.remaining() == 0);
  return out;
}

template <class T>
void check_round_trip(const T& v) {
  T out = round_trip(v);
  CHECK(out == v);
}

// Decodes T from the first cut bytes only, each in its own exactly sized
// buffer: every cut must throw serialization_error.
template <class T>
void check_every_cut_throws(const T& v) {
  encoded e = encode_exactly(v);
  REQUIRE(e.size > 0);
  for (std::size_t cut = 0; cut < e.size; ++cut) {
    auto part = std::make_unique<std::byte[]>(cut);
    if (cut != 0) std::memcpy(part.get(), e.bytes.get(), cut);
    ipc::byte_reader r(part.get(), cut);
    INFO("cut at " << cut << " of " << e.size);
    CHECK_THROWS_AS(ipc::decode<T>(r), ipc::serialization_error);
  }
}

template <class T>
std::string decode_error(const std::vector<std::byte>& bytes) {
  ipc::byte_reader r(bytes.data(), bytes.size());
  try {
    (void)ipc::decode<T>(r);
  } catch (const ipc::serialization_error& e) {
    return e.what();
  }
  return "(no error)";
}

void append(std::vector<std::byte>& out, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::byte*>(p);
  out.insert(out.end(), b, b + n);
}

void append_u64(std::vector<std::byte>& out, std::uint64_t n) { append(out, &n, sizeof n); }

// Counts what it allocates, so a test can see that a refused decode
// allocated nothing.
inline std::size_t allocated_bytes = 0;

template <class T>
struct counting_allocator {
  using value_type = T;
  counting_allocator() = default;
  template <class U>
  counting_allocator(const counting_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    allocated_bytes += n * sizeof(T);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  friend bool operator==(const counting_allocator&, const counting_allocator&) = default;
};

// Records each write, to check that bulk data goes in one block.
struct recording_writer {
  std::vector<std::size_t> writes;
  void write(const void*, std::size_t n) { writes.push_back(n); }
};

}  // namespace

// ------------------------------------------------------------ compile time
static_assert(ipc::serializable<int>);
static_assert(ipc::serializable<const double>);
static_assert(ipc::serializable<bool>);
static_assert(ipc::serializable<color>);
static_assert(ipc::serializable<point>);
static_assert(ipc::serializable<fixed>);
static_assert(ipc::serializable<int (*)(int)>);  // a function pointer is valid in a forked child
static_assert(ipc::serializable<int point::*>);
static_assert(ipc::serializable<float_bits>);
static_assert(ipc::serializable<std::chrono::milliseconds>);
static_assert(ipc::serializable<std::chrono::steady_clock::time_point>);
static_assert(ipc::serializable<std::vector<std::map<std::string, std::optional<std::pair<int, std::string>>>>>);
static_assert(ipc::serializable<std::vector<person>>);
static_assert(ipc::serializable<std::map<std::string, account>>);
static_assert(ipc::serializable<special>);

static_assert(!ipc::serializable<int*>);
static_assert(!ipc::serializable<const char*>);
static_assert(!ipc::serializable<void*>);
static_assert(!ipc::serializable<int&>);
static_assert(!ipc::serializable<int[4]>);
static_assert(!ipc::serializable<std::span<int>>);
static_assert(!ipc::serializable<std::string_view>);
static_assert(!ipc::serializable<std::unique_ptr<int>>);
static_assert(!ipc::serializable<std::shared_ptr<person>>);
static_assert(!ipc::serializable<std::weak_ptr<int>>);
static_assert(!ipc::serializable<std::reference_wrapper<int>>);
static_assert(!ipc::serializable<opaque>);
static_assert(!ipc::serializable<std::vector<int*>>);
static_assert(!ipc::serializable<std::vector<std::string_view>>);
static_assert(!ipc::serializable<std::map<std::string, std::unique_ptr<int>>>);
static_assert(!ipc::serializable<std::optional<std::span<const int>>>);
static_assert(!ipc::serializable<std::tuple<int, std::variant<std::string, opaque>>>);
static_assert(!ipc::serializable<std::pair<opaque, int>>);

// A refused type has no encode() at all, so code that checks can route around it.
template <class T>
concept has_encode = requires(ipc::size_counter& c, const T& v) {
  ipc::serializer<T>::encode(c, v);
};
static_assert(!has_encode<int*>);
static_assert(!has_encode<std::vector<std::unique_ptr<int>>>);
static_assert(has_encode<int>);

static_assert(std::is_same_v<ipc::wire_t<decltype("literal")>, std::string>);
static_assert(std::is_same_v<ipc::wire_t<char[8]>, std::string>);
static_assert(std::is_same_v<ipc::wire_t<const char*>, std::string>);
static_assert(std::is_same_v<ipc::wire_t<char*>, std::string>);
static_assert(std::is_same_v<ipc::wire_t<std::string_view>, std::string>);
static_assert(std::is_same_v<ipc::wire_t<const std::string_view&>, std::string>);
static_assert(std::is_same_v<ipc::wire_t<const std::string&>, std::string>);
static_assert(std::is_same_v<ipc::wire_t<int&&>, int>);
static_assert(std::is_same_v<ipc::wire_t<const std::vector<int>&>, std::vector<int>>);
static_assert(std::is_same_v<ipc::wire_t<int (&)(int)>, int (*)(int)>);
static_assert(std::is_same_v<ipc::wire_t<int*>, int*>);  // and then refused

// ------------------------------------------------------------ round trips
TEST_CASE("serialize: arithmetic, enums, trivially copyable, chrono and function pointers round trip",
          "[ipc][serialize]") {
  check_round_trip(0);
  check_round_trip(-123456789);
  check_round_trip(std::int64_t{-1} << 62);
  check_round_trip(std::uint8_t{255});
  check_round_trip('x');
  check_round_trip(3.25);
  check_round_trip(-1.5f);
  check_round_trip(true);
  check_round_trip(false);
  check_round_trip(color::blue);
  check_round_trip(plain_b);
  check_round_trip(point{1.5, -2.5, 7});
  check_round_trip(fixed(42));
  check_round_trip(std::chrono::milliseconds(1234));
  check_round_trip(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(987654321)));
  check_round_trip(nullptr);
  int (*f)(int) = triple;
  auto g = round_trip(f);
  CHECK(g(5) == 15);
  int point::*member = &point::tag;
  CHECK(round_trip(member) == member);
  float_bits fb;
  fb.u = 0x3f800000u;
  CHECK(round_trip(fb).u == 0x3f800000u);
  CHECK(ipc::encoded_size(point{}) == sizeof(point));
  CHECK(ipc::encoded_size(true) == 1);
}

TEST_CASE("serialize: strings round trip", "[ipc][serialize]") {
  check_round_trip(std::string());
  check_round_trip(std::string("hello"));
  check_round_trip(std::string("with\0nul\0bytes", 14));
  check_round_trip(std::string(100000, 'z'));
  check_round_trip(std::wstring(L"wide \u00e9"));
  check_round_trip(std::u16string(u"utf-16"));
  check_round_trip(std::u32string(U"utf-32"));
  CHECK(ipc::encoded_size(std::string("hello")) == 8 + 5);
}

TEST_CASE("serialize: vectors round trip, including vector<bool>", "[ipc][serialize]") {
  check_round_trip(std::vector<int>());
  check_round_trip(std::vector<int>{1, 2, 3});
  std::vector<double> big(1 << 17);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i) * 0.5;
  check_round_trip(big);
  check_round_trip(std::vector<point>{{1, 2, 3}, {4, 5, 6}});
  check_round_trip(std::vector<fixed>{fixed(1), fixed(2)});
  check_round_trip(std::vector<std::string>{"a", "", "ccc"});
  check_round_trip(std::vector<std::vector<int>>{{}, {1}, {2, 3}});
  for (std::size_t n : {0, 1, 7, 8, 9, 255, 256, 2047, 2048, 2049, 10000}) {
    std::vector<bool> bits(n);
    for (std::size_t i = 0; i < n; ++i) bits[i] = (i * 7 + i / 3) % 5 < 2;
    INFO("vector<bool> of " << n);
    check_round_trip(bits);
    CHECK(ipc::encoded_size(bits) == 8 + (n + 7) / 8);
  }
}

TEST_CASE("serialize: a vector of trivially copyable elements is one block each way", "[ipc][serialize]") {
  std::vector<std::uint64_t> v(1000, 7);
  recording_writer rec;
  ipc::encode(rec, v);
  CHECK(rec.writes == std::vector<std::size_t>{8, 8000});
  recording_writer str;
  ipc::encode(str, std::string(300, 'q'));
  CHECK(str.writes == std::vector<std::size_t>{8, 300});

  // Decoding allocates exactly once, the size of the data.
  std::vector<std::uint64_t, counting_allocator<std::uint64_t>> counted(1000, 9);
  encoded e = encode_exactly(counted);
  allocated_bytes = 0;
  ipc::byte_reader r(e.bytes.get(), e.size);
  auto out = ipc::decode<decltype(counted)>(r);
  CHECK(allocated_bytes == 8000);
  CHECK(out == counted);

  // Also when the block is not aligned for the element.
  auto shifted = std::make_unique<std::byte[]>(e.size + 1);
  std::memcpy(shifted.get() + 1, e.bytes.get(), e.size);
  ipc::byte_reader r2(shifted.get() + 1, e.size);
  allocated_bytes = 0;
  auto out2 = ipc::decode<decltype(counted)>(r2);
  CHECK(allocated_bytes == 8000);
  CHECK(out2 == counted);
}

TEST_CASE("serialize: arrays, deques, lists, sets and maps round trip", "[ipc][serialize]") {
  check_round_trip(std::array<int, 4>{1, 2, 3, 4});
  check_round_trip(std::array<int, 0>{});
  check_round_trip(std::array<std::string, 3>{"x", "", "zz"});
  check_round_trip(std::array<bool, 3>{true, false, true});
  check_round_trip(std::array<fixed, 2>{fixed(5), fixed(6)});
  check_round_trip(std::deque<int>{5, 6, 7});
  check_round_trip(std::list<std::string>{"l1", "l2"});
  check_round_trip(std::set<int>{3, 1, 2});
  check_round_trip(std::set<std::string, std::greater<>>{"a", "b", "c"});
  check_round_trip(std::multiset<int>{1, 1, 2});
  check_round_trip(std::unordered_set<std::string>{"u", "v"});
  check_round_trip(std::unordered_multiset<int>{4, 4, 4});
  check_round_trip(std::map<std::string, int>{{"one", 1}, {"two", 2}});
  check_round_trip(std::multimap<int, std::string>{{1, "a"}, {1, "b"}, {0, "c"}});
  check_round_trip(std::unordered_map<int, std::vector<int>>{{1, {1}}, {2, {2, 2}}});
  check_round_trip(std::unordered_multimap<std::string, int>{{"k", 1}, {"k", 2}});
  check_round_trip(std::map<int, std::monostate>{{1, {}}, {2, {}}});
}

TEST_CASE("serialize: optional, pair, tuple, variant and monostate round trip", "[ipc][serialize]") {
  check_round_trip(std::optional<int>());
  check_round_trip(std::optional<int>(5));
  check_round_trip(std::optional<std::string>("opt"));
  check_round_trip(std::pair<int, std::string>(1, "p"));
  check_round_trip(std::pair<const int, double>(2, 0.5));
  check_round_trip(std::tuple<>());
  check_round_trip(std::tuple<int, std::string, double>(1, "t", 2.0));
  check_round_trip(std::monostate{});
  using var = std::variant<std::monostate, int, std::string, std::vector<double>>;
  check_round_trip(var());
  check_round_trip(var(3));
  check_round_trip(var(std::string("s")));
  check_round_trip(var(std::vector<double>{1.0, 2.0}));
  // The index decides, also between alternatives of the same type.
  using twins = std::variant<int, int>;
  twins second(std::in_place_index<1>, 9);
  twins out = round_trip(second);
  CHECK(out.index() == 1);
  CHECK(std::get<1>(out) == 9);
  CHECK(ipc::encoded_size(std::monostate{}) == 0);
  CHECK(ipc::encoded_size(std::tuple<>()) == 0);
}

TEST_CASE("serialize: nested standard types round trip", "[ipc][serialize]") {
  using nested = std::vector<std::map<std::string, std::optional<std::pair<int, std::string>>>>;
  nested v{
      {{"a", std::nullopt}, {"b", std::pair<int, std::string>(1, "one")}}, {}, {{"", std::pair(2, std::string())}}};
  check_round_trip(v);
  using deep = std::map<int, std::vector<std::tuple<std::string, std::set<int>, std::variant<int, std::string>>>>;
  deep d{{1, {{"x", {1, 2}, 5}, {"y", {}, std::string("v")}}}, {2, {}}};
  check_round_trip(d);
  // Elements that may be empty carry a marker byte each.
  check_round_trip(std::vector<std::monostate>(5));
  check_round_trip(std::vector<std::tuple<>>(3));
  CHECK(ipc::encoded_size(std::vector<std::monostate>(5)) == 8 + 5);
}

TEST_CASE("serialize: encoded_size sums several values in order", "[ipc][serialize]") {
  std::vector<int> v{1, 2, 3};
  std::string s = "abc";
  CHECK(ipc::encoded_size() == 0);
  CHECK(ipc::encoded_size(v, s, 1.0) == (8 + 12) + (8 + 3) + 8);
  std::vector<std::byte> buf(ipc::encoded_size(v, s, 1.0));
  ipc::byte_writer w(buf.data(), buf.size());
  ipc::encode(w, v);
  ipc::encode(w, s);
  ipc::encode(w, 1.0);
  CHECK(w.written() == buf.size());
  ipc::byte_reader r(buf.data(), buf.size());
  CHECK(ipc::decode<std::vector<int>>(r) == v);
  CHECK(ipc::decode<std::string>(r) == s);
  CHECK(ipc::decode<double>(r) == 1.0);
  CHECK(r.remaining() == 0);
}

// ------------------------------------------------------------ wire_t
TEST_CASE("serialize: literals, char pointers and string_view travel as std::string", "[ipc][serialize]") {
  auto as_string = [](const auto& v) {
    std::vector<std::byte> buf(ipc::encoded_size(v));
    ipc::byte_writer w(buf.data(), buf.size());
    ipc::encode(w, v);
    CHECK(w.written() == buf.size());
    ipc::byte_reader r(buf.data(), buf.size());
    auto s = ipc::decode<ipc::wire_t<decltype(v)>>(r);
    CHECK(r.remaining() == 0);
    return s;
  };
  CHECK(as_string("literal") == "literal");
  const char* p = "pointer";
  CHECK(as_string(p) == "pointer");
  char buf[] = "mutable";
  char* mp = buf;
  CHECK(as_string(mp) == "mutable");
  CHECK(as_string(std::string_view("view, not all of it", 4)) == "view");
  CHECK(ipc::encoded_size("abc") == ipc::encoded_size(std::string("abc")));
  // A char array without a terminator stops at its end.
  char unterminated[3] = {'x', 'y', 'z'};
  CHECK(as_string(unterminated) == "xyz");
  const char* null = nullptr;
  ipc::size_counter c;
  CHECK_THROWS_AS(ipc::encode(c, null), ipc::serialization_error);
}

// ------------------------------------------------------------ cereal
TEST_CASE("serialize: cereal types round trip, alone and in containers", "[ipc][serialize][cereal]") {
  person ann{"Ann", 41, {"admin", "ops"}};
  account acc{"acc-1", 12345};
  check_round_trip(ann);
  check_round_trip(acc);
  check_round_trip(rgb{1, 2, 3});
  check_round_trip(std::vector<person>{ann, person{"Bob", 7, {}}, person{}});
  check_round_trip(std::map<std::string, account>{{"a", acc}, {"b", account{"acc-2", -1}}});
  check_round_trip(std::optional<person>(ann));
  check_round_trip(std::variant<int, account>(acc));
  check_round_trip(std::pair<rgb, std::vector<rgb>>(rgb{9, 9, 9}, {rgb{1, 1, 1}}));
  check_round_trip(std::vector<empty_cereal>(4));
  // cereal's encoding: a size_t count per string and vector.
  CHECK(ipc::encoded_size(rgb{}) == 3);
}

TEST_CASE("serialize: cereal wins over memcpy", "[ipc][serialize][cereal]") {
  cached_sum s;
  s.a = 1;
  s.b = 2;
  s.cache = 3;
  CHECK(ipc::encoded_size(s) == 2 * sizeof(int));
  cached_sum out = round_trip(s);
  CHECK(out.a == 1);
  CHECK(out.b == 2);
  CHECK(out.cache == 0);
}

TEST_CASE("serialize: a user specialization wins over cereal and memcpy", "[ipc][serialize]") {
  special s{77};
  CHECK(ipc::encoded_size(s) == 4 + 8);
  CHECK(round_trip(s).v == 77);
  std::vector<special> v{special{1}, special{2}};
  auto out = round_trip(v);
  REQUIRE(out.size() == 2);
  CHECK(out[1].v == 2);
  // Its size is unknown to the containers: one marker byte per element.
  CHECK(ipc::encoded_size(v) == 8 + 2 * (1 + 12));
}

TEST_CASE("serialize: a recursive type through a user specialization", "[ipc][serialize]") {
  tree t{1, {tree{2, {}}, tree{3, {tree{4, {}}}}}};
  check_round_trip(t);
  check_every_cut_throws(t);
}

TEST_CASE("serialize: cereal errors become serialization_error, a save() exception passes through",
          "[ipc][serialize][cereal]") {
  ipc::size_counter c;
  CHECK_THROWS_AS(ipc::encode(c, refusing_save{}), refusing_save::nope);
  try {
    ipc::encode(c, cereal_failure{});
    FAIL("no exception");
  } catch (const ipc::serialization_error& e) {
    std::string what = e.what();
    CHECK(what.find("custom cereal failure") != std::string::npos);
    CHECK(what.find("cereal_failure") != std::string::npos);
  }
  // The byte_writer's overflow inside cereal's write is the writer's error.
  std::array<std::byte, 10> small{};
  ipc::byte_writer w(small.data(), small.size());
  CHECK_THROWS_WITH(ipc::encode(w, person{"a long enough name", 1, {}}), Catch::Contains("does not fit"));
  // A short read is cereal's error, as serialization_error.
  encoded e = encode_exactly(account{"id", 5});
  ipc::byte_reader r(e.bytes.get(), e.size - 1);
  CHECK_THROWS_WITH(ipc::decode<account>(r),
                    Catch::Contains("cereal could not decode") && Catch::Contains("Failed to read"));
}

// ------------------------------------------------------------ bad input
TEST_CASE("serialize: truncated input throws at every cut point", "[ipc][serialize]") {
  using nested = std::vector<std::map<std::string, std::optional<std::pair<int, std::string>>>>;
  check_every_cut_throws(nested{{{"key", std::pair<int, std::string>(1, "value")}, {"none", std::nullopt}}});
  check_every_cut_throws(std::tuple<int, std::string, std::vector<double>>(1, "abc", {1.0, 2.0}));
  check_every_cut_throws(std::variant<int, std::string>(std::string("alt")));
  check_every_cut_throws(std::vector<bool>(20, true));
  check_every_cut_throws(std::array<std::string, 2>{"a", "b"});
  check_every_cut_throws(std::unordered_map<int, std::set<std::string>>{{1, {"x", "y"}}});
  check_every_cut_throws(std::vector<person>{person{"Ann", 41, {"admin"}}, person{"Bob", 2, {}}});
  check_every_cut_throws(std::vector<std::monostate>(3));
  check_every_cut_throws(std::vector<special>{special{1}});
  check_every_cut_throws(point{1, 2, 3});
}

TEST_CASE("serialize: a huge declared length fails before allocating", "[ipc][serialize]") {
  std::vector<std::byte> bytes;
  append_u64(bytes, 999999999);
  append(bytes, "twelve bytes", 12);
  CHECK(decode_error<std::string>(bytes) == "string length 999999999 exceeds the 12 bytes left");

  using counted_string = std::basic_string<char, std::char_traits<char>, counting_allocator<char>>;
  using counted_ints = std::vector<int, counting_allocator<int>>;
  using counted_strings = std::vector<counted_string, counting_allocator<counted_string>>;
  using counted_map = std::map<int, int, std::less<>, counting_allocator<std::pair<const int, int>>>;
  using counted_set = std::unordered_set<int, std::hash<int>, std::equal_to<>, counting_allocator<int>>;
  for (std::uint64_t huge : {std::uint64_t{1} << 20, std::uint64_t{1} << 40, ~std::uint64_t{0}}) {
    std::vector<std::byte> b;
    append_u64(b, huge);
    append(b, "0123456789abcdef", 16);
    allocated_bytes = 0;
    INFO("declared " << huge);
    CHECK(decode_error<counted_string>(b).find("exceeds the 16 bytes left") != std::string::npos);
    CHECK(decode_error<counted_ints>(b).find("vector of " + std::to_string(huge) +
                                             " elements (at least 4 bytes each) exceeds the 16 bytes left") !=
          std::string::npos);
    CHECK(decode_error<counted_strings>(b).find("exceeds the 16 bytes left") != std::string::npos);
    CHECK(decode_error<counted_map>(b).find("map of") != std::string::npos);
    CHECK(decode_error<counted_set>(b).find("set of") != std::string::npos);
    CHECK(decode_error<std::vector<bool>>(b).find("vector<bool> of") != std::string::npos);
    CHECK(decode_error<std::deque<int>>(b).find("deque of") != std::string::npos);
    CHECK(decode_error<std::vector<std::monostate>>(b).find("at least 1 byte each") != std::string::npos);
    CHECK(allocated_bytes == 0);
  }
}

TEST_CASE("serialize: invalid bytes in a bool, optional, variant or container are errors", "[ipc][serialize]") {
  std::vector<std::byte> two{std::byte{2}};
  CHECK(decode_error<bool>(two) == "bool byte is 2, not 0 or 1");
  CHECK(decode_error<std::optional<int>>(two) == "optional flag is 2, not 0 or 1");

  std::vector<std::byte> index;
  append_u64(index, 5);
  append_u64(index, 0);
  CHECK(decode_error<std::variant<int, std::string>>(index) == "variant index 5 is out of range (2 alternatives)");

  std::vector<std::byte> marker;
  append_u64(marker, 1);
  marker.push_back(std::byte{0});
  CHECK(decode_error<std::vector<std::monostate>>(marker).find("marker") != std::string::npos);

  std::vector<std::byte> dup_set;
  append_u64(dup_set, 2);
  int one = 1;
  append(dup_set, &one, sizeof one);
  append(dup_set, &one, sizeof one);
  CHECK(decode_error<std::set<int>>(dup_set) == "duplicate key in a set");
  CHECK(decode_error<std::unordered_set<int>>(dup_set) == "duplicate key in a set");
  ipc::byte_reader multi(dup_set.data(), dup_set.size());
  CHECK(ipc::decode<std::multiset<int>>(multi).size() == 2);

  std::vector<std::byte> dup_map;
  append_u64(dup_map, 2);
  for (int i = 0; i < 2; ++i) {
    append(dup_map, &one, sizeof one);
    append(dup_map, &i, sizeof i);
  }
  CHECK(decode_error<std::map<int, int>>(dup_map) == "duplicate key in a map");

  std::vector<std::byte> user;
  std::uint32_t not_magic = 1;
  append(user, &not_magic, sizeof not_magic);
  append_u64(user, 0);
  CHECK(decode_error<special>(user) == "special: bad magic");
}

TEST_CASE("serialize: corrupted input never crashes the decoder", "[ipc][serialize]") {
  // A valid encoding with a few bytes overwritten, deterministically: every
  // outcome must be a value or a serialization_error (ASan and UBSan check
  // the rest). cereal types are left out: cereal's own loaders trust their
  // sizes.
  using nested =
      std::vector<std::map<std::string, std::variant<int, std::optional<std::vector<bool>>, std::set<short>>>>;
  nested value{{{"a", 1}, {"bits", std::optional<std::vector<bool>>(std::vector<bool>{true, false, true})}},
               {},
               {{"set", std::set<short>{1, 2, 3}}, {"none", std::optional<std::vector<bool>>()}}};
  encoded e = encode_exactly(value);
  std::uint64_t state = 0x9e3779b97f4a7c15u;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const unsigned char interesting[] = {0, 1, 2, 3, 0x7f, 0x80, 0xa5, 0xff};
  int decoded = 0, refused = 0;
  for (int round = 0; round < 3000; ++round) {
    auto bytes = std::make_unique<std::byte[]>(e.size);
    std::memcpy(bytes.get(), e.bytes.get(), e.size);
    for (std::uint64_t k = 0, flips = 1 + next() % 3; k < flips; ++k) {
      std::uint64_t x = next();
      bytes[x % e.size] = std::byte{interesting[(x >> 32) % sizeof interesting]};
    }
    ipc::byte_reader r(bytes.get(), e.size);
    try {
      (void)ipc::decode<nested>(r);
      ++decoded;
    } catch (const ipc::serialization_error&) {
      ++refused;
    }
  }
  CHECK(decoded + refused == 3000);
  CHECK(decoded > 0);
  CHECK(refused > 0);
}

namespace {
// Its construction from an int throws, and its move is not noexcept, so
// std::variant::emplace destroys the old value first: valueless.
struct fragile {
  fragile() = default;
  explicit fragile(int) { throw std::runtime_error("fragile"); }
  fragile(const fragile&) = default;
  fragile(fragile&&) noexcept(false) {}
  template <class Archive>
  void serialize(Archive&) {}
};
}  // namespace

TEST_CASE("serialize: a valueless variant cannot be encoded", "[ipc][serialize]") {
  std::variant<int, fragile> v(1);
  ipc::size_counter c;
  ipc::encode(c, v);
  CHECK(c.size() == 8 + 4);
  try {
    v.emplace<1>(0);
  } catch (const std::runtime_error&) {
  }
  REQUIRE(v.valueless_by_exception());
  CHECK_THROWS_WITH(ipc::encode(c, v), Catch::Contains("valueless"));
}
