// libFuzzer target for the scraper's robots.txt rules (examples/scraper).
//
// Input: the robots.txt text, optionally followed by a NUL byte and a path
// to check. Parsing must accept anything, matching a path against the
// rules must finish quickly whatever the patterns ("*" runs included), and
// "/robots.txt" itself must always be allowed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "robots.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nul = in.find('\0');
  const std::string_view text = in.substr(0, nul);
  const std::string_view path = nul == std::string_view::npos ? "/a/b.html?c=1" : in.substr(nul + 1);
  for (std::string_view agent : {"weft-scraper/0.1", "*"}) {
    const auto rules = scraper::robots_rules::parse(text, agent);
    (void)rules.allowed(path);
    (void)rules.crawl_delay();
    if (!rules.allowed("/robots.txt")) {
      std::fprintf(stderr, "robots_fuzz: /robots.txt disallowed\n");
      std::abort();
    }
  }
  return 0;
}
