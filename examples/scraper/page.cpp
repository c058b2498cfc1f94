#include "page.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "json.hpp"
#include "url.hpp"

namespace scraper {

namespace {

/// libxml2 wants its global state set up once, before threads parse.
void init_libxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

bool is_ascii_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string collapse_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char ch : s) {
    if (is_ascii_space(static_cast<unsigned char>(ch))) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out += ch;
    }
  }
  return out;
}

bool name_is(const xmlNode* n, const char* name) {
  return n->name != nullptr && xmlStrcasecmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

std::optional<std::string> attribute(const xmlNode* n, const char* name) {
  for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
    if (a->name == nullptr || xmlStrcasecmp(a->name, reinterpret_cast<const xmlChar*>(name)) != 0) continue;
    std::string value;
    for (const xmlNode* c = a->children; c != nullptr; c = c->next)
      if (c->content != nullptr) value += reinterpret_cast<const char*>(c->content);
    return value;
  }
  return std::nullopt;
}

/// Elements whose content is not visible text.
bool is_invisible(const xmlNode* n) {
  return name_is(n, "script") || name_is(n, "style") || name_is(n, "noscript") || name_is(n, "template") ||
         name_is(n, "head");
}

/// Elements that do not break a word: "<b>un</b>done" is one word.
bool is_inline(const xmlNode* n) {
  static constexpr std::array<const char*, 24> names = {
      "a",   "abbr", "b", "bdi", "bdo",  "cite",  "code", "data",   "dfn", "em",  "font", "i",
      "kbd", "mark", "q", "s",   "samp", "small", "span", "strong", "sub", "sup", "time", "u"};
  return std::any_of(names.begin(), names.end(), [&](const char* name) { return name_is(n, name); });
}

/// English stop words (all of at least 3 letters; shorter words are never
/// counted as top words anyway).
bool is_stop_word(std::string_view w) {
  static const std::unordered_set<std::string_view> words = {
      "about",  "above",   "after",  "again",   "against",    "all",        "also",    "and",    "any",    "are",
      "aren't", "because", "been",   "before",  "being",      "below",      "between", "both",   "but",    "can",
      "can't",  "cannot",  "could",  "did",     "didn't",     "does",       "doesn't", "doing",  "don't",  "down",
      "during", "each",    "few",    "for",     "from",       "further",    "had",     "has",    "have",   "having",
      "her",    "here",    "hers",   "herself", "him",        "himself",    "his",     "how",    "i'm",    "into",
      "isn't",  "it's",    "its",    "itself",  "just",       "more",       "most",    "must",   "myself", "nor",
      "not",    "now",     "off",    "once",    "only",       "other",      "ought",   "our",    "ours",   "ourselves",
      "out",    "over",    "own",    "same",    "she",        "should",     "some",    "such",   "than",   "that",
      "the",    "their",   "theirs", "them",    "themselves", "then",       "there",   "these",  "they",   "this",
      "those",  "through", "too",    "under",   "until",      "very",       "was",     "wasn't", "were",   "what",
      "when",   "where",   "which",  "while",   "who",        "whom",       "why",     "will",   "with",   "won't",
      "would",  "you",     "your",   "yours",   "yourself",   "yourselves", "we're",   "you're",
  };
  return words.count(w) != 0;
}

/// Collects the visible text, the title, <base href> and the links.
struct walker {
  std::string text;
  std::string title;
  std::optional<std::string> base_href;
  std::vector<std::string> hrefs;  // raw, in document order
  bool have_title = false;

  void walk(const xmlNode* first, bool visible) {
    for (const xmlNode* n = first; n != nullptr; n = n->next) {
      if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (visible && n->content != nullptr) text += reinterpret_cast<const char*>(n->content);
        continue;
      }
      if (n->type != XML_ELEMENT_NODE) continue;
      if (!have_title && name_is(n, "title")) {
        have_title = true;
        for (const xmlNode* c = n->children; c != nullptr; c = c->next)
          if (c->content != nullptr) title += reinterpret_cast<const char*>(c->content);
      } else if (!base_href && name_is(n, "base")) {
        base_href = attribute(n, "href");
      } else if (name_is(n, "a") || name_is(n, "area")) {
        if (auto href = attribute(n, "href")) hrefs.push_back(std::move(*href));
      }
      const bool child_visible = visible && !is_invisible(n);
      const bool breaks = !is_inline(n);
      if (breaks && child_visible) text += ' ';
      walk(n->children, child_visible);
      if (breaks && child_visible) text += ' ';
    }
  }
};

