#include "page.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "json.hpp"
#include "libxml.hpp"
#include "url.hpp"

namespace scraper {

namespace {

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

/// What the walker needs to know of an element, from its name alone.
enum class tag_kind : unsigned char {
  other,      // breaks words, content visible
  title,      // breaks words
  base,       // breaks words
  a,          // a link, inline
  area,       // a link, breaks words
  invisible,  // script, style, noscript, template, head: content is not visible text
  inline_,    // does not break a word: "<b>un</b>done" is one word
};

/// A name of at most 8 bytes as an integer, for comparing names in one
/// instruction rather than one strcasecmp per candidate.
constexpr std::uint64_t pack_name(std::string_view name) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < name.size(); ++i) v |= std::uint64_t{static_cast<unsigned char>(name[i])} << (8 * i);
  return v;
}

/// The element's kind, its name compared case-insensitively (ASCII), as
/// xmlStrcasecmp compares. libxml2's HTML parser lowercases names itself;
/// this does not rely on it.
tag_kind classify(const xmlNode* n) {
  if (n->name == nullptr) return tag_kind::other;
  const auto* name = reinterpret_cast<const unsigned char*>(n->name);
  std::uint64_t v = 0;
  for (std::size_t i = 0;; ++i) {
    const unsigned char c = name[i];
    if (c == 0) break;
    if (i == 8) return tag_kind::other;  // longer than every name below
    v |= std::uint64_t{c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c - 'A' + 'a') : c} << (8 * i);
  }
  switch (v) {
    case pack_name("title"): return tag_kind::title;
    case pack_name("base"): return tag_kind::base;
    case pack_name("a"): return tag_kind::a;
    case pack_name("area"): return tag_kind::area;
    case pack_name("script"):
    case pack_name("style"):
    case pack_name("noscript"):
    case pack_name("template"):
    case pack_name("head"): return tag_kind::invisible;
    case pack_name("abbr"):
    case pack_name("b"):
    case pack_name("bdi"):
    case pack_name("bdo"):
    case pack_name("cite"):
    case pack_name("code"):
    case pack_name("data"):
    case pack_name("dfn"):
    case pack_name("em"):
    case pack_name("font"):
    case pack_name("i"):
    case pack_name("kbd"):
    case pack_name("mark"):
    case pack_name("q"):
    case pack_name("s"):
    case pack_name("samp"):
    case pack_name("small"):
    case pack_name("span"):
    case pack_name("strong"):
    case pack_name("sub"):
    case pack_name("sup"):
    case pack_name("time"):
    case pack_name("u"): return tag_kind::inline_;
    default: return tag_kind::other;
  }
}

/// A word's hash, computed as its bytes are written (count_words) or
/// from a whole word (the stop list): eight bytes at a time, most words
/// being one or two steps. Kept in registers as the word is read: loading
/// bytes just stored one by one would stall on the stores.
class word_hasher {
 public:
  void put(char c) {
    chunk_ |= std::uint64_t{static_cast<unsigned char>(c)} << shift_;
    shift_ += 8;
    ++size_;
    if (shift_ == 64) flush();
  }

  /// The word's first 8 bytes (fewer: zeros after them), once finished.
  std::uint64_t first8() const { return first8_; }

  std::uint64_t finish() {
    if (shift_ != 0) flush();
    std::uint64_t h = (h_ ^ (size_ * 0x9e3779b97f4a7c15ull)) * 0x94d049bb133111ebull;  // the table uses the low bits
    return h ^ (h >> 31);
  }

 private:
  void flush() {
    if (size_ <= 8) first8_ = chunk_;
    h_ = (h_ ^ chunk_) * 0xbf58476d1ce4e5b9ull;
    h_ ^= h_ >> 31;
    chunk_ = 0;
    shift_ = 0;
  }

  std::uint64_t h_ = 0, chunk_ = 0, first8_ = 0, size_ = 0;
  unsigned shift_ = 0;
};

std::uint64_t word_hash(std::string_view w) {
  word_hasher h;
  for (char c : w) h.put(c);
  return h.finish();
}

/// English stop words (all of at least 3 letters; shorter words are never
/// counted as top words anyway), in an open-addressing table keyed by
/// word_hash, which count_words has computed already.
class stop_words {
 public:
  static const stop_words& get() {
    static const stop_words table;
    return table;
  }

