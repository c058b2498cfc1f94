#include "url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace scraper {

namespace {

namespace urls = boost::urls;

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }
bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/// RFC 3986 6.2.2.2: escapes with uppercase hex digits, escaped unreserved
/// characters decoded (and nothing else: "%2F" stays, it is not a '/').
/// Letters outside escapes are lowercased when `lower` (for the host).
std::string normalize_percent(std::string_view s, bool lower) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
      const auto c = static_cast<unsigned char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      if (is_unreserved(c)) {
        out += static_cast<char>(lower && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
      i += 2;
    } else {
      const char c = s[i];
      out += lower && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  return out;
}

/// RFC 3986 5.2.4: "." and ".." segments removed; ".." above the root
/// stays at the root.
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.substr(0, 3) == "../") {
      in.remove_prefix(3);
    } else if (in.substr(0, 2) == "./") {
      in.remove_prefix(2);
    } else if (in.substr(0, 3) == "/./") {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.substr(0, 4) == "/../" || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const auto slash = out.rfind('/');
      out.erase(slash == std::string::npos ? 0 : slash);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const auto next = in.find('/', 1);
      const auto segment = in.substr(0, next);
      out += segment;
      in.remove_prefix(segment.size());
    }
  }
  return out;
}

/// The scheme and authority of the normal form of a parsed absolute URL
/// ("http://host[:port]"), or nullopt when it is not http(s), has no host
/// or its port is not a TCP port. Built by hand: Boost.URL 1.81's
/// normalize() decodes "%2F" into '/' (another path) and leaves "/../" at
/// the root, and set_encoded_path("/") writes "/./".
std::optional<std::string> canonical_origin(const urls::url_view_base& u) {
  const bool http = u.scheme_id() == urls::scheme::http;
  if (!http && u.scheme_id() != urls::scheme::https) return std::nullopt;
  if (!u.has_authority() || u.encoded_host().empty()) return std::nullopt;
  std::string out = http ? "http://" : "https://";
  if (u.has_userinfo()) {
    out += normalize_percent(u.encoded_userinfo(), false);
    out += '@';
  }
  out += normalize_percent(u.encoded_host(), true);
  if (u.has_port() && !u.port().empty()) {
    const std::string_view port = u.port();
    if (port.size() > 5 || u.port_number() == 0) return std::nullopt;  // not a TCP port
    if (u.port_number() != (http ? 80 : 443)) {
      out += ':';
      out += std::to_string(u.port_number());
    }
  }
  return out;
}

/// The normal form's path and query (query: nullptr when there is none).
void append_path_and_query(std::string& out, std::string_view encoded_path, const std::string_view* encoded_query) {
  std::string path = remove_dot_segments(normalize_percent(encoded_path, false));
  out += path.empty() ? "/" : path;
  if (encoded_query) {
    out += '?';
    out += normalize_percent(*encoded_query, false);
  }
}

/// The normal form of a parsed absolute URL.
std::optional<std::string> canonical(const urls::url_view_base& u) {
  std::optional<std::string> out = canonical_origin(u);
  if (!out) return std::nullopt;
  const std::string_view query = u.encoded_query();
  append_path_and_query(*out, u.encoded_path(), u.has_query() ? &query : nullptr);
  return out;
}

/// What a browser does to an href before parsing it: strip surrounding
/// whitespace, drop tabs and newlines, percent-encode bytes that are not
/// allowed in a URI (spaces, non-ASCII, "<>\^`{|}) and a '%' that starts no
/// escape.
std::string clean_href(std::string_view href) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; };
  while (!href.empty() && is_space(href.front())) href.remove_prefix(1);
  while (!href.empty() && is_space(href.back())) href.remove_suffix(1);
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(href.size());
  for (std::size_t i = 0; i < href.size(); ++i) {
    const auto c = static_cast<unsigned char>(href[i]);
    if (c == '\t' || c == '\n' || c == '\r') continue;
    const bool bad_percent = c == '%' && !(i + 2 < href.size() && is_hex(href[i + 1]) && is_hex(href[i + 2]));
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' ||
        c == '|' || c == '}' || bad_percent) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> normalize_url(std::string_view absolute) {
  auto parsed = urls::parse_uri(absolute);
  if (!parsed) return std::nullopt;
  return canonical(*parsed);
}

