#include "robots.hpp"

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

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }
bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
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

/// Whether `pattern` ('*' wildcards, optional final '$') matches the start
/// of `path` (all of it with '$'). Greedy with backtracking to the last
/// '*': linear for the patterns robots.txt files hold.
bool matches(std::string_view pattern, std::string_view path) {
  const bool anchored = !pattern.empty() && pattern.back() == '$';
  if (anchored) pattern.remove_suffix(1);
  std::size_t p = 0, s = 0;
  std::size_t star = std::string_view::npos, mark = 0;
  while (s < path.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = s;
    } else if (p < pattern.size() && pattern[p] == path[s]) {
      ++p;
      ++s;
    } else if (p == pattern.size() && !anchored) {
      return true;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      s = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// The product token of a User-Agent value: "weft-scraper/0.1 (+url)" -> "weft-scraper".
std::string_view product_token(std::string_view ua) {
  ua = trim(ua);
  const auto end = ua.find_first_of("/ \t");
  return ua.substr(0, end);
}

}  // namespace

robots_rules robots_rules::disallow_all() {
  robots_rules r;
  r.rules_.push_back({"/", false});
  return r;
}

robots_rules robots_rules::parse(std::string_view text, std::string_view user_agent) {
  const std::string_view token = product_token(user_agent);
  // Two candidate rule sets: the groups naming us, and the "*" groups.
  robots_rules mine, star;
  bool have_mine = false;
  // The group being read: which of the two it feeds (both when it names us
  // and "*" on consecutive User-agent lines).
  bool in_agents = false;     // reading a run of User-agent lines
  bool group_mine = false, group_star = false;

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
    const bool is_allow = iequals(key, "allow");
    const bool is_disallow = iequals(key, "disallow");
    const bool is_delay = iequals(key, "crawl-delay");
    if (!is_allow && !is_disallow && !is_delay) continue;  // sitemap, unknown: no effect on groups
    in_agents = false;
    auto add = [&](robots_rules& r) {
      if (is_delay) {
        char* end = nullptr;
        const std::string v(value);
        const double seconds = std::strtod(v.c_str(), &end);
        if (end != v.c_str() && std::isfinite(seconds) && seconds >= 0 && seconds < 86400 &&
            !r.crawl_delay_)
          r.crawl_delay_ = std::chrono::milliseconds(std::llround(seconds * 1000));
      } else if (!value.empty()) {  // an empty Disallow (or Allow) is no rule
        r.rules_.push_back({normalize_path(value), is_allow});
      }
    };
    if (group_mine) add(mine);
    if (group_star) add(star);
  }
  return have_mine ? mine : star;
}

bool robots_rules::allowed(std::string_view path_and_query) const {
  if (path_and_query == "/robots.txt") return true;
  if (rules_.empty()) return true;
  const std::string path = normalize_path(path_and_query.empty() ? "/" : path_and_query);
  const rule* best = nullptr;
  for (const rule& r : rules_) {
    if (!matches(r.pattern, path)) continue;
    if (best == nullptr || r.pattern.size() > best->pattern.size() ||
        (r.pattern.size() == best->pattern.size() && r.allow && !best->allow))
      best = &r;
  }
  return best == nullptr || best->allow;
}

}  // namespace scraper