  bool contains(std::string_view w, std::uint64_t hash) const {
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      if (slots_[i].empty()) return false;
      if (slots_[i] == w) return true;
    }
  }

 private:
  static constexpr std::size_t size = 512;  // a power of two, over 4 times the words
  static constexpr std::size_t mask = size - 1;

  stop_words() {
    static constexpr std::array<std::string_view, 118> words = {
        "about",   "above",   "after",   "again",      "against", "all",   "also",      "and",        "any",
        "are",     "aren't",  "because", "been",       "before",  "being", "below",     "between",    "both",
        "but",     "can",     "can't",   "cannot",     "could",   "did",   "didn't",    "does",       "doesn't",
        "doing",   "don't",   "down",    "during",     "each",    "few",   "for",       "from",       "further",
        "had",     "has",     "have",    "having",     "her",     "here",  "hers",      "herself",    "him",
        "himself", "his",     "how",     "i'm",        "into",    "isn't", "it's",      "its",        "itself",
        "just",    "more",    "most",    "must",       "myself",  "nor",   "not",       "now",        "off",
        "once",    "only",    "other",   "ought",      "our",     "ours",  "ourselves", "out",        "over",
        "own",     "same",    "she",     "should",     "some",    "such",  "than",      "that",       "the",
        "their",   "theirs",  "them",    "themselves", "then",    "there", "these",     "they",       "this",
        "those",   "through", "too",     "under",      "until",   "very",  "was",       "wasn't",     "were",
        "what",    "when",    "where",   "which",      "while",   "who",   "whom",      "why",        "will",
        "with",    "won't",   "would",   "you",        "your",    "yours", "yourself",  "yourselves", "we're",
        "you're",
    };
    for (std::string_view w : words) {
      std::size_t i = word_hash(w) & mask;
      while (!slots_[i].empty()) i = (i + 1) & mask;
      slots_[i] = w;
    }
  }

  std::array<std::string_view, size> slots_{};
};

/// Collects the visible text, the title, <base href> and the links.
struct walker {
  explicit walker(std::string& text_buffer) : text(text_buffer) {}

  std::string& text;  // appended to; a buffer kept from page to page
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
      const tag_kind kind = classify(n);
      if (kind == tag_kind::title) {
        if (!have_title) {
          have_title = true;
          for (const xmlNode* c = n->children; c != nullptr; c = c->next)
            if (c->content != nullptr) title += reinterpret_cast<const char*>(c->content);
        }
      } else if (kind == tag_kind::base) {
        if (!base_href) base_href = attribute(n, "href");
      } else if (kind == tag_kind::a || kind == tag_kind::area) {
        if (auto href = attribute(n, "href")) hrefs.push_back(std::move(*href));
      }
      const bool child_visible = visible && kind != tag_kind::invisible;
      const bool breaks = kind != tag_kind::inline_ && kind != tag_kind::a;
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

/// What count_words must do with an ASCII byte: letters and digits are
/// word characters (digits make a word no top word), bytes >= 0x80 and
/// apostrophes need a closer look, the rest ends a word.
enum class ascii_class : unsigned char { other, letter, digit, look };

constexpr std::array<ascii_class, 256> ascii_classes = [] {
  std::array<ascii_class, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t[c] = ascii_class::letter;
    else if (c >= '0' && c <= '9') t[c] = ascii_class::digit;
    else if (c >= 0x80 || c == '\'') t[c] = ascii_class::look;
  }
  return t;
}();

/// Counts words and the candidates for top words. One per thread, kept
/// from page to page: its table and its buffer of words are allocated
/// once, not per page (the pool parses page after page).
class word_counter {
 public:
  /// Splits the text into words, counting them and the candidates for top words.
  void count(std::string_view text, page_info& info) {
    reset();
    // Words are written here as they are read (lowercased, U+2019 as '),
    // and kept only when new: a word is never longer than its text.
    words_.resize(text.size() + 8);  // + 8: same_word loads 8 bytes
    char* const out = words_.data();
    std::size_t end = 0;  // bytes of words_ kept
    std::size_t i = 0;
    while (i < text.size()) {
      std::size_t len;
      const ascii_class first = ascii_classes[static_cast<unsigned char>(text[i])];
      if (first == ascii_class::other) {
        ++i;
        continue;
      }
      if (first == ascii_class::look && !is_word_char(decode_utf8(text, i, len))) {
        i += len;
        continue;
      }
      const std::size_t start = end;
      word_hasher hash;
      auto put = [&](char c) {
        out[end++] = c;
        hash.put(c);
      };
      bool letters_only = true;
      std::size_t letters = 0;
      while (i < text.size()) {
        const auto b = static_cast<unsigned char>(text[i]);
        const ascii_class k = ascii_classes[b];
        if (k == ascii_class::letter) {  // nearly every character of most pages
          ++letters;
          put(to_lower(static_cast<char>(b)));
          ++i;
          continue;
        }
        if (k == ascii_class::digit) {
          letters_only = false;
          ++letters;
          put(static_cast<char>(b));
          ++i;
          continue;
        }
        if (k == ascii_class::other) break;
        // Non-ASCII, or an apostrophe.
        const char32_t c = decode_utf8(text, i, len);
        if (is_word_char(c)) {
          ++letters;
          for (std::size_t n = 0; n < len; ++n) put(text[i + n]);
          i += len;
          continue;
        }
        // An apostrophe between two word characters belongs to the word.
        std::size_t next_len;
        if (is_apostrophe(c) && i + len < text.size() && is_word_char(decode_utf8(text, i + len, next_len))) {
          put('\'');
          i += len;
          continue;
        }
        break;
      }
      ++info.word_count;
      if (!letters_only || letters < 3) {
        end = start;
        continue;
      }
      const std::uint64_t h = hash.finish();
      if (!add(h, hash.first8(), start, end - start)) end = start;  // met before: its bytes are not kept
    }
    top_words(info);
  }

