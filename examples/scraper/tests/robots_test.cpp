// scraper::robots_rules against RFC 9309: groups, * and $, longest match,
// Allow on ties, the "*" fallback, empty Disallow, Crawl-delay, the
// 500 KiB cap, and matching that stays linear on hostile patterns.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "robots.hpp"

using scraper::robots_rules;
using namespace std::chrono_literals;

namespace {

// RFC 9309 section 5.1.
constexpr std::string_view rfc_example = R"(User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot
)";

// The pattern semantics, spelled out the slow way: '*' matches any run of
// bytes, a final '$' anchors the end, any other '$' is a literal, and an
// unanchored pattern matches a prefix of the path.
bool reference_match(std::string_view pattern, std::string_view path, bool anchored) {
  if (pattern.empty()) return !anchored || path.empty();
  if (pattern.front() == '*') {
    for (std::size_t skip = 0; skip <= path.size(); ++skip)
      if (reference_match(pattern.substr(1), path.substr(skip), anchored)) return true;
    return false;
  }
  return !path.empty() && path.front() == pattern.front() &&
         reference_match(pattern.substr(1), path.substr(1), anchored);
}

bool reference_disallows(std::string_view pattern, std::string_view path) {
  const bool anchored = !pattern.empty() && pattern.back() == '$';
  if (anchored) pattern.remove_suffix(1);
  return reference_match(pattern, path, anchored);
}

}  // namespace

TEST_CASE("robots: the RFC 9309 example, per user agent", "[scraper][robots]") {
  auto foo = robots_rules::parse(rfc_example, "foobot");
  CHECK(foo.allowed("/example/page.html"));
  CHECK(foo.allowed("/example/allowed.gif"));
  CHECK_FALSE(foo.allowed("/example/other.html"));
  CHECK_FALSE(foo.allowed("/"));
  CHECK(foo.allowed("/robots.txt"));  // always

  // Consecutive User-agent lines share one group; the "*" rules do not apply.
  for (auto ua : {"barbot", "BazBot/2.1", "bazbot (+http://example.com/bot)"}) {
    INFO(ua);
    auto r = robots_rules::parse(rfc_example, ua);
    CHECK_FALSE(r.allowed("/example/page.html"));
    CHECK(r.allowed("/example/other.html"));
    CHECK(r.allowed("/image.gif"));
  }

  // A group with no rules allows everything.
  auto qux = robots_rules::parse(rfc_example, "quxbot");
  CHECK(qux.allowed("/example/page.html"));
  CHECK(qux.allowed("/x.gif"));

  // An agent no group names gets the "*" group.
  auto other = robots_rules::parse(rfc_example, "weft-scraper/0.1");
  CHECK_FALSE(other.allowed("/example/"));
  CHECK_FALSE(other.allowed("/example/page.html"));
  CHECK_FALSE(other.allowed("/images/logo.gif"));
  CHECK(other.allowed("/images/logo.gif?size=2"));  // $: the end of the path and query
  CHECK(other.allowed("/publications/paper.html"));
  CHECK(other.allowed("/"));
}

TEST_CASE("robots: the longest match wins, Allow on a tie", "[scraper][robots]") {
  // RFC 9309 section 5.2.
  auto r = robots_rules::parse("User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n",
                               "foobot");
  CHECK(r.allowed("/example/page/"));
  CHECK(r.allowed("/example/page/other.gif"));
  CHECK_FALSE(r.allowed("/example/page/disallowed.gif"));

  auto tie = robots_rules::parse("user-agent: *\ndisallow: /page\nallow: /page\n", "bot");
  CHECK(tie.allowed("/page"));
  auto tie2 = robots_rules::parse("user-agent: *\nallow: /folder\ndisallow: /folder\n", "bot");
  CHECK(tie2.allowed("/folder/x"));

  // A longer Disallow beats a shorter Allow, whatever the order.
  auto order = robots_rules::parse("User-agent: *\nDisallow: /a/b\nAllow: /a\n", "bot");
  CHECK_FALSE(order.allowed("/a/b/c"));
  CHECK(order.allowed("/a/c"));
}

