// scraper::analyze_page and is_html: titles, entities, links, words, top
// words, broken markup, big pages, bytes that are not UTF-8.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "page.hpp"

using scraper::analyze_page;
using words = std::vector<std::pair<std::string, std::uint64_t>>;
using links = std::vector<std::string>;

namespace {
struct field_counter {
  int fields = 0;
  template <class... T>
  void operator()(T&...) {
    fields = sizeof...(T);
  }
};
}  // namespace

TEST_CASE("page: title is trimmed, whitespace collapsed, entities decoded", "[scraper][page]") {
  auto p = analyze_page("http://x/",
                        "<html><head><title>\n  Fish &amp; Chips\t&lt;daily&gt;  &eacute;t&#233; &#x263A;  "
                        "</title></head><body></body></html>");
  CHECK(p.title == "Fish & Chips <daily> \xC3\xA9t\xC3\xA9 \xE2\x98\xBA");
  CHECK(p.html_ok);
  CHECK(analyze_page("http://x/", "<p>no title</p>").title.empty());
  // The first title wins.
  CHECK(analyze_page("http://x/", "<title>one</title><title>two</title>").title == "one");
}

TEST_CASE("page: links are resolved, normalized, deduplicated, in document order", "[scraper][page]") {
  const std::string html = R"html(<html><body>
    <a href="b.html">relative</a>
    <a href="/root.html#frag">absolute path, fragment</a>
    <a href="HTTP://Other.Example:80/x">absolute, other host</a>
    <a href="b.html#again">duplicate after dropping the fragment</a>
    <a href="#top">same page</a>
    <a href="mailto:me@example.com">mail</a>
    <a href="javascript:void(0)">script</a>
    <a href="data:text/plain,hi">data</a>
    <a>no href</a>
    <a href="../up.html?q=1&amp;r=2" rel="nofollow">nofollow, entity in href</a>
    <map><area href="area.html" alt="area"></map>
    <link href="style.css" rel="stylesheet"><img src="logo.png">
    </body></html>)html";
  auto p = analyze_page("http://example.com/dir/page.html", html);
  CHECK(p.links == links{"http://example.com/dir/b.html", "http://example.com/root.html", "http://other.example/x",
                         "http://example.com/dir/page.html", "http://example.com/up.html?q=1&r=2",
                         "http://example.com/dir/area.html"});
}

TEST_CASE("page: base href changes what relative links resolve against", "[scraper][page]") {
  auto p =
      analyze_page("http://example.com/dir/page.html", R"(<head><base href="/other/"><base href="/ignored/"></head>)"
                                                       R"(<body><a href="x.html">x</a><a href="/abs">abs</a></body>)");
  CHECK(p.links == links{"http://example.com/other/x.html", "http://example.com/abs"});
  // A base href that is itself relative resolves against the page's URL.
  auto q = analyze_page("http://example.com/dir/page.html", R"(<base href="sub/"><a href="x.html">x</a>)");
  CHECK(q.links == links{"http://example.com/dir/sub/x.html"});
  // A base that is not http(s) is ignored.
  auto r = analyze_page("http://example.com/dir/page.html", R"(<base href="javascript:x"><a href="x.html">x</a>)");
  CHECK(r.links == links{"http://example.com/dir/x.html"});
}

TEST_CASE("page: words of the visible text only", "[scraper][page]") {
  auto p = analyze_page("http://x/", R"(<html><head><title>Title words</title>
      <style>body { color: red }</style><script>var hidden = 1;</script></head>
      <body><h1>One two</h1><p>three <b>fo</b>ur five-six it's</p>
      <script>more hidden words</script><noscript>no script</noscript>
      <template><p>template words</p></template><!-- a comment -->
      <p>seven&nbsp;eight&mdash;9 caf&eacute; &ldquo;quoted&rdquo; l&rsquo;homme</p></body></html>)");
  // One, two, three, four, five, six, it's, seven, eight, 9, café, quoted, l'homme.
  CHECK(p.word_count == 13);
  auto q = analyze_page("http://x/", "<p>Caf\xC3\xA9 caf\xC3\xA9 l\xE2\x80\x99homme l'homme</p>");
  CHECK(q.top_words == words{{"caf\xC3\xA9", 2}, {"l'homme", 2}});
}