// ASCII classes by hand: <cctype>'s depend on the locale.
bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// The character at s[i] and its length in bytes. libxml2 hands out UTF-8;
/// a byte that does not start a valid sequence counts as itself.
char32_t decode_utf8(std::string_view s, std::size_t i, std::size_t& len) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  len = 1;
  if (c < 0x80) return c;  // nearly every byte of most pages
  std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 1;
  if (c >= 0xF5 || n == 1 || i + n > s.size()) return c;
  char32_t cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return c;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  len = n;
  return cp;
}

/// Letters and digits: ASCII ones, and every non-ASCII character but the
/// spaces and punctuation a text commonly holds (no-break space, Latin-1
/// signs, general and CJK punctuation).
bool is_word_char(char32_t c) {
  if (c < 0x80) return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c <= 0xBF || c == 0xD7 || c == 0xF7) return false;
  if ((c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F)) return false;
  return c != 0xFEFF && c != 0xFFFD;
}

bool is_apostrophe(char32_t c) { return c == '\'' || c == 0x2019; }

/// Splits the text into words, counting them and the candidates for top words.
void count_words(std::string_view text, page_info& info) {
  // One hash lookup per word: a stop word is looked up in the stop list
  // only the first time it is met, and its entry is marked as excluded.
  constexpr std::uint64_t excluded = ~std::uint64_t{0};
  std::unordered_map<std::string, std::uint64_t> counts;
  std::string word;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t len;
    if (!is_word_char(decode_utf8(text, i, len))) {
      i += len;
      continue;
    }
    word.clear();
    bool letters_only = true;
    std::size_t letters = 0;
    while (i < text.size()) {
      const char32_t c = decode_utf8(text, i, len);
      if (is_word_char(c)) {
        if (is_digit(c)) letters_only = false;
        ++letters;
        if (c < 0x80) {
          word += to_lower(text[i]);
        } else {
          word.append(text.substr(i, len));
        }
        i += len;
        continue;
      }
      // An apostrophe between two word characters belongs to the word.
      std::size_t next_len;
      if (is_apostrophe(c) && i + len < text.size() && is_word_char(decode_utf8(text, i + len, next_len))) {
        word += '\'';
        i += len;
        continue;
      }
      break;
    }
    ++info.word_count;
    if (!letters_only || letters < 3) continue;
    auto [it, first_time] = counts.try_emplace(word, 0);
    if (first_time && is_stop_word(word)) it->second = excluded;
    if (it->second != excluded) ++it->second;
  }
  std::vector<std::pair<std::string, std::uint64_t>> all;
  all.reserve(counts.size());
  for (auto& [w, n] : counts)
    if (n != excluded) all.emplace_back(w, n);
  auto order = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  const std::size_t keep = std::min(top_words_kept, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), order);
  all.resize(keep);
  info.top_words = std::move(all);
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = json::utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

/// Counts the parser's errors that mean broken markup: errors whose
/// recovery changed the page's structure (unclosed or misnested elements,
/// a stray '<', a tag cut short). Reported but left out:
/// - every HTML5 element (<nav>, <section>, <svg>): libxml2 2.9 knows only
///   HTML 4 and calls them unknown tags;
/// - a repeated id (every Sphinx page has one);
/// - an end tag with no element open to close ("</p></p>"; 111 pages of
///   Python's docs): dropped, it changes nothing;
/// - "</a>" inside a <script> ("Element script embeds close tag"): HTML 4
///   ended scripts there, HTML5 ends them only at "</script";
/// - '&' not starting a reference ("?a=1&b=2" in an href): HTML5 reads it
///   as the '&' it is.
struct markup_errors {
  int count = 0;

  static bool changes_structure(const xmlError& e) {
    switch (e.code) {
      case XML_HTML_UNKNOWN_TAG:
      case XML_DTD_ID_REDEFINED:
      case XML_ERR_ENTITYREF_SEMICOL_MISSING: return false;
      case XML_ERR_TAG_NAME_MISMATCH:
        return e.message == nullptr ||
               (std::strncmp(e.message, "Unexpected end tag", 18) != 0 && !std::strstr(e.message, "embeds close tag"));
      default: return true;
    }
  }

  static void on_error(void* self, xmlErrorPtr e) {
    if (e->level >= XML_ERR_ERROR && changes_structure(*e)) ++static_cast<markup_errors*>(self)->count;
  }
};