 private:
  static constexpr std::uint32_t excluded = ~std::uint32_t{0};  // the count of a stop word

  // 16 bytes, so that a page's table stays small in the cache (the
  // worker's caches are cold: the crawler ran between two pages). A page
  // has fewer than 2^30 words: analyze_page reads 2 GiB at most.
  struct slot {
    std::uint32_t hash = 0;    // the low bits of word_hash
    std::uint32_t offset = 0;  // in words_
    std::uint32_t length = 0;  // 0: empty (a counted word has 3 letters or more)
    std::uint32_t count = 0;
  };

  /// Whether the word of s is the n bytes at words_[offset], whose first
  /// 8 are first8: most words are compared with one 8-byte load (words_
  /// has 8 bytes of slack).
  bool same_word(const slot& s, std::uint64_t first8, std::size_t offset, std::size_t n) const {
    static_assert(std::endian::native == std::endian::little, "word_hasher puts byte k at bits 8k");
    if (n > 8) return std::memcmp(words_.data() + s.offset, words_.data() + offset, n) == 0;
    std::uint64_t v;
    std::memcpy(&v, words_.data() + s.offset, 8);
    if (n < 8) v &= (std::uint64_t{1} << (8 * n)) - 1;  // little-endian: the first n bytes are the low ones
    return v == first8;
  }

  std::string_view word(const slot& s) const { return {words_.data() + s.offset, s.length}; }

  void reset() {
    // A huge page grew the buffers: give the memory back, keep the usual size.
    constexpr std::size_t first_slots = 1 << 8, kept_slots = 1 << 12, kept_bytes = 1 << 20;
    if (slots_.size() > kept_slots || words_.capacity() > kept_bytes) {
      slots_ = std::vector<slot>(first_slots);
      std::string().swap(words_);
    } else {
      for (std::uint32_t i : used_) slots_[i] = slot{};
    }
    if (slots_.empty()) slots_.resize(first_slots);
    used_.clear();
  }

  /// Counts the word words_[offset, offset + length) of hash full_hash,
  /// whose first 8 bytes are first8. Returns
  /// whether it is new (its bytes must then be kept).
  bool add(std::uint64_t full_hash, std::uint64_t first8, std::size_t offset, std::size_t length) {
    const std::string_view w{words_.data() + offset, length};
    const auto h = static_cast<std::uint32_t>(full_hash);
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      slot& s = slots_[i];
      if (s.length == 0) break;
      if (s.hash == h && s.length == length && same_word(s, first8, offset, length)) {
        if (s.count != excluded) ++s.count;
        return false;
      }
    }
    // A stop word is looked up in the stop list only the first time it
    // is met; its entry is then marked as excluded.
    slots_[i] = slot{h, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(length),
                     stop_words::get().contains(w, full_hash) ? excluded : 1};
    used_.push_back(static_cast<std::uint32_t>(i));
    if (2 * used_.size() > slots_.size()) grow();
    return true;
  }

  void grow() {
    std::vector<slot> old(2 * slots_.size());
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (std::uint32_t& u : used_) {
      const slot& s = old[u];
      std::size_t i = s.hash & mask;
      while (slots_[i].length != 0) i = (i + 1) & mask;
      slots_[i] = s;
      u = static_cast<std::uint32_t>(i);
    }
  }

  void top_words(page_info& info) {
    ranked_.clear();
    for (std::uint32_t u : used_)
      if (slots_[u].count != excluded) ranked_.push_back(&slots_[u]);
    auto order = [this](const slot* a, const slot* b) {
      return a->count != b->count ? a->count > b->count : word(*a) < word(*b);
    };
    const std::size_t keep = std::min(top_words_kept, ranked_.size());
    std::partial_sort(ranked_.begin(), ranked_.begin() + static_cast<std::ptrdiff_t>(keep), ranked_.end(), order);
    info.top_words.reserve(keep);
    for (std::size_t k = 0; k < keep; ++k)
      info.top_words.emplace_back(std::string(word(*ranked_[k])), ranked_[k]->count);
  }

  std::vector<slot> slots_;          // open addressing, linear probing; a power of two
  std::vector<std::uint32_t> used_;  // the slots filled for this page
  std::string words_;                // the bytes of this page's distinct words
  std::vector<const slot*> ranked_;
};

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    // Eight ASCII bytes at a time: most pages are nearly all ASCII.
    std::uint64_t eight;
    if (i + 8 <= s.size() && (std::memcpy(&eight, s.data() + i, 8), (eight & 0x8080808080808080ull) == 0)) {
      i += 8;
      continue;
    }
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