TEST_CASE("page: top words ordered by count then word, stop words and short words out", "[scraper][page]") {
  std::string body = "<p>";
  for (int i = 0; i < 5; ++i) body += "zebra ";
  for (int i = 0; i < 3; ++i) body += "Apple apple ";  // apple: 6
  for (int i = 0; i < 5; ++i) body += "mango ";
  for (int i = 0; i < 9; ++i) body += "the and with ox an a ";  // stop words and short words
  body += "kiwi 123 abc1 ";
  body += "</p>";
  auto p = analyze_page("http://x/", body);
  CHECK(p.top_words == words{{"apple", 6}, {"mango", 5}, {"zebra", 5}, {"kiwi", 1}});
  CHECK(p.word_count == 5 + 6 + 5 + 9 * 6 + 3);

  std::string many = "<p>";
  for (int w = 0; w < 15; ++w)
    for (int k = 0; k <= w; ++k) many += "word" + std::string(1, static_cast<char>('a' + w)) + " ";
  auto q = analyze_page("http://x/", many);
  REQUIRE(q.top_words.size() == scraper::top_words_kept);
  CHECK(q.top_words.front() == std::pair<std::string, std::uint64_t>{"wordo", 15});
  CHECK(q.top_words.back() == std::pair<std::string, std::uint64_t>{"wordf", 6});
}

TEST_CASE("page: HTML5 elements and a repeated id are not broken markup", "[scraper][page]") {
  // What every Sphinx page (Python's docs among them) has: libxml2 2.9
  // reports these, but the markup is fine.
  const std::string html =
      "<!DOCTYPE html><html><head><title>Modern page</title></head><body>"
      "<nav id=\"top\"><a href=\"/a.html\">a</a></nav><section><article><p>text here</p></article></section>"
      "<aside><svg viewBox=\"0 0 1 1\"><path d=\"M0 0\"/></svg></aside><nav id=\"top\">again</nav>"
      "</body></html>";
  auto p = analyze_page("http://x/", html);
  CHECK(p.html_ok);
  CHECK(p.title == "Modern page");
  REQUIRE(p.links.size() == 1);
  CHECK(p.links[0] == "http://x/a.html");
  // A real error on the same kind of page still counts.
  auto q = analyze_page("http://x/", "<!DOCTYPE html><html><body><section><b><i>x</b></i></section></body></html>");
  CHECK_FALSE(q.html_ok);
}

TEST_CASE("page: a stray end tag, a bare '&' in an href and end tags in a script are not broken markup",
          "[scraper][page]") {
  // All common on valid pages (Python's docs have "</p></p>" and HTML in
  // scripts; query strings are written with a bare '&'): recovery changes
  // nothing, or (the script) HTML5 sees no error at all.
  auto p = analyze_page("http://x/",
                        "<!DOCTYPE html><html><head><title>T</title></head><body>"
                        "<p class=\"availability\">one<p>two</p>\n</p></div>"
                        "<a href=\"q.html?x=1&z=2\">query</a>"
                        "<script>var t = '<p><a href=\"#\"></a></p>';</script></body></html>");
  CHECK(p.html_ok);
  REQUIRE(p.links.size() == 1);
  CHECK(p.links[0] == "http://x/q.html?x=1&z=2");
  // Misnested elements and a stray '<' still count.
  CHECK_FALSE(analyze_page("http://x/", "<html><body><div><b><i>x</b></i></div></body></html>").html_ok);
  CHECK_FALSE(analyze_page("http://x/", "<html><body><p <<>> stray</p></body></html>").html_ok);
}

