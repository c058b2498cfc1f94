// The demo site's content model (see demo_site.hpp): pages, trouble, and
// the manifest, computed by crawling the model itself.
#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "demo_site.hpp"
#include "robots.hpp"

namespace scraper {

namespace {

/// splitmix64: tiny, fast, and the same everywhere (unlike <random>'s
/// distributions), so a seed gives the same site on every platform.
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) (n > 0; the modulo bias is irrelevant here).
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  /// Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_;
};

/// The site's vocabulary: words of at least 3 letters, none a stop word,
/// so that top words come from here. Low indexes are drawn more often.
constexpr std::array<std::string_view, 96> vocabulary = {
    "spider",  "web",     "crawler", "thread",  "silk",    "page",    "link",     "garden",  "river",    "mountain",
    "harbor",  "lantern", "copper",  "meadow",  "orchard", "signal",  "engine",   "window",  "market",   "forest",
    "winter",  "summer",  "autumn",  "spring",  "compass", "anchor",  "beacon",   "bridge",  "canyon",   "desert",
    "island",  "valley",  "harvest", "journey", "kettle",  "library", "mirror",   "needle",  "ocean",    "pebble",
    "quarry",  "rocket",  "saddle",  "timber",  "tunnel",  "violet",  "wagon",    "yarn",    "amber",    "basket",
    "candle",  "dragon",  "ember",   "falcon",  "glacier", "hammer",  "ivory",    "jasmine", "kernel",   "ladder",
    "marble",  "nectar",  "oyster",  "parcel",  "quiver",  "ribbon",  "sparrow",  "thistle", "umbrella", "velvet",
    "walnut",  "zephyr",  "archive", "blossom", "cipher",  "dynamo",  "estuary",  "fjord",   "granite",  "horizon",
    "inkwell", "juniper", "kayak",   "lagoon",  "monsoon", "nomad",   "obsidian", "prairie", "quartz",   "rampart",
    "sequoia", "tundra",  "upland",  "vortex",  "willow",  "zenith"};

std::string_view pick_word(rng& r) {
  // u^2 skews towards the first words: pages have clear top words.
  const double u = r.unit();
  return vocabulary[static_cast<std::size_t>(u * u * vocabulary.size())];
}

