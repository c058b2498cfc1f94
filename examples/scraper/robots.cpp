#include "robots.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace scraper {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }
bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/// One spelling for paths and patterns: non-ASCII bytes and spaces
/// percent-encoded, escapes in uppercase hex, escaped unreserved characters
/// decoded ("%7E" is "~"). '*' and '$' are left alone (pattern syntax).
std::string normalize_path(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '%' && i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
      c = static_cast<unsigned char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
      if (is_unreserved(c)) {
        out += static_cast<char>(c);
        continue;
      }
    } else if (c > 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      continue;
    }
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

/// KMP failure table of `run`, written to out[0, run.size()): out[k] is the
/// length of the longest proper prefix of run[0, k] that is also its suffix.
void build_border(std::string_view run, std::uint32_t* out) {
  std::uint32_t k = 0;
  if (!run.empty()) out[0] = 0;
  for (std::size_t i = 1; i < run.size(); ++i) {
    while (k > 0 && run[i] != run[k]) k = out[k - 1];
    if (run[i] == run[k]) ++k;
    out[i] = k;
  }
}

/// Where the leftmost `run` (with its failure table) starts in text[from,
/// end), or npos. Knuth-Morris-Pratt: the scan never steps back, so it
/// costs O(bytes scanned) however the run repeats itself ("aaa...ab").
std::size_t find_run(std::string_view run, const std::uint32_t* border, std::string_view text, std::size_t from) {
  if (run.empty()) return from;
  std::size_t k = 0;  // bytes of run matched so far
  for (std::size_t i = from; i < text.size(); ++i) {
    while (k > 0 && text[i] != run[k]) k = border[k - 1];
    if (text[i] == run[k]) ++k;
    if (k == run.size()) return i + 1 - k;
  }
  return std::string_view::npos;
}

/// The product token of a User-Agent value: "weft-scraper/0.1 (+url)" -> "weft-scraper".
std::string_view product_token(std::string_view ua) {
  ua = trim(ua);
  const auto end = ua.find_first_of("/ \t");
  return ua.substr(0, end);
}

/// "http://..." or "https://..." with something after the "//" (a Sitemap
/// value must be an absolute URL: RFC 9309 section 2.4).
bool is_absolute_http(std::string_view v) {
  for (std::string_view scheme : {"http://", "https://"})
    if (v.size() > scheme.size() && iequals(v.substr(0, scheme.size()), scheme)) return true;
  return false;
}

}  // namespace

robots_rules::rule robots_rules::compile(std::string pattern, bool allow) {
  rule r;
  r.anchored = !pattern.empty() && pattern.back() == '$';
  r.border.resize(pattern.size());  // pattern is within robots_max_bytes: fits 32 bits
  const std::string_view literal = std::string_view(pattern).substr(0, pattern.size() - (r.anchored ? 1 : 0));
  for (std::size_t begin = 0; begin <= literal.size();) {
    const std::size_t star = std::min(literal.find('*', begin), literal.size());
    build_border(literal.substr(begin, star - begin), r.border.data() + begin);
    begin = star + 1;
  }
  r.pattern = std::move(pattern);
  r.allow = allow;
  return r;
}

// The pattern is literal runs joined by '*' (RFC 9309 section 2.2.3):
// run0 * run1 * ... * runN. run0 must start the path; with '$', runN must
// end it; each run between goes at its leftmost place after the one before
// (leftmost leaves the most room for the rest, so no other placement needs
// trying). Each search resumes where the last one stopped: O(path +
// pattern) in all, where backtracking to the last '*' took
// O(path x pattern).
bool robots_rules::matches(const rule& r, std::string_view path) {
  // Only a final '$' anchors; one elsewhere is a literal byte (RFC 9309
  // section 2.2.3 gives '$' no meaning but the end of the pattern).
  const std::string_view literal = std::string_view(r.pattern).substr(0, r.pattern.size() - (r.anchored ? 1 : 0));
  const std::size_t first_star = literal.find('*');
  if (first_star == std::string_view::npos)  // no '*': a prefix, or the whole path with '$'
    return r.anchored ? path == literal : path.substr(0, literal.size()) == literal;

  const std::string_view head = literal.substr(0, first_star);
  if (path.substr(0, head.size()) != head) return false;
  std::size_t pos = head.size();          // path[0, pos) is matched
  std::string_view text = path;           // where the runs after the head may go
  std::size_t runs_end = literal.size();  // and where in the pattern they end
  if (r.anchored) {                       // the run after the last '*' must end the path
    runs_end = literal.rfind('*');
    const std::string_view tail = literal.substr(runs_end + 1);
    if (tail.size() > path.size() - pos || path.substr(path.size() - tail.size()) != tail) return false;
    text = path.substr(0, path.size() - tail.size());
  }
  for (std::size_t begin = first_star + 1; begin <= runs_end;) {
    const std::size_t star = std::min(literal.find('*', begin), literal.size());
    const std::string_view run = literal.substr(begin, star - begin);
    const std::size_t at = find_run(run, r.border.data() + begin, text, pos);
    if (at == std::string_view::npos) return false;
    pos = at + run.size();
    begin = star + 1;
  }
  return true;
}