TEST_CASE("robots: * and $ patterns", "[scraper][robots]") {
  auto r = robots_rules::parse(
      "User-agent: *\n"
      "Disallow: /*.php$\n"
      "Disallow: /fish*/salmon\n"
      "Disallow: /*?session=\n"
      "Disallow: /exact$\n"
      "Allow: /*.php$x\n",  // '$' only anchors at the end; here it is a literal
      "bot");
  CHECK_FALSE(r.allowed("/index.php"));
  CHECK_FALSE(r.allowed("/dir/a.php"));
  CHECK(r.allowed("/index.php?x=1"));
  CHECK(r.allowed("/index.php5"));
  CHECK_FALSE(r.allowed("/fish/salmon"));
  CHECK_FALSE(r.allowed("/fishes/big/salmon/x"));
  CHECK(r.allowed("/fish/trout"));
  CHECK(r.allowed("/Fish/salmon"));  // paths are case-sensitive
  CHECK_FALSE(r.allowed("/a/b?session=12"));
  CHECK(r.allowed("/a/b?sessions"));
  CHECK_FALSE(r.allowed("/exact"));
  CHECK(r.allowed("/exact/more"));
  CHECK(r.allowed("/exactly"));

  auto all = robots_rules::parse("User-agent: *\nDisallow: *\n", "bot");
  CHECK_FALSE(all.allowed("/anything"));
  auto stars = robots_rules::parse("User-agent: *\nDisallow: /a**b***c$\n", "bot");
  CHECK_FALSE(stars.allowed("/axxbyyc"));
  CHECK(stars.allowed("/axxbyycd"));
}

TEST_CASE("robots: tricky wildcard patterns", "[scraper][robots]") {
  auto abc = robots_rules::parse("User-agent: *\nDisallow: /a*b*c$\n", "bot");
  CHECK_FALSE(abc.allowed("/abc"));
  CHECK_FALSE(abc.allowed("/aXbYc"));
  CHECK_FALSE(abc.allowed("/abcbc"));  // the last 'c' ends the path
  CHECK_FALSE(abc.allowed("/acbc"));   // 'b' is after the first 'c'
  CHECK(abc.allowed("/abcd"));         // '$': nothing after the 'c'
  CHECK(abc.allowed("/acb"));          // no 'c' after the 'b'
  CHECK(abc.allowed("/bc"));           // "/a" must start the path
  CHECK(abc.allowed("/abc/"));
  // The runs may not overlap: "/ab" then "b$" needs two 'b's.
  auto overlap = robots_rules::parse("User-agent: *\nDisallow: /ab*b$\n", "bot");
  CHECK(overlap.allowed("/ab"));
  CHECK_FALSE(overlap.allowed("/abb"));

  // '*' first, last, doubled: a leading '*' lets the path start anywhere,
  // a trailing one changes nothing, "**" is one '*'.
  auto lead = robots_rules::parse("User-agent: *\nDisallow: *x.cgi\n", "bot");
  CHECK_FALSE(lead.allowed("/a/b/x.cgi?q"));
  CHECK(lead.allowed("/a/b/y.cgi"));
  auto trail = robots_rules::parse("User-agent: *\nDisallow: /tmp*\n", "bot");
  CHECK_FALSE(trail.allowed("/tmp"));
  CHECK_FALSE(trail.allowed("/tmpfile"));
  CHECK(trail.allowed("/tm"));
  auto doubled = robots_rules::parse("User-agent: *\nDisallow: /**x**$\n", "bot");
  CHECK_FALSE(doubled.allowed("/abcx"));
  CHECK_FALSE(doubled.allowed("/x"));  // the '*'s may match nothing
  CHECK(doubled.allowed("/"));
  auto only_stars = robots_rules::parse("User-agent: *\nDisallow: **$\n", "bot");
  CHECK_FALSE(only_stars.allowed("/anything"));

  // '$' anchors only at the end of a pattern; elsewhere it is a literal
  // byte, and "$$" is a literal '$' then the anchor. A lone "$" matches no
  // path (a path is never empty: "" is checked as "/").
  auto mid = robots_rules::parse("User-agent: *\nDisallow: /a$b\nDisallow: /c$$\n", "bot");
  CHECK_FALSE(mid.allowed("/a$b"));
  CHECK_FALSE(mid.allowed("/a$bc"));
  CHECK(mid.allowed("/a"));
  CHECK(mid.allowed("/ab"));
  CHECK_FALSE(mid.allowed("/c$"));
  CHECK(mid.allowed("/c$x"));
  CHECK(mid.allowed("/c"));
  auto lone = robots_rules::parse("User-agent: *\nDisallow: $\n", "bot");
  CHECK(lone.allowed("/"));
  CHECK(lone.allowed(""));

  // A '*' in the path is an ordinary byte.
  auto lit = robots_rules::parse("User-agent: *\nDisallow: /a*z$\n", "bot");
  CHECK_FALSE(lit.allowed("/a*z"));
  CHECK(lit.allowed("/a*"));

  // The longest pattern still wins when wildcards are involved (its
  // length counts the '*' and '$' too), Allow on a tie.
  auto rank = robots_rules::parse("User-agent: *\nDisallow: /*.pdf$\nAllow: /docs/*\nAllow: /*.PDF$\n", "bot");
  CHECK_FALSE(rank.allowed("/x/a.pdf"));
  CHECK(rank.allowed("/docs/a.pdf"));  // "/docs/*" and "/*.pdf$" are 7 bytes each: Allow
  CHECK(rank.allowed("/x/a.PDF"));
}

