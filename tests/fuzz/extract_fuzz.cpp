// libFuzzer target for the scraper's extraction rules (examples/scraper/extract.cpp).
//
// Input: a CSS selector, or after a leading 'x' an XPath expression. A
// selector that css_to_xpath accepts must translate to an XPath that
// check_xpath accepts (the translation is never the user's fault); any
// input may only be refused with rule_error, never crash, hang or leak; an
// XPath that check_xpath accepts is evaluated on a small page, as the
// worker does, and must not throw either.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "extract.hpp"
#include "page.hpp"

namespace {
const std::string page =
    "<html><head><title>t</title></head><body><div id=a class='b c'><p>x <a href=/1>1</a></p>"
    "<ul><li>1<li>2<li class=c>3</ul><a href='/2' rel=next>2</a></div></body></html>";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.size() > 512) return 0;  // long inputs only slow the search down
  const bool xpath = !in.empty() && in[0] == 'x';
  if (xpath) in.remove_prefix(1);
  std::string expr;
  try {
    expr = xpath ? std::string(in) : scraper::css_to_xpath(in);
  } catch (const scraper::rule_error&) {
    return 0;
  }
  try {
    scraper::check_xpath(expr);
  } catch (const scraper::rule_error& e) {
    if (xpath) return 0;
    std::fprintf(stderr, "extract_fuzz: the translation of a selector does not check: %s\n", e.what());
    std::abort();
  }
  scraper::page_rules rules;
  rules.fields.push_back({"f", expr, expr});
  rules.follow.push_back(expr);
  (void)scraper::analyze_page_with("http://h/d/p.html", page, rules);
  return 0;
}
