// scraper::extract: CSS -> XPath (each construct, checked by what it
// selects), bad XPath and CSS named with their position, values (text,
// attributes, lists, no match, numbers), --follow XPaths, rules files.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "crawler.hpp"
#include "demo_site.hpp"
#include "extract.hpp"
#include "page.hpp"
#include "weft/weft.hpp"

using namespace std::chrono_literals;

using strings = std::vector<std::string>;

namespace {

const std::string sample = R"html(<!DOCTYPE html>
<html><head><title>T</title></head><body>
<div id="main" class="box  wide">
  <h1>Head
    line</h1>
  <ul class="list">
    <li class="item first">one</li>
    <li class="item">two</li>
    <li class="item" data-x="a-b">three</li>
    <li>four</li>
  </ul>
  <p lang="en-US">para <a href="/a" rel="next">A</a> and <span><a href="/b">B</a></span></p>
  <p>second</p>
  <a href="http://o/x.png" title="it's &quot;q&quot;">img</a>
</div>
<div class="boxed">not a box</div>
</body></html>
)html";

/// The values one rule gives on html.
strings run(const scraper::extract_rule& rule, const std::string& html = sample) {
  scraper::page_rules rules;
  rules.fields.push_back(rule);
  auto info = scraper::analyze_page_with("http://x/dir/page.html", html, rules);
  REQUIRE(info.fields.size() == 1);
  CHECK(info.fields[0].first == rule.name);
  return info.fields[0].second;
}

strings css(const std::string& selector, const std::string& html = sample) {
  return run(scraper::css_rule("f=" + selector), html);
}
strings xpath(const std::string& expr, const std::string& html = sample) {
  return run(scraper::xpath_rule("f=" + expr), html);
}