robots_rules robots_rules::disallow_all() {
  robots_rules r;
  r.rules_.push_back(compile("/", false));
  return r;
}

robots_rules robots_rules::parse(std::string_view text, std::string_view user_agent) {
  const std::string_view token = product_token(user_agent);
  // Two candidate rule sets: the groups naming us, and the "*" groups.
  robots_rules mine, star;
  bool have_mine = false;
  // The group being read: which of the two it feeds (both when it names us
  // and "*" on consecutive User-agent lines).
  bool in_agents = false;  // reading a run of User-agent lines
  bool group_mine = false, group_star = false;
  std::vector<std::string> sitemaps;

  // RFC 9309 section 2.5: a crawler may stop at 500 KiB. Whole lines only:
  // half a "Disallow: /private" line would disallow "/pri...".
  if (text.size() > robots_max_bytes) {
    std::size_t keep = robots_max_bytes;
    if (text[keep] != '\n' && text[keep] != '\r') {  // the cap falls inside a line
      const auto eol = text.substr(0, keep).find_last_of("\r\n");
      keep = eol == std::string_view::npos ? 0 : eol + 1;
    }
    text = text.substr(0, keep);
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  while (!text.empty()) {
    const auto eol = text.find_first_of("\r\n");
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));

    if (iequals(key, "user-agent")) {
      if (!in_agents) group_mine = group_star = false;  // a new group starts
      in_agents = true;
      const std::string_view agent = product_token(value);
      if (agent == "*") {
        group_star = true;
      } else if (!token.empty() && iequals(agent, token)) {
        group_mine = true;
        have_mine = true;
      }
      continue;
    }
    if (iequals(key, "sitemap")) {  // belongs to no group: it neither starts nor ends one
      if (is_absolute_http(value) && std::find(sitemaps.begin(), sitemaps.end(), value) == sitemaps.end())
        sitemaps.emplace_back(value);
      continue;
    }
    const bool is_allow = iequals(key, "allow");
    const bool is_disallow = iequals(key, "disallow");
    const bool is_delay = iequals(key, "crawl-delay");
    if (!is_allow && !is_disallow && !is_delay) continue;  // unknown: no effect on groups
    in_agents = false;
    auto add = [&](robots_rules& r) {
      if (is_delay) {
        char* end = nullptr;
        const std::string v(value);
        const double seconds = std::strtod(v.c_str(), &end);
        if (end != v.c_str() && std::isfinite(seconds) && seconds >= 0 && seconds < 86400 && !r.crawl_delay_)
          r.crawl_delay_ = std::chrono::milliseconds(std::llround(seconds * 1000));
      } else if (!value.empty()) {  // an empty Disallow (or Allow) is no rule
        r.rules_.push_back(compile(normalize_path(value), is_allow));
      }
    };
    if (group_mine) add(mine);
    if (group_star) add(star);
  }
  robots_rules& chosen = have_mine ? mine : star;
  chosen.sitemaps_ = std::move(sitemaps);
  // Longest pattern first, Allow first among equals (RFC 9309 section
  // 2.2.2): then the first rule that matches is the one that decides.
  std::stable_sort(chosen.rules_.begin(), chosen.rules_.end(), [](const rule& a, const rule& b) {
    if (a.pattern.size() != b.pattern.size()) return a.pattern.size() > b.pattern.size();
    return a.allow && !b.allow;
  });
  return std::move(chosen);
}

bool robots_rules::allowed(std::string_view path_and_query) const {
  if (path_and_query == "/robots.txt") return true;
  if (rules_.empty()) return true;
  const std::string path = normalize_path(path_and_query.empty() ? "/" : path_and_query);
  for (const rule& r : rules_)  // sorted: the first match is the longest
    if (matches(r, path)) return r.allow;
  return true;
}

}  // namespace scraper