struct doc_deleter {
  void operator()(xmlDoc* d) const noexcept { xmlFreeDoc(d); }
};
struct ctxt_deleter {
  void operator()(htmlParserCtxt* c) const noexcept { htmlFreeParserCtxt(c); }
};

/// What each thread keeps from one page to the next, so that a page costs
/// no parser set-up and (nearly) no allocation but the tree's: the parser
/// context with its dictionary of names (htmlCtxtReadMemory resets the
/// rest), the text buffer and the word counter. The pool's worker
/// processes parse page after page on one thread each.
struct page_scratch {
  std::unique_ptr<htmlParserCtxt, ctxt_deleter> ctxt;
  int parses = 0;  // with ctxt
  std::string text;
  word_counter words;

  /// The context for the next parse: a fresh one now and then, so that
  /// the dictionary (every element and attribute name met, short texts)
  /// cannot grow without bound on a long crawl of odd pages.
  htmlParserCtxt* parser() {
    constexpr int parses_per_context = 1000;
    constexpr int max_dict_entries = 10000;
    if (ctxt && (parses >= parses_per_context || (ctxt->dict != nullptr && xmlDictSize(ctxt->dict) > max_dict_entries)))
      ctxt.reset();
    if (!ctxt) {
      ctxt.reset(htmlNewParserCtxt());
      if (!ctxt) throw std::bad_alloc();
      parses = 0;
    }
    ++parses;
    return ctxt.get();
  }

  /// The text buffer, empty; a huge page's memory is given back.
  std::string& text_buffer() {
    constexpr std::size_t kept = 1 << 20;
    if (text.capacity() > kept) std::string().swap(text);
    text.clear();
    return text;
  }
};

page_scratch& scratch() {
  thread_local page_scratch s;
  return s;
}

}  // namespace

namespace {

page_info analyze(const std::string& final_url, const std::string& html, const page_rules* rules) {
  init_libxml();
  page_info info;
  page_scratch& scr = scratch();
  htmlParserCtxt* ctxt = scr.parser();
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
    scoped_structured_errors handler(&errors, &markup_errors::on_error);
    doc.reset(htmlCtxtReadMemory(ctxt, html.data(), size, final_url.c_str(), encoding, options));
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

  walker w(scr.text_buffer());
  w.walk(doc->children, true);
  info.title = collapse_whitespace(w.title);

  std::string base = final_url;
  if (w.base_href) {
    if (auto b = resolve_link(final_url, *w.base_href)) base = std::move(*b);
  }
  const link_resolver resolver(base);  // the base parsed once for all the links
  info.links.reserve(w.hrefs.size());
  // Deduplicated by a linear search while the list is short (most pages:
  // no hashing, no set to allocate), by a set beyond.
  constexpr std::size_t linear_up_to = 32;
  std::unordered_set<std::string> seen;
  for (const auto& href : w.hrefs) {
    auto link = resolver.resolve(href);
    if (!link) continue;
    bool duplicate;
    if (info.links.size() < linear_up_to) {
      duplicate = std::find(info.links.begin(), info.links.end(), *link) != info.links.end();
    } else {
      if (seen.empty()) seen.insert(info.links.begin(), info.links.end());
      duplicate = !seen.insert(*link).second;
    }
    if (!duplicate) info.links.push_back(std::move(*link));
  }
  scr.words.count(w.text, info);
  if (rules) {
    info.fields = detail::evaluate_fields(doc.get(), rules->fields);
    if (!rules->follow.empty()) {
      info.follow_restricted = true;
      std::unordered_set<std::string> chosen;
      for (const auto& href : detail::follow_hrefs(doc.get(), rules->follow))
        if (auto link = resolver.resolve(href)) chosen.insert(std::move(*link));
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