/// Installs a markup_errors as this thread's libxml2 error handler for the
/// parse (libxml2 keeps it per thread), restoring the previous one after.
class scoped_error_handler {
 public:
  explicit scoped_error_handler(markup_errors& errors)
      : previous_(xmlStructuredError), previous_context_(xmlStructuredErrorContext) {
    xmlSetStructuredErrorFunc(&errors, &markup_errors::on_error);
  }
  ~scoped_error_handler() { xmlSetStructuredErrorFunc(previous_context_, previous_); }
  scoped_error_handler(const scoped_error_handler&) = delete;
  scoped_error_handler& operator=(const scoped_error_handler&) = delete;

 private:
  xmlStructuredErrorFunc previous_;
  void* previous_context_;
};

struct doc_deleter {
  void operator()(xmlDoc* d) const noexcept { xmlFreeDoc(d); }
};
struct ctxt_deleter {
  void operator()(htmlParserCtxt* c) const noexcept { htmlFreeParserCtxt(c); }
};

}  // namespace

namespace {

page_info analyze(const std::string& final_url, const std::string& html, const page_rules* rules) {
  init_libxml();
  page_info info;
  std::unique_ptr<htmlParserCtxt, ctxt_deleter> ctxt(htmlNewParserCtxt());
  if (!ctxt) throw std::bad_alloc();
  const int options =
      HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_COMPACT;
  // libxml2 takes an int size; a page over 2 GiB is cut there.
  const int size = static_cast<int>(std::min<std::size_t>(html.size(), INT32_MAX));
  // libxml2 2.9 reads undeclared non-ASCII bytes as Latin-1, mangling the
  // UTF-8 most pages are in: bytes that are valid UTF-8 are read as such;
  // others get the page's <meta charset>, or Latin-1.
  const char* encoding = is_valid_utf8({html.data(), static_cast<std::size_t>(size)}) ? "UTF-8" : nullptr;
  markup_errors errors;
  std::unique_ptr<xmlDoc, doc_deleter> doc;
  {
    scoped_error_handler handler(errors);
    doc.reset(htmlCtxtReadMemory(ctxt.get(), html.data(), size, final_url.c_str(), encoding, options));
  }
  info.html_ok = doc != nullptr && errors.count == 0;
  if (!doc) {
    if (rules) {
      // Every rule still has its entry: "fields" lists the same names on every parsed page.
      for (const auto& r : rules->fields) info.fields.emplace_back(r.name, std::vector<std::string>{});
      info.follow_restricted = !rules->follow.empty();
    }
    return info;
  }

  walker w;
  w.walk(doc->children, true);
  info.title = collapse_whitespace(w.title);

  std::string base = final_url;
  if (w.base_href) {
    if (auto b = resolve_link(final_url, *w.base_href)) base = std::move(*b);
  }
  info.links.reserve(w.hrefs.size());
  std::unordered_set<std::string> seen;
  for (const auto& href : w.hrefs) {
    auto link = resolve_link(base, href);
    if (link && seen.insert(*link).second) info.links.push_back(std::move(*link));
  }
  count_words(w.text, info);
  if (rules) {
    info.fields = detail::evaluate_fields(doc.get(), rules->fields);
    if (!rules->follow.empty()) {
      info.follow_restricted = true;
      std::unordered_set<std::string> chosen;
      for (const auto& href : detail::follow_hrefs(doc.get(), rules->follow))
        if (auto link = resolve_link(base, href)) chosen.insert(std::move(*link));
      for (const auto& l : info.links)
        if (chosen.count(l)) info.follow.push_back(l);
    }
  }
  return info;
}

}  // namespace

page_info analyze_page(std::string final_url, std::string html) { return analyze(final_url, html, nullptr); }

page_info analyze_page_with(std::string final_url, std::string html, page_rules rules) {
  return analyze(final_url, html, rules.empty() ? nullptr : &rules);
}

bool is_html(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view type = content_type.substr(0, semi);
  while (!type.empty() && is_ascii_space(static_cast<unsigned char>(type.front()))) type.remove_prefix(1);
  while (!type.empty() && is_ascii_space(static_cast<unsigned char>(type.back()))) type.remove_suffix(1);
  auto iequal = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_lower(x) == to_lower(y); });
  };
  return iequal(type, "text/html") || iequal(type, "application/xhtml+xml");
}

}  // namespace scraper
