// Extraction rules: named XPath expressions (or CSS selectors, translated
// to XPath) evaluated on the tree analyze_page already builds, and XPaths
// that say which links a crawl follows. The rules are checked once, in the
// parent, so that a worker process never meets a bad one:
//
//   scraper::page_rules rules;
//   rules.fields.push_back(scraper::xpath_rule("title=//title"));       // throws rule_error if bad
//   rules.fields.push_back(scraper::css_rule("price=.price::attr(content)"));
//   rules.follow.push_back("//nav");                                  // links inside <nav> only
//   scraper::check_rules(rules);                                       // names unique, XPaths compile
//   scraper::page_info info = co_await weft::spawn_process(scraper::analyze_page_with, url, body, rules);
//   // info.fields: {{"title", {"Page 17"}}, {"price", {"9.99", "12.00"}}}
//
// A rule's value is ALWAYS a list of strings (Scrapy's getall(); a rule
// that matched nothing gives []), one per node selected, in document order:
// an element (or the document, or a text node) gives its text content,
// whitespace collapsed and trimmed; an attribute node (`//a/@href`, CSS
// `a::attr(href)`) its value as written; an XPath string, number or
// boolean result (`count(//a)`, `string(//h1)`) one string, converted as
// XPath's string() does ("12", "true").
//
// CSS: type, `*`, `.class`, `#id`, `[attr]`, `[attr=v]` (and `~=`, `|=`,
// `^=`, `$=`, `*=`), the descendant (space), child (`>`), adjacent (`+`)
// and sibling (`~`) combinators, `:nth-child(an+b|odd|even)`,
// `:first-child`, `:last-child`, `:only-child`, selector lists with `,`;
// ending a selector with `::attr(NAME)` selects that attribute (its value),
// `::text` the element's own text nodes, as in Scrapy/parsel.
//
// --follow XPaths (Scrapy's restrict_xpaths): a selected element gives the
// links (a and area href) it is or contains, an attribute or a string
// result gives one URL; only links also in page_info::links are kept.
//
// Nothing here blocks or suspends: cancellation and deadlines apply to the
// spawn_process call that runs analyze_page_with, not to these functions.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// libxml2's parsed document, declared only (see detail:: below).
struct _xmlDoc;

namespace scraper {

/// A bad rule: the message names the rule and, for an expression, the
/// position (1-based, in characters of the expression) and what is wrong.
class rule_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// One named field. `xpath` is what the worker evaluates; `source` is the
/// rule as the user wrote it (for messages).
struct extract_rule {
  std::string name;
  std::string xpath;
  std::string source;

  template <class A>
  void serialize(A& a) {
    a(name, xpath, source);
  }
};

/// Everything a worker needs besides the page: travels with each page to
/// the process pool (a plain struct of strings, serialized by cereal).
struct page_rules {
  std::vector<extract_rule> fields;  // each fills page_info::fields, in this order
  std::vector<std::string> follow;   // XPaths; empty: every link is followed

  bool empty() const noexcept { return fields.empty() && follow.empty(); }

  template <class A>
  void serialize(A& a) {
    a(fields, follow);
  }
};

/// "NAME=XPATH" (the first '=' splits) into a rule, its XPath checked.
extract_rule xpath_rule(std::string_view spec);
/// "NAME=SELECTOR" into a rule whose xpath is the translated selector.
extract_rule css_rule(std::string_view spec);

/// A CSS selector (the subset above) as one XPath 1.0 expression, relative
/// to the document: `.a` -> `descendant-or-self::*[contains(concat(' ',
/// normalize-space(@class),' '),' a ')]`. Throws rule_error naming the
/// position and what was expected there.
std::string css_to_xpath(std::string_view selector);

/// Throws rule_error (libxml2's message and the position) unless `xpath`
/// compiles, calls only XPath 1.0's functions, uses no variable, and
/// evaluates on a small document without error.
void check_xpath(std::string_view xpath);

/// Every field name non-empty and unique, every XPath (fields and follow)
/// checked as check_xpath does. Throws rule_error naming the rule.
void check_rules(const page_rules& rules);

/// What a rules file holds (read_rules_file).
struct rules_file {
  page_rules rules;
  std::vector<std::string> allow;  // regexes (see link_filter.hpp)
  std::vector<std::string> deny;
};

/// Reads a JSON rules file:
///   {"extract": {"name": "xpath", ...}, "css": {"name": "selector", ...},
///    "allow": ["regex", ...], "deny": [...], "follow": "xpath" or [...]}
/// Every key is optional; allow, deny and follow take a string or a list
/// of strings. An unknown key, a value of the wrong type, malformed JSON
/// (line and column given) or a bad rule throws rule_error naming the file.
/// The XPaths and selectors are translated and checked (check_rules); the
/// regexes are not (link_filter does that).
rules_file read_rules_file(const std::string& path);

/// The name and values of each field, as page_info::fields holds them.
using field_values = std::vector<std::pair<std::string, std::vector<std::string>>>;

namespace detail {
// For page.cpp, which owns the parsed tree (libxml2's xmlDoc, declared here
// without including libxml2: it stays out of the scraper's headers).
// Evaluation errors (a type error at run time) leave that field empty;
// they never throw. Compiled XPaths are cached per thread, by expression.
field_values evaluate_fields(::_xmlDoc* doc, const std::vector<extract_rule>& rules);
/// The raw hrefs (unresolved, in document order, repeats kept) the follow
/// XPaths select.
std::vector<std::string> follow_hrefs(::_xmlDoc* doc, const std::vector<std::string>& xpaths);
}  // namespace detail

}  // namespace scraper