TEST_CASE("page: broken HTML still yields title, links and words", "[scraper][page]") {
  const std::string html =
      "<html><head><title>Broken page</title><body><div><p>unclosed paragraph "
      "<a href=\"/page/1.html\">one<a href='/page/2.html'>two</b></i> 1 < 2 &bogus; &amp "
      "<table><tr><td>cell<td>cell two <a href=/page/3.html>three</div>"
      "<p <<>> stray <a href=\"/page/4.html\"";
  auto p = analyze_page("http://x/broken.html", html);
  CHECK_FALSE(p.html_ok);
  CHECK(p.title == "Broken page");
  CHECK(p.links.size() >= 3);
  CHECK(p.links[0] == "http://x/page/1.html");
  CHECK(p.links[1] == "http://x/page/2.html");
  CHECK(p.links[2] == "http://x/page/3.html");
  CHECK(p.word_count >= 8);
}

TEST_CASE("page: empty, binary and non-UTF-8 input do not crash", "[scraper][page]") {
  auto e = analyze_page("http://x/", "");
  CHECK(e.title.empty());
  CHECK(e.links.empty());
  CHECK(e.word_count == 0);

  std::string binary;
  for (int i = 0; i < 4096; ++i) binary += static_cast<char>((i * 7919) & 0xff);
  auto b = analyze_page("http://x/", binary);
  (void)b;

  // Latin-1 bytes without a declared charset: still parsed, text kept.
  auto l = analyze_page("http://x/", "<title>caf\xE9 cr\xE8me</title><p>na\xEFve r\xE9sum\xE9 text</p>");
  CHECK_FALSE(l.title.empty());
  CHECK(l.word_count >= 3);

  auto d = analyze_page("http://x/", "<meta charset=\"iso-8859-1\"><title>caf\xE9</title>");
  CHECK(d.title == "caf\xC3\xA9");
}