std::string capitalized(std::string_view w) {
  std::string s(w);
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

/// A canonical decimal (no sign, no leading zero but "0") that fits.
std::optional<std::size_t> parse_index(std::string_view s) {
  if (s.empty() || s.size() > 9 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::size_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

/// The N of `<prefix>N<suffix>`, if path has that form.
std::optional<std::size_t> numbered(std::string_view path, std::string_view prefix, std::string_view suffix) {
  if (path.size() < prefix.size() + suffix.size() || path.substr(0, prefix.size()) != prefix ||
      path.substr(path.size() - suffix.size()) != suffix)
    return std::nullopt;
  return parse_index(path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
}

std::string page_path(std::size_t n) { return "/page/" + std::to_string(n) + ".html"; }

constexpr std::string_view html_type = "text/html; charset=utf-8";

/// Builds an HTML body and the ordered, deduplicated list of the paths it
/// links to (what analyze_page must find).
struct html_builder {
  std::string body;
  std::vector<std::string> links;
  std::unordered_set<std::string> seen;

  void link(std::string_view href, const std::string& resolved, std::string_view text) {
    body += "<a href=\"";
    body += href;
    body += "\">";
    body += text;
    body += "</a>";
    if (seen.insert(resolved).second) links.push_back(resolved);
  }
};

}  // namespace

demo_content::demo_content(demo_site_options o) : opts_(std::move(o)) {
  if (opts_.pages == 0) throw std::invalid_argument("demo site: pages must be at least 1");
  if (opts_.pages > 100'000'000) throw std::invalid_argument("demo site: at most 100,000,000 pages");
  const std::size_t p = opts_.pages;
  missing_ = std::max<std::size_t>(1, p / 100);
  flaky_ = std::max<std::size_t>(3, p / 200);  // /flaky/0, 1 and 2 are each a kind
  moved_ = std::max<std::size_t>(2, p / 200);
  private_ = std::max<std::size_t>(1, p / 200);
  for (std::size_t k = 0; k < missing_; ++k) trouble_.push_back("/missing/" + std::to_string(k));
  for (std::size_t k = 0; k < flaky_; ++k) trouble_.push_back("/flaky/" + std::to_string(k));
  for (std::size_t k = 0; k < moved_; ++k) trouble_.push_back("/moved/" + std::to_string(k));
  for (const char* t : {"/loop/a", "/loop/b", "/slow", "/broken.html", "/files/data.bin", "/images/logo.png"})
    trouble_.emplace_back(t);
  for (std::size_t k = 0; k < private_; ++k) trouble_.push_back("/private/" + std::to_string(k) + ".html");

  // Each trouble path on one page, spread over the site; some pages get a
  // random extra one (so some trouble is linked twice).
  placed_.assign(p, {});
  for (std::size_t i = 0; i < trouble_.size(); ++i) placed_[(i * 211 + 3) % p].push_back(i);
  rng r(opts_.seed ^ 0x7472'6f75'626c'6521ull);
  for (std::size_t n = 0; n < p; ++n)
    if (r.below(8) == 0) placed_[n].push_back(r.below(trouble_.size()));

  manifest_.robots_txt =
      "# The weft scraper's demo site.\n"
      "User-agent: *\n"
      "Disallow: /private/\n";
  compute_manifest();
}

demo_response demo_content::simple_html(demo_kind kind, std::string title, std::string text) const {
  demo_response r;
  r.kind = kind;
  r.content_type = html_type;
  r.delay = opts_.delay;
  r.body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title></head>\n<body><h1>" +
           title + "</h1><p>" + text + "</p></body></html>\n";
  return r;
}

demo_response demo_content::index() const {
  html_builder b;
  b.body =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>weft scraper demo site</title></head>\n<body><h1>weft scraper demo site</h1>\n"
      "<p>A generated site of " +
      std::to_string(opts_.pages) + " linked pages, with some trouble along the way.</p>\n<ul>\n";
  for (std::size_t n = 0; n < std::min<std::size_t>(5, opts_.pages); ++n) {
    b.body += "<li>";
    b.link(page_path(n), page_path(n), "Page " + std::to_string(n));
    b.body += "</li>\n";
  }
  b.body += "</ul>\n</body></html>\n";
  demo_response r;
  r.kind = demo_kind::index;
  r.content_type = html_type;
  r.delay = opts_.delay;
  r.body = std::move(b.body);
  r.links = std::move(b.links);
  return r;
}

demo_response demo_content::page(std::size_t n) const {
  const std::size_t p = opts_.pages;
  rng r(opts_.seed ^ ((n + 1) * 0xD1B54A32D192ED03ull));

  // The pages linked: the children 5n+5..5n+9 (every page within a few
  // links of "/"), the next one, random ones up to 5-10 in all.
  std::vector<std::size_t> targets;
  auto has = [&](std::size_t t) { return std::find(targets.begin(), targets.end(), t) != targets.end(); };
  for (std::size_t c = 5 * n + 5; c < 5 * n + 10 && c < p; ++c) targets.push_back(c);
  if (n + 1 < p && !has(n + 1)) targets.push_back(n + 1);
  const std::size_t want = std::min<std::size_t>(5 + r.below(6), p - 1);
  for (int tries = 0; targets.size() < want && tries < 100; ++tries) {
    const std::size_t t = r.below(p);
    if (t != n && !has(t)) targets.push_back(t);
  }
  // Trouble links go among them at random places.
  struct planned {
    bool trouble;
    std::size_t index;  // a page number, or an index into trouble_
  };
  std::vector<planned> plan;
  for (std::size_t t : targets) plan.push_back({false, t});
  for (std::size_t i : placed_[n]) {
    const std::size_t at = r.below(plan.size() + 1);
    plan.insert(plan.begin() + static_cast<std::ptrdiff_t>(at), planned{true, i});
  }

  const std::string title =
      "Page " + std::to_string(n) + ": " + capitalized(pick_word(r)) + " " + std::string(pick_word(r));
  html_builder b;
  b.body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title +
           "</title>\n<style>p { line-height: 1.4 } .nav a { margin: 0 1em }</style></head>\n<body>\n<h1>" + title +
           "</h1>\n";
  // Paragraphs of 20-50 words; the links are spread over them, written in
  // the different ways pages write links.
  const std::size_t paragraphs = 3 + r.below(3);
  std::size_t next_link = 0;
  for (std::size_t para = 0; para < paragraphs; ++para) {
    b.body += "<p>";
    const std::size_t words = 20 + r.below(31);
    const std::size_t links_here = para + 1 == paragraphs
                                       ? plan.size() - next_link
                                       : std::min(plan.size() - next_link, (plan.size() + paragraphs - 1) / paragraphs);
    for (std::size_t w = 0; w < words; ++w) {
      if (w > 0) b.body += ' ';
      b.body += w == 0 ? capitalized(pick_word(r)) : std::string(pick_word(r));
      if (links_here > 0 && w % (words / links_here + 1) == 0 && next_link < plan.size()) {
        const planned& l = plan[next_link++];
        b.body += ' ';
        if (l.trouble) {
          const std::string& t = trouble_[l.index];
          b.link(r.below(2) == 0 ? t : ".." + t, t, std::string(pick_word(r)));
        } else {
          const std::string target = page_path(l.index);
          const std::string num = std::to_string(l.index);
          switch (r.below(4)) {
            case 0: b.link(target, target, "page " + num); break;
            case 1: b.link(num + ".html", target, "page " + num); break;
            case 2: b.link("../page/" + num + ".html", target, "page " + num); break;
            default: b.link(target + "#part-" + std::to_string(r.below(3)), target, "page " + num); break;
          }
        }
      }
    }
    if (para == 0) b.body += " &amp; more";
    b.body += ".</p>\n";
  }
  // Links the paragraphs had no room for (a paragraph has at least 20
  // words, so only with many trouble links on one page).
  while (next_link < plan.size()) {
    const planned& l = plan[next_link++];
    const std::string target = l.trouble ? trouble_[l.index] : page_path(l.index);
    b.body += "<p>";
    b.link(target, target, "more");
    b.body += "</p>\n";
  }
  b.body += "<script>var page = " + std::to_string(n) + "; // spider web words here do not count\n</script>\n";
  b.body += "<div class=\"nav\">";
  b.link("/", "/", "Home");
  if (n + 1 < p) b.link(page_path(n + 1), page_path(n + 1), "Next");
  b.body += "</div>\n</body></html>\n";

  demo_response resp;
  resp.kind = demo_kind::page;
  resp.content_type = html_type;
  resp.delay = opts_.delay;
  resp.body = std::move(b.body);
  resp.links = std::move(b.links);
  return resp;
}

demo_response demo_content::flaky_page(std::size_t k) const {
  html_builder b;
  const std::string title = "Flaky page " + std::to_string(k);
  b.body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title></head>\n<body><h1>" +
           title + "</h1>\n<p>This page failed before it worked. See ";
  const std::string a = page_path((k * 31) % opts_.pages), c = page_path((k * 31 + 1) % opts_.pages);
  b.link(a, a, "one page");
  b.body += " and ";
  b.link(c, c, "another");
  b.body += ".</p>\n</body></html>\n";
  demo_response r;
  r.kind = demo_kind::flaky;
  r.content_type = html_type;
  r.delay = opts_.delay;
  r.body = std::move(b.body);
  r.links = std::move(b.links);
  return r;
}

demo_response demo_content::broken() const {
  const std::size_t p = opts_.pages;
  const std::string a = page_path(1 % p), c = page_path(2 % p), d = page_path(3 % p);
  demo_response r;
  r.kind = demo_kind::broken;
  r.content_type = html_type;
  r.delay = opts_.delay;
  // Unclosed and misnested tags, a stray '<', bad entities, an unquoted
  // attribute, a tag cut short at the end.
  r.body =
      "<html><head><title>Broken page</title>\n<body><div><p>This page has broken markup "
      "&bogus; &amp and 1 < 2 <b><i>misnested</b></i>\n<a href=\"" +
      a + "\">first<a href='" + c + "'>second</a>\n<table><tr><td>cell<td>cell two <a href=" + d +
      ">third</div>\n<p <<>> stray text <a href=\"" + a + "\"";
  for (const auto& l : {a, c, d})
    if (std::find(r.links.begin(), r.links.end(), l) == r.links.end()) r.links.push_back(l);
  return r;
}

demo_response demo_content::respond(std::string_view method, std::string_view target, std::uint64_t attempt) const {
  std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    demo_response r;
    r.kind = demo_kind::bad_method;
    r.status = 405;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "method not allowed\n";
    r.headers.emplace_back("Allow", "GET, HEAD");
    r.delay = opts_.delay;
    return r;
  }
  if (path == "/") return index();
  if (path == "/robots.txt") {
    demo_response r;
    r.kind = demo_kind::robots;
    r.content_type = "text/plain; charset=utf-8";
    r.body = manifest_.robots_txt;
    r.delay = opts_.delay;
    return r;
  }
  if (auto n = numbered(path, "/page/", ".html"); n && *n < opts_.pages) return page(*n);
  if (auto k = numbered(path, "/flaky/", ""); k && *k < flaky_) {
    if (attempt >= flaky_failures(*k)) return flaky_page(*k);
    demo_response r;
    r.kind = demo_kind::flaky;
    r.content_type = "text/plain; charset=utf-8";
    r.delay = opts_.delay;
    if (*k == 0) {
      r.status = 503;
      r.body = "overloaded, come back in a second\n";
      r.headers.emplace_back("Retry-After", "1");
    } else {
      r.status = 500;
      r.body = "temporary failure, try again\n";
    }
    return r;
  }
  if (auto k = numbered(path, "/moved/", ""); k && *k < moved_) {
    const std::string to = page_path((*k * 53 + 7) % opts_.pages);
    demo_response r = simple_html(demo_kind::redirect, "Moved", "This page moved to " + to + ".");
    r.status = *k % 2 == 0 ? 301 : 302;
    r.headers.emplace_back("Location", to);
    r.links.push_back(to);  // where it leads (the body has no link)
    return r;
  }
  if (path == "/loop/a" || path == "/loop/b") {
    const std::string to = path == "/loop/a" ? "/loop/b" : "/loop/a";
    demo_response r = simple_html(demo_kind::redirect_loop, "Loop", "Round and round.");
    r.status = 302;
    r.headers.emplace_back("Location", to);
    r.links.push_back(to);
    return r;
  }
  if (path == "/slow") {
    demo_response r = simple_html(demo_kind::slow, "Slow page", "This took a while.");
    r.delay = opts_.slow_delay;
    return r;
  }
  if (path == "/broken.html") return broken();
  if (path == "/files/data.bin") {
    demo_response r;
    r.kind = demo_kind::binary;
    r.content_type = "application/octet-stream";
    rng g(opts_.seed ^ 0xb1ull);
    r.body.resize(4096);
    for (char& c : r.body) c = static_cast<char>(g.next() & 0xff);
    r.delay = opts_.delay;
    return r;
  }
  if (path == "/images/logo.png") {
    demo_response r;
    r.kind = demo_kind::binary;
    r.content_type = "image/png";
    // A 1x1 transparent PNG.
    static constexpr unsigned char png[] = {
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00,
        0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01,
        0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};
    r.body.assign(reinterpret_cast<const char*>(png), sizeof png);
    r.delay = opts_.delay;
    return r;
  }
  if (auto k = numbered(path, "/private/", ".html"); k && *k < private_)
    return simple_html(demo_kind::disallowed, "Private page " + std::to_string(*k),
                       "Robots were asked not to come here.");
  demo_response r = simple_html(demo_kind::not_found, "Not found", "Nothing here.");
  r.status = 404;
  return r;
}

demo_response demo_content::settled(std::string_view path) const {
  return respond("GET", path, 2);  // every flaky page has failed by its third request
}

void demo_content::compute_manifest() {
  const auto robots = robots_rules::parse(manifest_.robots_txt, "weft-scraper");
  std::unordered_map<std::string, std::size_t> depth{{"/", 0}};
  std::deque<std::string> queue{"/"};
  auto discover = [&](const std::string& path, std::size_t d) {
    if (depth.emplace(path, d).second) queue.push_back(path);
  };
  while (!queue.empty()) {
    const std::string path = std::move(queue.front());
    queue.pop_front();
    const std::size_t d = depth.at(path);
    manifest_.max_depth = std::max(manifest_.max_depth, d);
    if (!robots.allowed(path)) {
      ++manifest_.disallowed;
      continue;
    }
    const demo_response r = settled(path);
    switch (r.kind) {
      case demo_kind::index:
      case demo_kind::page: ++manifest_.html_pages; break;
      case demo_kind::flaky:
        ++manifest_.html_pages;
        ++manifest_.flaky;
        break;
      case demo_kind::broken:
        ++manifest_.html_pages;
        ++manifest_.broken_html;
        break;
      case demo_kind::not_found: ++manifest_.not_found; continue;
      case demo_kind::redirect: ++manifest_.redirects; break;  // its target: one more link away
      case demo_kind::redirect_loop: ++manifest_.redirect_loops; continue;
      case demo_kind::slow: ++manifest_.slow; continue;
      case demo_kind::binary: ++manifest_.binary; continue;
      case demo_kind::disallowed:
      case demo_kind::robots:
      case demo_kind::bad_method: throw std::logic_error("demo site: " + path + " reached by the model's crawl");
    }
    for (const auto& l : r.links) discover(l, d + 1);
  }
}

}  // namespace scraper
