// What can travel to a worker process: standard types, cereal types, and
// types with a serializer of your own.
#include <weft/weft.hpp>

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <map>
#include <string>
#include <vector>

#include "check.hpp"

namespace ipc = weft::ipc;

// [start cereal]
struct job {  // a type with a cereal serialize(): it travels through cereal's binary archives
  std::string url;
  std::vector<int> ids;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(url, ids);
  }
};

std::size_t weigh(job j, std::string lang) { return j.url.size() + j.ids.size() + lang.size(); }
// [end cereal]

// [start custom]
struct point {  // neither trivially copyable nor cereal-aware: say how it travels
  std::string label;
  double x = 0, y = 0;
};

template <>
struct weft::ipc::serializer<point> {
  template <class Writer>
  static void encode(Writer& w, const point& p) {
    ipc::encode(w, p.label);
    ipc::encode(w, p.x);
    ipc::encode(w, p.y);
  }
  static point decode(ipc::byte_reader& r) {
    point p;
    p.label = ipc::decode<std::string>(r);
    p.x = ipc::decode<double>(r);
    p.y = ipc::decode<double>(r);
    return p;
  }
};

std::map<std::string, double> norms(std::vector<point> ps) {  // containers of it travel too
  std::map<std::string, double> out;
  for (const point& p : ps) out[p.label] = p.x * p.x + p.y * p.y;
  return out;
}
// [end custom]

// [start check]
static_assert(ipc::serializable<job> && ipc::serializable<std::vector<point>>);
static_assert(!ipc::serializable<int*>);  // a pointer means nothing in another process
// [end check]

weft::task<> travel() {
  // [start call]
  job j{"https://example.org/", {1, 2, 3}};
  std::size_t n = co_await weft::spawn_process(weigh, j, "en");  // "en" arrives as a std::string
  CHECK(n == 20 + 3 + 2);

  std::vector<point> ps{{"a", 3, 4}, {"b", 1, 0}};
  std::map<std::string, double> r = co_await weft::spawn_process(norms, ps);
  CHECK(r.at("a") == 25 && r.at("b") == 1);
  // [end call]
}

int main() { weft::run(travel()); }