TEST_CASE("page: a 1 MB page is analyzed in reasonable time", "[scraper][page]") {
  std::string html = "<html><head><title>Big</title></head><body>";
  int n = 0;
  while (html.size() < (1u << 20)) {
    html += "<p>Paragraph " + std::to_string(n) +
            " has quite a lot of words about crawling "
            "spiders and webs, <a href=\"/p/" +
            std::to_string(n % 500) + ".html\">link</a>.</p>\n";
    ++n;
  }
  html += "</body></html>";
  const auto start = std::chrono::steady_clock::now();
  auto p = analyze_page("http://x/", html);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(p.title == "Big");
  CHECK(p.links.size() == 500);
  CHECK(p.word_count == static_cast<std::uint64_t>(n) * 14);
  CHECK(p.top_words.front().second == static_cast<std::uint64_t>(n));
  // Generous (a loaded machine, a debug build): the point is "not quadratic".
  CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("page: is_html", "[scraper][page]") {
  CHECK(scraper::is_html("text/html"));
  CHECK(scraper::is_html("Text/HTML; charset=utf-8"));
  CHECK(scraper::is_html(" text/html ;charset=iso-8859-1"));
  CHECK(scraper::is_html("application/xhtml+xml"));
  CHECK_FALSE(scraper::is_html("text/plain"));
  CHECK_FALSE(scraper::is_html("application/octet-stream"));
  CHECK_FALSE(scraper::is_html("image/png"));
  CHECK_FALSE(scraper::is_html(""));
  CHECK_FALSE(scraper::is_html("text/htmlx"));
}

TEST_CASE("page: page_info serializes through cereal's interface", "[scraper][page]") {
  // spawn_process ships page_info with cereal: serialize() lists every field.
  field_counter c;
  scraper::page_info p;
  p.serialize(c);
  CHECK(c.fields == 8);
}

TEST_CASE("page: pages parsed one after another on a thread share nothing", "[scraper][page]") {
  // analyze_page keeps its parser context, text buffer and word table per
  // thread: nothing of one page may show in the next.
  auto broken = analyze_page("http://x/", "<p>x</b></i><p <<>> stray");
  CHECK_FALSE(broken.html_ok);
  auto clean =
      analyze_page("http://x/", "<html><head><title>Clean</title></head><body><p>fine words</p></body></html>");
  CHECK(clean.html_ok);
  CHECK(clean.title == "Clean");
  CHECK(clean.word_count == 2);
  CHECK(clean.top_words == words{{"fine", 1}, {"words", 1}});

  // A declared Latin-1 page, then undeclared UTF-8, then undeclared Latin-1.
  CHECK(analyze_page("http://x/", "<meta charset=\"iso-8859-1\"><title>caf\xE9</title>").title == "caf\xC3\xA9");
  CHECK(analyze_page("http://x/", "<title>caf\xC3\xA9</title>").title == "caf\xC3\xA9");
  CHECK(analyze_page("http://x/", "<title>cr\xE8me caf\xE9</title>").title == "cr\xC3\xA8me caf\xC3\xA9");

  // Many distinct words (the word table grows past its first size), then
  // a small page: only the small page's words count.
  std::string many = "<p>";
  for (int i = 0; i < 20000; ++i) {
    std::string w = "w";
    for (int k = i; k > 0; k /= 26) w += static_cast<char>('a' + k % 26);
    many += w + "xx ";
  }
  many += "zzzz zzzz</p>";
  auto big = analyze_page("http://x/", many);
  CHECK(big.word_count == 20002);
  REQUIRE(big.top_words.size() == scraper::top_words_kept);
  CHECK(big.top_words.front() == std::pair<std::string, std::uint64_t>{"zzzz", 2});
  auto small = analyze_page("http://x/", "<p>Zebra zebra apple</p>");
  CHECK(small.top_words == words{{"zebra", 2}, {"apple", 1}});

  // A base href and links on one page do not carry over either.
  CHECK(analyze_page("http://e.com/d/", "<base href=\"/o/\"><a href=\"x\">x</a>").links == links{"http://e.com/o/x"});
  CHECK(analyze_page("http://e.com/d/", "<a href=\"x\">x</a>").links == links{"http://e.com/d/x"});
}

TEST_CASE("page: stop words with either apostrophe, and names in any case", "[scraper][page]") {
  // U+2019 counts as an apostrophe: "Don\u2019t" is the stop word "don't".
  auto p = analyze_page("http://x/", "<P>Don't DON\xE2\x80\x99T won't Kiwi kiwi's KIWI</P>");
  CHECK(p.word_count == 6);
  CHECK(p.top_words == words{{"kiwi", 2}, {"kiwi's", 1}});
  // Element names are matched whatever their case: <SCRIPT> is invisible,
  // <B> does not break a word, <TITLE> and <A HREF> count.
  auto q =
      analyze_page("http://x/", "<TITLE>Up</TITLE><BODY><SCRIPT>hidden</SCRIPT>un<B>done</B> <A HREF=\"/a\">a</A>");
  CHECK(q.title == "Up");
  CHECK(q.word_count == 2);
  CHECK(q.links == links{"http://x/a"});
}

TEST_CASE("page: many links are deduplicated in document order", "[scraper][page]") {
  std::string html;
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 100; ++i) html += "<a href=\"/p/" + std::to_string(i) + "\">l</a>";
  auto p = analyze_page("http://x/", html);
  REQUIRE(p.links.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(p.links[static_cast<std::size_t>(i)] == "http://x/p/" + std::to_string(i));
}

TEST_CASE("page: long words sharing their first bytes are told apart", "[scraper][page]") {
  // Words are compared 8 bytes at a time: lengths 7, 8, 9, 16 and 17 and a
  // shared 8- or 16-byte prefix must still be different words.
  auto p = analyze_page("http://x/",
                        "<p>abcdefg abcdefgh abcdefgh abcdefghi abcdefghi abcdefghi abcdefghijklmnop "
                        "abcdefghijklmnopq abcdefghijklmnopq abcdefghijklmnopr ABCDEFGHIJKLMNOPR</p>");
  CHECK(p.word_count == 11);
  CHECK(p.top_words == words{{"abcdefghi", 3},
                             {"abcdefgh", 2},
                             {"abcdefghijklmnopq", 2},
                             {"abcdefghijklmnopr", 2},
                             {"abcdefg", 1},
                             {"abcdefghijklmnop", 1}});
}