TEST_CASE("robots: matching agrees with the plain definition", "[scraper][robots]") {
  // Random short patterns and paths over a small alphabet, so that '*',
  // '$' and repeats meet in every arrangement, against reference_match.
  std::mt19937 rng(9309);
  const auto pick = [&](std::string_view alphabet, std::size_t max_len) {
    std::string s(std::uniform_int_distribution<std::size_t>(0, max_len)(rng), ' ');
    for (char& c : s) c = alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)];
    return s;
  };
  for (int i = 0; i < 20000; ++i) {
    const std::string pattern = "/" + pick("ab*$", 7);
    const std::string path = "/" + pick("ab$*", 9);
    INFO("pattern " << pattern << ", path " << path);
    const auto r = robots_rules::parse("User-agent: *\nDisallow: " + pattern + "\n", "bot");
    REQUIRE(r.allowed(path) == !reference_disallows(pattern, path));
  }
}

TEST_CASE("robots: hostile wildcard patterns match quickly and right", "[scraper][robots]") {
  // 400 rules of "/*" + 2000 'a' + 'b' (805 KB, so only the first 500 KiB,
  // about 250 of them, are read). Backtracking to the last '*' spent
  // O(path x pattern) per rule on paths of 'a's that do not end the way a
  // rule does: seconds for one allowed(). The ctest TIMEOUT guards this;
  // each check below is a few hundred microseconds now.
  const std::string as(2000, 'a');
  std::string text = "User-agent: *\n";
  for (int i = 0; i < 400; ++i) text += "Disallow: /*" + as + "b\n";
  auto r = robots_rules::parse(text, "bot");
  CHECK(r.allowed("/" + as));
  CHECK(r.allowed("/" + as + "c"));
  CHECK(r.allowed("/" + as + as));
  CHECK_FALSE(r.allowed("/" + as + "b"));
  CHECK_FALSE(r.allowed("/" + as + as + "b"));
  CHECK_FALSE(r.allowed("/x/" + as + "b?q=1"));
  CHECK(r.allowed("/" + as.substr(1) + "b"));  // one 'a' short
  CHECK(r.allowed("/robots.txt"));

  // The same with '$': "/*aaa...ab$".
  std::string anchored = "User-agent: *\n";
  for (int i = 0; i < 200; ++i) anchored += "Disallow: /*" + as + "b$\n";
  auto a = robots_rules::parse(anchored, "bot");
  CHECK(a.allowed("/" + as + as));
  CHECK(a.allowed("/" + as + "ba"));
  CHECK_FALSE(a.allowed("/" + as + as + "b"));
}

