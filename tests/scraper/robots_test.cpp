// scraper::robots_rules against RFC 9309: groups, * and $, longest match,
// Allow on ties, the "*" fallback, empty Disallow, Crawl-delay.
#include <catch2/catch.hpp>

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
  auto r = robots_rules::parse(
      "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n", "foobot");
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
  auto r = robots_rules::parse("User-agent: *\n"
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