std::optional<std::string> resolve_link(std::string_view base, std::string_view href) {
  auto b = urls::parse_uri(base);
  if (!b) return std::nullopt;
  const std::string cleaned = clean_href(href);
  auto ref = urls::parse_uri_reference(cleaned);
  if (!ref) return std::nullopt;
  // Only http(s) targets are links to crawl; mailto:, javascript:, data:,
  // tel:... are not (checked before resolving: some do not resolve at all).
  if (ref->has_scheme() && ref->scheme_id() != urls::scheme::http && ref->scheme_id() != urls::scheme::https)
    return std::nullopt;
  // RFC 3986 5.2.2 on the encoded strings, not urls::resolve: Boost.URL
  // 1.81 normalizes the merged path, decoding "%2F" into '/' and "%28"
  // into '(' (another URL, and a page fetched twice when it is also
  // reached undecoded). canonical() removes the dot segments.
  if (ref->has_scheme()) return canonical(*ref);
  std::string target(b->scheme());
  target += ':';
  if (ref->has_authority()) {
    target += "//";
    target += ref->encoded_authority();
    target += ref->encoded_path();
  } else {
    target += "//";
    target += b->encoded_authority();
    const std::string_view path = ref->encoded_path();
    if (path.empty()) {
      target += b->encoded_path();
    } else if (path.front() == '/') {
      target += path;
    } else {
      // Merge (5.2.3): the base path up to its last '/', then the reference.
      const std::string_view base_path = b->encoded_path();
      const auto slash = base_path.rfind('/');
      target += slash == std::string_view::npos ? std::string_view("/") : base_path.substr(0, slash + 1);
      target += path;
    }
  }
  if (ref->has_query()) {
    target += '?';
    target += ref->encoded_query();
  } else if (!ref->has_authority() && ref->encoded_path().empty() && b->has_query()) {
    target += '?';
    target += b->encoded_query();
  }
  return normalize_url(target);
}

link_resolver::link_resolver(std::string_view base) : base_(base) {
  auto b = urls::parse_uri(base_);
  if (!b) return;
  parsed_ = true;
  // Without an authority resolve_link writes the base's path where the
  // authority goes ("http:x" and "" give "http://x/"): that odd case keeps
  // resolve_link's own path, so that the two always agree.
  general_ = !b->has_authority();
  scheme_ = std::string(b->scheme());
  path_ = std::string(b->encoded_path());
  if (b->has_query()) query_ = std::string(b->encoded_query());
  // The normal form's origin, as canonical() would compute it for every
  // relative link: the scheme and authority a relative link keeps are the
  // base's (RFC 3986 5.2.2).
  origin_ = canonical_origin(*b);
}

std::optional<std::string> link_resolver::resolve(std::string_view href) const {
  if (!parsed_) return std::nullopt;
  if (general_) return resolve_link(base_, href);
  const std::string cleaned = clean_href(href);
  auto ref = urls::parse_uri_reference(cleaned);
  if (!ref) return std::nullopt;
  // As resolve_link, step for step, but the base is not parsed again and
  // a relative link's target is built in its normal form directly rather
  // than written out and parsed a third time.
  if (ref->has_scheme() && ref->scheme_id() != urls::scheme::http && ref->scheme_id() != urls::scheme::https)
    return std::nullopt;
  if (ref->has_scheme()) return canonical(*ref);
  if (ref->has_authority()) {
    std::string target = scheme_;
    target += "://";
    target += ref->encoded_authority();
    target += ref->encoded_path();
    if (ref->has_query()) {
      target += '?';
      target += ref->encoded_query();
    }
    return normalize_url(target);
  }
  if (!origin_) return std::nullopt;
  std::string path;
  const std::string_view ref_path = ref->encoded_path();
  if (ref_path.empty()) {
    path = path_;
  } else if (ref_path.front() == '/') {
    path = ref_path;
  } else {
    const auto slash = path_.rfind('/');
    path = slash == std::string::npos ? std::string("/") : path_.substr(0, slash + 1);
    path += ref_path;
  }
  std::string_view query;
  const std::string_view* q = nullptr;
  if (ref->has_query()) {
    query = ref->encoded_query();
    q = &query;
  } else if (ref_path.empty() && query_) {
    query = *query_;
    q = &query;
  }
  std::string out = *origin_;
  append_path_and_query(out, path, q);
  return out;
}

std::string origin_of(std::string_view normalized_url) {
  auto parsed = urls::parse_uri(normalized_url);
  if (!parsed) return {};
  // User info is not part of the origin.
  std::string out(parsed->scheme());
  out += "://";
  out += parsed->encoded_host_and_port();
  return out;
}

std::string path_and_query(std::string_view normalized_url) {
  auto parsed = urls::parse_uri(normalized_url);
  if (!parsed) return {};
  const std::string_view path = parsed->encoded_path();
  std::string out;
  out.reserve(path.size() + parsed->encoded_query().size() + 2);
  out.append(path.empty() ? std::string_view("/") : path);
  if (parsed->has_query()) {
    out += '?';
    out += parsed->encoded_query();
  }
  return out;
}

}  // namespace scraper