TEST_CASE("robots: only the first 500 KiB are read", "[scraper][robots]") {
  STATIC_REQUIRE(scraper::robots_max_bytes == 500 * 1024);
  // Pads text with a comment line so that it is `size` bytes long.
  const auto pad_to = [](std::string& text, std::size_t size) {
    REQUIRE(size >= text.size() + 2);
    text += "#" + std::string(size - text.size() - 2, 'x') + "\n";
  };

  // A line that ends right at the cap is read; the next one is not.
  std::string text = "User-agent: *\n";
  pad_to(text, scraper::robots_max_bytes - std::string_view("Disallow: /before\n").size());
  text += "Disallow: /before\n";
  REQUIRE(text.size() == scraper::robots_max_bytes);
  text += "Disallow: /after\n";
  auto r = robots_rules::parse(text, "bot");
  CHECK_FALSE(r.allowed("/before"));
  CHECK(r.allowed("/after"));

  // Same without the final newline inside the cap ("\r\n" cut after '\r').
  std::string crlf = "User-agent: *\r\n";
  pad_to(crlf, scraper::robots_max_bytes - std::string_view("Disallow: /before\r").size());
  crlf += "Disallow: /before\r\nDisallow: /after\r\n";
  auto c = robots_rules::parse(crlf, "bot");
  CHECK_FALSE(c.allowed("/before"));
  CHECK(c.allowed("/after"));

  // A line the cap cuts through is dropped whole, not read as "/strad".
  std::string cut = "User-agent: *\n";
  pad_to(cut, scraper::robots_max_bytes - 16);
  cut += "Disallow: /straddle\n";  // 20 bytes: its last 4 are past the cap
  auto d = robots_rules::parse(cut, "bot");
  CHECK(d.allowed("/strad"));
  CHECK(d.allowed("/straddle"));

  // At most the cap (and one line under it) parses as before.
  std::string small = "User-agent: *\n";
  pad_to(small, scraper::robots_max_bytes - 16);
  small += "Disallow: /x\n";  // 13 bytes: the file is 3 bytes under the cap
  CHECK_FALSE(robots_rules::parse(small, "bot").allowed("/x"));
  // Without a newline in the first 500 KiB nothing is read.
  CHECK(robots_rules::parse("User-agent: * #" + std::string(scraper::robots_max_bytes, 'x') + "\nDisallow: /\n", "bot")
            .allowed("/x"));
}

TEST_CASE("robots: empty Disallow, no file, and disallow_all", "[scraper][robots]") {
  auto empty = robots_rules::parse("User-agent: *\nDisallow:\n", "bot");
  CHECK(empty.allowed("/"));
  CHECK(empty.allowed("/anything"));
  CHECK(robots_rules::parse("", "bot").allowed("/x"));
  CHECK(robots_rules::allow_all().allowed("/private/x"));
  CHECK_FALSE(robots_rules::allow_all().crawl_delay());
  auto none = robots_rules::disallow_all();
  CHECK_FALSE(none.allowed("/"));
  CHECK_FALSE(none.allowed("/x"));
  CHECK(none.allowed("/robots.txt"));
  // Rules for other agents only: everything allowed to us.
  CHECK(robots_rules::parse("User-agent: otherbot\nDisallow: /\n", "bot").allowed("/x"));
}