/// The message of the rule_error fn throws ("" if none).
template <class F>
std::string error_of(F fn) {
  try {
    fn();
  } catch (const scraper::rule_error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("extract: CSS translates to the XPath cssselect writes", "[scraper][extract]") {
  using scraper::css_to_xpath;
  CHECK(css_to_xpath(".a") == "descendant-or-self::*[contains(concat(' ',normalize-space(@class),' '),' a ')]");
  CHECK(css_to_xpath("#x") == "descendant-or-self::*[@id='x']");
  CHECK(css_to_xpath("H1") == "descendant-or-self::h1");
  CHECK(css_to_xpath("div > p") == "descendant-or-self::div/p");
  CHECK(css_to_xpath("div p") == "descendant-or-self::div/descendant::p");
  CHECK(css_to_xpath("a, b") == "descendant-or-self::a | descendant-or-self::b");
  CHECK(css_to_xpath("a[href]") == "descendant-or-self::a[@href]");
  CHECK(css_to_xpath("a[rel=next]") == "descendant-or-self::a[@rel='next']");
  CHECK(css_to_xpath("a::attr(href)") == "descendant-or-self::a/@href");
  CHECK(css_to_xpath("p::text") == "descendant-or-self::p/text()");
  CHECK(css_to_xpath("li:nth-child(2)") == "descendant-or-self::li[count(preceding-sibling::*)=1]");
  // A value with both quotes: XPath 1.0 has no escapes, so concat().
  CHECK(css_to_xpath(R"([title="it's \"q\""])") == R"(descendant-or-self::*[@title=concat('it',"'",'s "q"')])");
}

TEST_CASE("extract: type, class, id and attribute selectors select what a browser would", "[scraper][extract]") {
  CHECK(css("h1") == strings{"Head line"});
  CHECK(css("UL > LI.ITEM") == strings{});  // types are case-insensitive, classes are not
  CHECK(css("li.item") == strings{"one", "two", "three"});
  CHECK(css(".item.first") == strings{"one"});
  CHECK(css(".box::attr(id)") == strings{"main"});  // "boxed" is not "box"
  CHECK(css(".wide::attr(id)") == strings{"main"});
  CHECK(css("#main::attr(class)") == strings{"box  wide"});  // an attribute as written
  CHECK(css("*[data-x]") == strings{"three"});
  CHECK(css("[data-x=a-b]") == strings{"three"});
  CHECK(css("[data-x='a-b']") == strings{"three"});
  CHECK(css("[class~=first]") == strings{"one"});
  CHECK(css("[lang|=en]") == strings{"para A and B"});
  CHECK(css("a[href^='/']") == strings{"A", "B"});
  CHECK(css("a[href$=\".png\"]") == strings{"img"});
  CHECK(css("a[href*=o\\/x]") == strings{"img"});
  CHECK(css("a[href^='']") == strings{});
  CHECK(css(R"(a[title="it's \"q\""])") == strings{"img"});
  CHECK(css("table") == strings{});
}

TEST_CASE("extract: combinators, nth-child and selector lists", "[scraper][extract]") {
  CHECK(css("p a") == strings{"A", "B"});
  CHECK(css("p > a") == strings{"A"});
  CHECK(css("h1 + ul > li:first-child") == strings{"one"});
  CHECK(css("h1 ~ p") == strings{"para A and B", "second"});
  CHECK(css("h1 + p") == strings{});
  CHECK(css("li:nth-child(2)") == strings{"two"});
  CHECK(css("li:nth-child(odd)") == strings{"one", "three"});
  CHECK(css("li:nth-child(2n+1)") == strings{"one", "three"});
  CHECK(css("li:nth-child(even)") == strings{"two", "four"});
  CHECK(css("li:nth-child(-n+2)") == strings{"one", "two"});
  CHECK(css("li:nth-child( 3n - 1 )") == strings{"two"});
  CHECK(css("li:nth-child(n)") == strings{"one", "two", "three", "four"});
  CHECK(css("li:last-child") == strings{"four"});
  CHECK(css("li:nth-last-child(1)") == strings{"four"});
  CHECK(css("li:only-child") == strings{});
  CHECK(css("ul :nth-child(3)") == strings{"three"});
  // A list: document order, as one XPath union.
  CHECK(css("li:first-child, h1") == strings{"Head line", "one"});
  CHECK(css("p > a::attr(href), #main > a::attr(href)") == strings{"/a", "http://o/x.png"});
  CHECK(css("a::attr(title)") == strings{"it's \"q\""});
  CHECK(css("p::text") == strings{"para", "and", "second"});
  CHECK(css("p ::text") == strings{"para", "A", "and", "B", "second"});
}

TEST_CASE("extract: a bad CSS selector is refused with its position", "[scraper][extract]") {
  auto bad = [](const std::string& sel) { return error_of([&] { scraper::css_to_xpath(sel); }); };
  CHECK(has(bad("h1["), "position 4 (the end): expected an attribute name"));
  CHECK(has(bad("a:hover"), "position 3: unsupported pseudo-class ':hover'"));
  CHECK(has(bad("a >"), "position 4 (the end): expected an element name"));
  CHECK(has(bad("a[x='y"), "position 5: unterminated string"));
  CHECK(has(bad("a..b"), "position 3: expected a class name"));
  CHECK(has(bad("ns|a"), "namespace prefixes are not supported"));
  CHECK(has(bad("a::before"), "position 4: unsupported pseudo-element"));
  CHECK(has(bad("a::text b"), "a pseudo-element ends a selector"));
  CHECK(has(bad("li:nth-child(x)"), "expected an+b"));
  CHECK(has(bad("a[x i]"), "expected ']' or an operator"));
  CHECK(has(bad("a[x=y i]"), "attribute flags"));
  CHECK(has(bad("a, "), "(the end): expected an element name"));
  CHECK(has(bad("a)"), "position 2: unexpected ')'"));
  CHECK(has(bad("  "), "empty"));
  // What no XPath literal (no XML document) can hold, as a rules file may give it.
  CHECK(has(bad(std::string("a[x='\0']", 8)), "position 6: a control character"));
  CHECK(has(bad("a[x='\x01']"), "position 6: a control character"));
  CHECK(has(bad("a[x='\xff']"), "position 6: not UTF-8"));
  CHECK(has(bad("a[x='\f']"), "position 6: a form feed in a string"));
  CHECK(has(bad("a[x='\\1c ']"), "position 6: an escaped character no XML document holds"));
  CHECK(css("[title=\"it\\27 s \\\"q\\\"\"]") == strings{"img"});  // \27 is '
  // The rule's name comes first in a rule's message.
  const std::string e = error_of([] { scraper::css_rule("price=.a["); });
  CHECK(has(e, "rule \"price\": CSS selector \".a[\": at position 4"));
}

TEST_CASE("extract: a bad XPath is refused with the rule, libxml2's message and the position", "[scraper][extract]") {
  const std::string e = error_of([] { scraper::xpath_rule("links=//a["); });
  CHECK(has(e, "rule \"links\": XPath \"//a[\": at position 5 (the end): "));
  CHECK(has(error_of([] { scraper::xpath_rule("t=//a[@x='y]"); }), "Unfinished literal"));
  CHECK(has(error_of([] { scraper::xpath_rule("t=//a]"); }), "at position 4"));
  CHECK(has(error_of([] { scraper::xpath_rule("t=upper-case(//a)"); }), "position 1: unknown function 'upper-case()'"));
  CHECK(has(error_of([] { scraper::xpath_rule("t=//a[$v]"); }), "position 5: variables are not supported"));
  CHECK(has(error_of([] { scraper::xpath_rule("t=count('x')"); }), "fails when evaluated: Invalid type"));
  CHECK(has(error_of([] { scraper::xpath_rule("t"); }), "expected NAME=XPATH"));
  CHECK(has(error_of([] { scraper::xpath_rule("=//a"); }), "the name before '=' is empty"));
  CHECK(has(error_of([] { scraper::xpath_rule("t="); }), "empty"));
  // Operator names and '*' after an operand are operators, not functions or name tests.
  for (const char* ok :
       {"t=count(//a) div 2", "t=//a[@x and (@y)]", "t=//a[1 or (2)]", "t=2 * (3)", "t=//*[name()='a'] | //b",
        "t=//p[contains(., 'and (')]/text()", "t=//a[. = 'x']", "t=string(//h1) mod 2", "t=//li[position() = last()]",
        "t=//descendant::li[1]", "t=//p/node()", "t=//processing-instruction('x')"})
    CHECK(error_of([&] { scraper::xpath_rule(ok); }).empty());
}

TEST_CASE("extract: values are text, attributes, lists or XPath's strings", "[scraper][extract]") {
  CHECK(xpath("//title") == strings{"T"});
  CHECK(xpath("//h1") == strings{"Head line"});  // whitespace collapsed
  CHECK(xpath("//li") == strings{"one", "two", "three", "four"});
  CHECK(xpath("//li/@class") == strings{"item first", "item", "item"});
  CHECK(xpath("//nothing") == strings{});
  CHECK(xpath("count(//li)") == strings{"4"});
  CHECK(xpath("boolean(//h1)") == strings{"true"});
  CHECK(xpath("string(//h1/@id)") == strings{""});
  CHECK(xpath("sum(//nothing)") == strings{"0"});
  CHECK(xpath("concat(//title, '!')") == strings{"T!"});
  // Relative paths start at the document.
  CHECK(xpath("descendant::p[2]") == strings{"second"});
  // A page libxml2 cannot parse into a tree still has every field, empty.
  scraper::page_rules rules;
  rules.fields.push_back(scraper::xpath_rule("t=//title"));
  auto empty = scraper::analyze_page_with("http://x/", "", rules);
  REQUIRE(empty.fields.size() == 1);
  CHECK(empty.fields[0].second.empty());
}

TEST_CASE("extract: a rule that fails in the worker leaves its field empty, never throws", "[scraper][extract]") {
  // What check_rules would refuse, handed to the worker anyway.
  scraper::page_rules rules;
  rules.fields.push_back({"bad", "//a[", "//a["});
  rules.fields.push_back({"type", "count('x')", "count('x')"});
  rules.fields.push_back({"ok", "//h1", "//h1"});
  scraper::page_info info;
  REQUIRE_NOTHROW(info = scraper::analyze_page_with("http://x/", sample, rules));
  REQUIRE(info.fields.size() == 3);
  CHECK(info.fields[0].second.empty());
  CHECK(info.fields[1].second.empty());
  CHECK(info.fields[2].second == strings{"Head line"});
  CHECK(info.title == "T");
}

TEST_CASE("extract: without rules analyze_page_with is analyze_page", "[scraper][extract]") {
  auto a = scraper::analyze_page("http://x/dir/page.html", sample);
  auto b = scraper::analyze_page_with("http://x/dir/page.html", sample, {});
  CHECK(a.title == b.title);
  CHECK(a.links == b.links);
  CHECK(a.word_count == b.word_count);
  CHECK(a.top_words == b.top_words);
  CHECK(b.fields.empty());
  CHECK_FALSE(b.follow_restricted);
}

TEST_CASE("extract: follow XPaths choose the links to follow, links still lists all", "[scraper][extract]") {
  const std::string html = R"html(<html><body>
    <nav><a href="/n1">1</a> <ul><li><a href="n2">2</a></li></ul></nav>
    <a href="/other">o</a> <a href="/n1#again">n1 again</a> <a href="/next" rel="next">next</a>
    <area href="/area">
    </body></html>)html";
  auto follow = [&](strings xpaths) {
    scraper::page_rules rules;
    rules.follow = std::move(xpaths);
    scraper::check_rules(rules);
    auto info = scraper::analyze_page_with("http://x/dir/page.html", html, rules);
    CHECK(info.links == strings{"http://x/n1", "http://x/dir/n2", "http://x/other", "http://x/next", "http://x/area"});
    CHECK(info.follow_restricted);
    return info.follow;
  };
  CHECK(follow({"//nav"}) == strings{"http://x/n1", "http://x/dir/n2"});  // a region: the links inside
  CHECK(follow({"//a[@rel='next']"}) == strings{"http://x/next"});
  CHECK(follow({"//nav//a/@href"}) == strings{"http://x/n1", "http://x/dir/n2"});
  CHECK(follow({"//a[@rel='next']", "//area"}) == strings{"http://x/next", "http://x/area"});
  CHECK(follow({"string(//a[@rel='next']/@href)"}) == strings{"http://x/next"});
  CHECK(follow({"//table"}).empty());
}

TEST_CASE("extract: rule names are unique", "[scraper][extract]") {
  scraper::page_rules rules;
  rules.fields.push_back(scraper::xpath_rule("t=//title"));
  rules.fields.push_back(scraper::css_rule("t=title"));
  CHECK(has(error_of([&] { scraper::check_rules(rules); }), "rule \"t\": the name is given twice"));
  rules.fields.pop_back();
  rules.follow.push_back("//a[");
  CHECK(has(error_of([&] { scraper::check_rules(rules); }), "follow: XPath \"//a[\": at position 5"));
}

TEST_CASE("extract: rules files", "[scraper][extract]") {
  const auto dir = std::filesystem::temp_directory_path() / ("weft-extract-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = [&](const std::string& name, const std::string& text) {
    const std::string path = (dir / name).string();
    std::ofstream(path) << text;
    return path;
  };
  SECTION("every key") {
    auto f = scraper::read_rules_file(file("ok.json", R"json({
      "extract": {"title": "//title", "items": "//li"},
      "css": {"heading": "h1", "hrefs": "p a::attr(href)"},
      "allow": ["/page/"], "deny": "\\.png$", "follow": "//nav"})json"));
    REQUIRE(f.rules.fields.size() == 4);
    CHECK(f.rules.fields[0].name == "title");
    CHECK(f.rules.fields[1].xpath == "//li");
    CHECK(f.rules.fields[2].name == "heading");
    CHECK(f.rules.fields[2].xpath == "descendant-or-self::h1");
    CHECK(f.rules.fields[3].source == "p a::attr(href)");
    CHECK(f.allow == strings{"/page/"});
    CHECK(f.deny == strings{"\\.png$"});
    CHECK(f.rules.follow == strings{"//nav"});
    auto info = scraper::analyze_page_with("http://x/", sample, f.rules);
    REQUIRE(info.fields.size() == 4);
    CHECK(info.fields[3].second == strings{"/a", "/b"});
  }
  SECTION("errors name the file and what is wrong") {
    auto error = [&](const std::string& text) {
      return error_of([&] { scraper::read_rules_file(file("bad.json", text)); });
    };
    CHECK(has(error(R"({"extract": {"t": "//title"}, "fields": {}})"), "unknown key \"fields\""));
    CHECK(has(error("{\n  \"extract\": {\"t\": \"//title\",}\n}"), "not JSON (line 2, column"));
    CHECK(has(error(R"({"extract": ["//title"]})"), "\"extract\" takes an object"));
    CHECK(has(error(R"({"extract": {"t": 3}})"), "rule \"t\": expected a string"));
    CHECK(has(error(R"({"allow": [1]})"), "\"allow\" takes a string or a list of strings"));
    CHECK(has(error(R"([])"), "expected a JSON object"));
    const std::string e = error(R"({"css": {"price": ".a["}})");
    CHECK(has(e, "rules file '"));
    CHECK(has(e, "\"css\": rule \"price\": CSS selector \".a[\": at position 4"));
    CHECK(has(error_of([&] { scraper::read_rules_file((dir / "none.json").string()); }), "cannot open"));
  }
  std::filesystem::remove_all(dir);
}

namespace {

std::string path_of(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

/// Crawls a 150-page demo site (on 127.0.0.1) with the options `set` makes.
template <class Set>
scraper::crawl_stats crawl_demo(std::vector<scraper::page_record>& records, std::vector<std::string>& lines, Set set) {
  scraper::crawl_stats stats;
  weft::runtime rt({.workers = 2});
  rt.block_on([&]() -> weft::task<void> {
    scraper::demo_site_options d;
    d.pages = 150;
    d.delay = 1ms;
    d.slow_delay = 5s;
    auto site = scraper::demo_site::start(d);
    scraper::crawl_options o;
    o.seeds = {site.root_url()};
    o.concurrency = 16;
    o.timeout = 1500ms;
    o.backoff_base = 10ms;
    set(o);
    scraper::crawler c(o, [&](const scraper::page_record& r) {
      records.push_back(r);
      lines.push_back(scraper::to_json_line(r));
    });
    stats = co_await c.run();
    co_await site.stop();
  }());
  return stats;
}

}  // namespace

TEST_CASE("extract: a crawl records every parsed page's fields and follows only what deny and follow let through",
          "[scraper][extract]") {
  std::vector<scraper::page_record> records;
  std::vector<std::string> lines;
  SECTION("fields, and deny") {
    const std::string odd = "/page/\\d*[13579]\\.html$";
    auto stats = crawl_demo(records, lines, [&](scraper::crawl_options& o) {
      o.rules.fields = {scraper::xpath_rule("title=//title"), scraper::css_rule("heading=h1"),
                        scraper::xpath_rule("links=count(//a)")};
      o.deny = {odd};
    });
    REQUIRE(records.size() > 20);
    std::size_t parsed = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      INFO(lines[i]);
      const std::string path = path_of(r.url);
      // Denied: no odd page queued (one may still be a redirect's target).
      CHECK_FALSE(
          (path.rfind("/page/", 0) == 0 && std::string("13579").find(path[path.size() - 6]) != std::string::npos));
      if (!r.page) {
        CHECK(lines[i].find("\"fields\"") == std::string::npos);
        continue;
      }
      ++parsed;
      REQUIRE(r.page->fields.size() == 3);
      CHECK(r.page->fields[0] == std::pair<std::string, strings>{"title", {r.page->title}});
      if (path == "/" || path.rfind("/page/", 0) == 0) {
        CHECK(r.page->fields[1] == std::pair<std::string, strings>{"heading", {r.page->title}});
        REQUIRE(r.page->fields[2].second.size() == 1);
        CHECK(std::stoul(r.page->fields[2].second[0]) >= r.page->links.size());
      }
      CHECK(lines[i].find("\"fields\":{\"title\":[") != std::string::npos);
    }
    CHECK(parsed == stats.parsed);
    CHECK(stats.links_filtered > 0);
    CHECK(scraper::to_json(stats).find("\"links_filtered\":" + std::to_string(stats.links_filtered)) !=
          std::string::npos);
    CHECK(scraper::summary_text(stats).find("links filtered") != std::string::npos);
  }
  SECTION("follow") {
    auto stats = crawl_demo(records, lines, [](scraper::crawl_options& o) { o.rules.follow = {"//li"}; });
    // The front page lists pages 0-4 in <li>; their own links are in <p>.
    std::set<std::string> paths;
    for (const auto& r : records) paths.insert(path_of(r.url));
    CHECK(paths ==
          std::set<std::string>{"/", "/page/0.html", "/page/1.html", "/page/2.html", "/page/3.html", "/page/4.html"});
    CHECK(stats.pages == 6);
    for (const auto& r : records) {
      REQUIRE(r.page);
      CHECK(r.page->follow_restricted);
      if (path_of(r.url) != "/") {
        CHECK(r.page->links.size() >= 5);  // listed, not followed
        CHECK(r.page->follow.empty());
      }
    }
    CHECK(stats.links_filtered == 0);  // follow is not allow/deny
  }
}

TEST_CASE("extract: the crawler refuses bad rules and patterns before crawling", "[scraper][extract]") {
  scraper::crawl_options o;
  o.seeds = {"http://127.0.0.1:1/"};
  auto refusal = [&] {
    try {
      scraper::crawler c(o, {});
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  o.deny = {"a("};
  CHECK(has(refusal(), "crawler: --deny 'a(': not a valid regular expression"));
  o.deny.clear();
  o.allow = {"ok", "x**"};
  CHECK(has(refusal(), "--allow 'x**'"));
  o.allow.clear();
  o.rules.fields.push_back({"t", "//a[", "//a["});
  CHECK(has(refusal(), "crawler: rule \"t\": XPath \"//a[\": at position 5"));
  o.rules.fields.clear();
  o.rules.follow = {"nope()"};
  CHECK(has(refusal(), "follow: XPath \"nope()\": at position 1: unknown function"));
  o.rules.follow.clear();
  CHECK(refusal().empty());
}
