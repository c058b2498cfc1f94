// scraper::parse_sitemap against the sitemaps.org protocol: urlsets and
// indexes, gzip, the 50,000-URL and 50 MB limits (a gzip bomb stops
// early), broken XML, invalid locs, and XXE / entity bombs not expanded.
#include <zlib.h>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "sitemap.hpp"

using scraper::parse_sitemap;
using scraper::sitemap_error;

namespace {

/// `data` as a gzip file (one member).
std::string gzip(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

std::string urlset(const std::vector<std::string>& locs) {
  std::string x = R"(<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
)";
  for (const auto& l : locs) x += "<url><loc>" + l + "</loc></url>\n";
  return x + "</urlset>\n";
}

std::vector<std::string> locs(const scraper::sitemap& s) {
  std::vector<std::string> v;
  for (const auto& e : s.entries) v.push_back(e.loc);
  return v;
}

}  // namespace

TEST_CASE("sitemap: a urlset gives its locs normalized, with lastmod", "[scraper][sitemap]") {
  auto s = parse_sitemap(R"(<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url>
    <loc> http://Example.com/a?x=1&amp;y=2 </loc>
    <lastmod>2024-05-01T10:00:00+00:00</lastmod>
    <changefreq>daily</changefreq>
    <priority>0.8</priority>
  </url>
  <url><loc><![CDATA[http://example.com/b]]></loc></url>
  <url><lastmod>2024-01-01</lastmod></url>
  <url/>
  <url><loc>/relative/path</loc></url>
  <url><loc>ftp://example.com/file</loc></url>
  <url><loc>mailto:someone@example.com</loc></url>
  <url><loc>http://example.com/c</loc><lastmod>  2023-12-31 </lastmod></url>
</urlset>)");
  CHECK(s.error == sitemap_error::none);
  CHECK(s.message.empty());
  CHECK_FALSE(s.index);
  CHECK_FALSE(s.gzipped);
  REQUIRE(s.entries.size() == 3);
  CHECK(s.entries[0].loc == "http://example.com/a?x=1&y=2");
  CHECK(s.entries[0].lastmod == "2024-05-01T10:00:00+00:00");
  CHECK(s.entries[1].loc == "http://example.com/b");
  CHECK(s.entries[1].lastmod.empty());
  CHECK(s.entries[2].loc == "http://example.com/c");
  CHECK(s.entries[2].lastmod == "2023-12-31");
  CHECK(s.invalid == 5);  // no loc (twice), relative, ftp:, mailto:
}

TEST_CASE("sitemap: an over-long loc is skipped", "[scraper][sitemap]") {
  auto s = parse_sitemap(urlset({"http://example.com/" + std::string(3000, 'a'), "http://example.com/ok"}));
  CHECK(s.error == sitemap_error::none);
  CHECK(locs(s) == std::vector<std::string>{"http://example.com/ok"});
  CHECK(s.invalid == 1);
}

TEST_CASE("sitemap: a sitemap index lists its child sitemaps", "[scraper][sitemap]") {
  auto s = parse_sitemap(R"(<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>http://example.com/s1.xml.gz</loc><lastmod>2024-02-02</lastmod></sitemap>
  <sitemap><loc>http://example.com/s2.xml</loc></sitemap>
</sitemapindex>)");
  CHECK(s.error == sitemap_error::none);
  CHECK(s.index);
  CHECK(locs(s) == std::vector<std::string>{"http://example.com/s1.xml.gz", "http://example.com/s2.xml"});
  CHECK(s.entries[0].lastmod == "2024-02-02");
}

TEST_CASE("sitemap: namespace prefixes and an empty urlset", "[scraper][sitemap]") {
  auto s = parse_sitemap(
      R"(<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9"><sm:url><sm:loc>https://example.com/p</sm:loc></sm:url></sm:urlset>)");
  CHECK(s.error == sitemap_error::none);
  CHECK(locs(s) == std::vector<std::string>{"https://example.com/p"});
  auto empty = parse_sitemap("<urlset/>");
  CHECK(empty.error == sitemap_error::none);
  CHECK(empty.entries.empty());
}

TEST_CASE("sitemap: gzip files are inflated, whatever they are called", "[scraper][sitemap]") {
  const std::string xml = urlset({"http://example.com/1", "http://example.com/2"});
  auto s = parse_sitemap(gzip(xml));
  CHECK(s.error == sitemap_error::none);
  CHECK(s.gzipped);
  CHECK(s.bytes == xml.size());
  CHECK(locs(s) == std::vector<std::string>{"http://example.com/1", "http://example.com/2"});
  // Two members, as `cat a.gz b.gz` makes.
  const std::string half = xml.substr(0, 100);
  auto two = parse_sitemap(gzip(half) + gzip(xml.substr(100)));
  CHECK(two.error == sitemap_error::none);
  CHECK(two.entries.size() == 2);
}

TEST_CASE("sitemap: broken gzip and broken XML fail with a clear message", "[scraper][sitemap]") {
  std::string z = gzip(urlset({"http://example.com/1"}));
  auto truncated = parse_sitemap(z.substr(0, z.size() / 2));
  CHECK(truncated.error == sitemap_error::bad_gzip);
  CHECK(truncated.message.find("ends early") != std::string::npos);
  std::string corrupt = z;
  for (std::size_t i = 10; i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x55);
  auto bad = parse_sitemap(corrupt);
  CHECK(bad.error == sitemap_error::bad_gzip);
  CHECK_FALSE(bad.message.empty());

  auto xml = parse_sitemap("<urlset>\n<url><loc>http://example.com/1</loc></url>\n<url><loc>x</url>\n</urlset>");
  CHECK(xml.error == sitemap_error::bad_xml);
  CHECK(xml.message.find("line 3") != std::string::npos);
  CHECK(xml.entries.empty());  // a broken file's entries are not used

  auto html = parse_sitemap("<html><body>not found</body></html>");
  CHECK(html.error == sitemap_error::not_a_sitemap);
  CHECK(html.message.find("<html>") != std::string::npos);

  CHECK(parse_sitemap("").error == sitemap_error::bad_xml);
  CHECK(parse_sitemap("just text").error == sitemap_error::bad_xml);
}

TEST_CASE("sitemap: more than 50,000 URLs fail the file, the first 50,000 kept", "[scraper][sitemap]") {
  std::vector<std::string> many;
  for (std::size_t i = 0; i < scraper::sitemap_max_urls; ++i)
    many.push_back("http://example.com/p" + std::to_string(i));
  auto full = parse_sitemap(urlset(many));
  CHECK(full.error == sitemap_error::none);
  CHECK(full.entries.size() == scraper::sitemap_max_urls);
  many.push_back("http://example.com/one-too-many");
  auto over = parse_sitemap(gzip(urlset(many)));
  CHECK(over.error == sitemap_error::too_many_urls);
  CHECK(over.message.find("50000") != std::string::npos);
  CHECK(over.entries.size() == scraper::sitemap_max_urls);
  CHECK(over.entries.back().loc == "http://example.com/p49999");
}

TEST_CASE("sitemap: more than 50 MB fails the file, a gzip bomb stops inflating at the cap", "[scraper][sitemap]") {
  // Plain: one byte over the limit, in a comment so that it is valid XML.
  std::string big = urlset({"http://example.com/1"});
  big += "<!--" + std::string(scraper::sitemap_max_bytes + 1 - big.size() - 7, 'x') + "-->";
  REQUIRE(big.size() == scraper::sitemap_max_bytes + 1);
  auto plain = parse_sitemap(big);
  CHECK(plain.error == sitemap_error::too_large);
  CHECK(plain.message.find("52428800") != std::string::npos);
  CHECK(plain.entries.empty());

  // A gzip bomb: about 64 KB that inflate to 64 MiB. Inflating stops just
  // past the cap (bytes says how far it went), never at 64 MiB.
  std::string bomb_xml = urlset({"http://example.com/1"});
  bomb_xml += "<!--" + std::string(64u << 20, ' ') + "-->";
  const std::string bomb = gzip(bomb_xml);
  bomb_xml = std::string();
  CHECK(bomb.size() < 1u << 20);
  auto s = parse_sitemap(bomb);
  CHECK(s.error == sitemap_error::too_large);
  CHECK(s.message.find("inflated") != std::string::npos);
  CHECK(s.bytes == scraper::sitemap_max_bytes + 1);
  CHECK(s.entries.empty());
}

TEST_CASE("sitemap: external entities are not loaded, entity bombs not expanded", "[scraper][sitemap]") {
  // XXE: an external entity naming a local file must not be read.
  auto xxe = parse_sitemap(R"(<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<urlset><url><loc>http://example.com/&xxe;</loc></url></urlset>)");
  for (const auto& e : xxe.entries) CHECK(e.loc.find("root") == std::string::npos);
  CHECK(xxe.message.find("root:") == std::string::npos);

  // Billion laughs: 10^9 "lol"s if expanded; here nothing expands.
  std::string laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE urlset [\n<!ENTITY lol0 \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    laughs += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) laughs += "&lol" + std::to_string(i - 1) + ";";
    laughs += "\">\n";
  }
  laughs += "]>\n<urlset><url><loc>http://example.com/&lol9;</loc></url></urlset>";
  auto bomb = parse_sitemap(laughs);
  CHECK(bomb.bytes < 4096);
  for (const auto& e : bomb.entries) CHECK(e.loc.size() < 100);
}