TEST_CASE("robots: groups merge, lines are forgiving", "[scraper][robots]") {
  const std::string_view text =
      "\xEF\xBB\xBF# a comment line\r\n"
      "USER-AGENT: bot # trailing comment\r\n"
      "disallow: /one\r\n"
      "Sitemap: http://example.com/sitemap.xml\r\n"
      "Disallow: /two\r\n"
      "\r\n"
      "user-agent: *\r\n"
      "disallow: /three\r\n"
      "garbage line without colon\r\n"
      "Disallow /four\r\n"
      "user-agent: bot\r\n"
      "disallow: /five  \r\n";
  auto r = robots_rules::parse(text, "Bot");
  CHECK_FALSE(r.allowed("/one"));
  CHECK_FALSE(r.allowed("/two"));   // a Sitemap line does not end a group
  CHECK_FALSE(r.allowed("/five"));  // both "bot" groups merged
  CHECK(r.allowed("/three"));       // "*" does not apply: "bot" has groups
  auto star = robots_rules::parse(text, "other");
  CHECK_FALSE(star.allowed("/three"));
  CHECK(star.allowed("/four"));  // "Disallow /four" has no colon: ignored
  CHECK(star.allowed("/one"));
}

TEST_CASE("robots: percent-encoding is compared normalized", "[scraper][robots]") {
  auto r = robots_rules::parse(
      "User-agent: *\n"
      "Disallow: /foo/bar/\xE3\x83\x84\n"
      "Disallow: /foo/%62%61%7A\n"
      "Disallow: /a%2fb\n",
      "bot");
  CHECK_FALSE(r.allowed("/foo/bar/%E3%83%84"));
  CHECK_FALSE(r.allowed("/foo/bar/%e3%83%84"));
  CHECK_FALSE(r.allowed("/foo/baz"));
  CHECK_FALSE(r.allowed("/a%2Fb"));
  CHECK(r.allowed("/a/b"));  // an encoded '/' is not a '/'
}

TEST_CASE("robots: Crawl-delay of the chosen group", "[scraper][robots]") {
  const std::string_view text =
      "User-agent: *\nCrawl-delay: 2\nDisallow: /x\n\n"
      "User-agent: slowbot\nCrawl-delay: 0.5\nCrawl-delay: 9\n\n"
      "User-agent: badbot\nCrawl-delay: soon\n";
  CHECK(robots_rules::parse(text, "anybot").crawl_delay() == 2000ms);
  CHECK(robots_rules::parse(text, "slowbot").crawl_delay() == 500ms);  // the first one
  CHECK_FALSE(robots_rules::parse(text, "badbot").crawl_delay());
  CHECK_FALSE(robots_rules::parse("User-agent: *\nCrawl-delay: -1\n", "bot").crawl_delay());
}

TEST_CASE("robots: Sitemap lines are collected from every group", "[scraper][robots]") {
  const std::string_view text =
      "sitemap: http://example.com/first.xml\n"
      "User-agent: otherbot\n"
      "Disallow: /\n"
      "SITEMAP:https://example.com/second.xml.gz # comment\n"
      "User-agent: *\n"
      "Sitemap: /relative.xml\n"
      "Sitemap: ftp://example.com/s.xml\n"
      "Sitemap:\n"
      "Sitemap: http://example.com/first.xml\n"
      "Disallow: /x\n";
  auto r = robots_rules::parse(text, "bot");
  CHECK(r.sitemaps() == std::vector<std::string>{"http://example.com/first.xml", "https://example.com/second.xml.gz"});
  CHECK_FALSE(r.allowed("/x"));                                         // Sitemap lines neither start nor end a group
  CHECK(robots_rules::parse(text, "otherbot").sitemaps().size() == 2);  // whichever group is chosen
  CHECK(robots_rules::parse("User-agent: *\nDisallow: /\n", "bot").sitemaps().empty());
  CHECK(robots_rules::allow_all().sitemaps().empty());
}
