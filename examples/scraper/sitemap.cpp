#include "sitemap.hpp"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <zlib.h>

#include <climits>
#include <memory>
#include <mutex>
#include <optional>

#include "libxml.hpp"
#include "url.hpp"

namespace scraper {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Inflates gzip data (several members one after the other, as gzip(1)
/// writes them when files are concatenated) into out, stopping as soon as
/// out would exceed `cap`. Returns the error, if any, with its message.
sitemap_error gunzip(std::string_view in, std::uint64_t cap, std::string& out, std::string& message) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {  // 16: gzip wrapper only
    message = "zlib could not start inflating";
    return sitemap_error::bad_gzip;
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  std::size_t pos = 0;  // of in, consumed
  constexpr std::size_t chunk = 256 * 1024;
  for (;;) {
    const std::size_t room = std::min<std::uint64_t>(chunk, cap + 1 - out.size());  // one byte past the cap tells
    const std::size_t had = out.size();
    out.resize(had + room);
    const std::size_t feed = std::min<std::size_t>(in.size() - pos, UINT_MAX);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + pos));
    z.avail_in = static_cast<uInt>(feed);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + had);
    z.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&z, Z_NO_FLUSH);
    pos += feed - z.avail_in;
    out.resize(had + room - z.avail_out);
    if (out.size() > cap) {
      message = "more than " + std::to_string(cap) + " bytes once inflated (the protocol's limit per sitemap)";
      return sitemap_error::too_large;
    }
    if (rc == Z_STREAM_END) {
      // Another member may follow; trailing zero padding is tolerated.
      std::string_view rest = in.substr(pos);
      while (!rest.empty() && rest.front() == '\0') rest.remove_prefix(1);
      if (rest.empty()) return sitemap_error::none;
      if (!is_gzip(rest)) {
        message = "gzip data followed by " + std::to_string(rest.size()) + " bytes that are not gzip";
        return sitemap_error::bad_gzip;
      }
      pos = in.size() - rest.size();
      inflateReset(&z);
      continue;
    }
    if (rc == Z_BUF_ERROR && pos == in.size()) {
      message = "gzip data ends early (truncated file?)";
      return sitemap_error::bad_gzip;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      message = std::string("gzip data does not inflate: ") + (z.msg != nullptr ? z.msg : "zlib error");
      return sitemap_error::bad_gzip;
    }
  }
}

/// The first error libxml2 reports while reading, with its position.
struct first_error {
  std::string message;
  static void on_error(void* self, xmlErrorPtr e) {
    auto* me = static_cast<first_error*>(self);
    if (e == nullptr || e->level < XML_ERR_ERROR || !me->message.empty()) return;
    std::string_view text = e->message != nullptr ? e->message : "XML error";
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    me->message = "line " + std::to_string(e->line) + ": " + std::string(text);
  }
};

bool named(const xmlChar* name, const char* want) {
  return name != nullptr && xmlStrEqual(name, reinterpret_cast<const xmlChar*>(want));
}

}  // namespace

std::string_view to_string(sitemap_error e) noexcept {
  switch (e) {
    case sitemap_error::none: return "none";
    case sitemap_error::bad_gzip: return "bad_gzip";
    case sitemap_error::bad_xml: return "bad_xml";
    case sitemap_error::not_a_sitemap: return "not_a_sitemap";
    case sitemap_error::too_many_urls: return "too_many_urls";
    case sitemap_error::too_large: return "too_large";
  }
  return "bad_xml";
}

bool is_gzip(std::string_view body) noexcept {
  return body.size() >= 2 && static_cast<unsigned char>(body[0]) == 0x1f && static_cast<unsigned char>(body[1]) == 0x8b;
}

sitemap parse_sitemap(std::string body) {
  init_libxml();
  sitemap s;
  if (is_gzip(body)) {
    s.gzipped = true;
    std::string xml;
    s.error = gunzip(body, sitemap_max_bytes, xml, s.message);
    s.bytes = xml.size();
    if (s.error != sitemap_error::none) return s;
    body = std::move(xml);
  }
  s.bytes = body.size();
  if (body.size() > sitemap_max_bytes) {
    s.error = sitemap_error::too_large;
    s.message = std::to_string(body.size()) + " bytes, more than the protocol's " + std::to_string(sitemap_max_bytes) +
                " per sitemap";
    return s;
  }

  // NONET: no network access for anything the document refers to. Not
  // NOENT, DTDLOAD, DTDATTR or DTDVALID: no external subset or entity is
  // loaded and entity references stay references (skipped below), so
  // neither XXE nor an entity bomb gets anywhere. NOERROR/NOWARNING: errors
  // go to the handler, never to stderr.
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
  std::unique_ptr<xmlTextReader, void (*)(xmlTextReaderPtr)> reader(
      xmlReaderForMemory(body.data(), static_cast<int>(body.size()), nullptr, nullptr, options), xmlFreeTextReader);
  if (!reader) {
    s.error = sitemap_error::bad_xml;
    s.message = "libxml2 could not start reading the document";
    return s;
  }
  first_error errors;
  xmlTextReaderSetStructuredErrorHandler(reader.get(), &first_error::on_error, &errors);

  // Depth 0: the root; 1: <url> or <sitemap>; 2: <loc>, <lastmod>. Names
  // are compared without their namespace (real sitemaps get the namespace
  // URI wrong often enough; what matters is the structure).
  const char* entry_name = nullptr;  // "url" or "sitemap", once the root is known
  bool in_entry = false;
  std::string* text = nullptr;  // the field being read, if any
  std::string loc, lastmod;
  bool has_loc = false;
  std::uint64_t count = 0;  // entries seen
  // Counts one more entry; false (the file failed) past the limit.
  auto count_entry = [&] {
    if (++count <= sitemap_max_urls) return true;
    s.error = sitemap_error::too_many_urls;
    s.message = "more than " + std::to_string(sitemap_max_urls) + (s.index ? " sitemaps" : " URLs") +
                " (the protocol's limit per file): the first " + std::to_string(sitemap_max_urls) + " kept";
    return false;
  };
  int rc;
  while ((rc = xmlTextReaderRead(reader.get())) == 1) {
    const int type = xmlTextReaderNodeType(reader.get());
    const int depth = xmlTextReaderDepth(reader.get());
    if (type == XML_READER_TYPE_ELEMENT) {
      const xmlChar* name = xmlTextReaderConstLocalName(reader.get());
      const bool empty = xmlTextReaderIsEmptyElement(reader.get()) != 0;
      if (depth == 0) {
        if (named(name, "urlset")) {
          entry_name = "url";
        } else if (named(name, "sitemapindex")) {
          entry_name = "sitemap";
          s.index = true;
        } else {
          s.error = sitemap_error::not_a_sitemap;
          s.message = "the root element is <" + std::string(name ? reinterpret_cast<const char*>(name) : "") +
                      ">, not <urlset> or <sitemapindex>";
          return s;
        }
        if (empty) break;
      } else if (depth == 1 && named(name, entry_name)) {
        in_entry = true;
        has_loc = false;
        loc.clear();
        lastmod.clear();
        if (empty) {
          in_entry = false;
          if (!count_entry()) return s;
          ++s.invalid;  // an entry without a <loc>
        }
      } else if (depth == 2 && in_entry && !empty) {
        if (named(name, "loc")) {
          text = &loc;
          has_loc = true;
        } else if (named(name, "lastmod")) {
          text = &lastmod;
        }
      }
    } else if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
               type == XML_READER_TYPE_WHITESPACE || type == XML_READER_TYPE_CDATA) {
      // Entity references (XML_READER_TYPE_ENTITY_REFERENCE) are not text:
      // their content is never read. The predefined ones (&amp;...) and
      // character references are already text.
      if (text != nullptr && depth == 3 && text->size() <= sitemap_max_loc) {
        if (const xmlChar* v = xmlTextReaderConstValue(reader.get())) text->append(reinterpret_cast<const char*>(v));
      }
    } else if (type == XML_READER_TYPE_END_ELEMENT) {
      if (depth == 2) {
        text = nullptr;
      } else if (depth == 1 && in_entry) {
        in_entry = false;
        if (!count_entry()) return s;
        const std::string_view l = trim(loc);
        std::optional<std::string> url;
        if (has_loc && l.size() <= sitemap_max_loc) url = normalize_url(l);
        if (!url) {
          ++s.invalid;
          continue;
        }
        const std::string_view m = trim(lastmod);
        s.entries.push_back(sitemap_entry{std::move(*url), m.size() <= 64 ? std::string(m) : std::string()});
      }
    }
  }
  if (rc < 0 || !errors.message.empty()) {
    s.error = sitemap_error::bad_xml;
    s.message = errors.message.empty() ? "not well-formed XML" : "not well-formed XML: " + errors.message;
    s.entries.clear();  // a broken file's entries are not trusted
    s.invalid = 0;
    return s;
  }
  if (entry_name == nullptr) {
    s.error = sitemap_error::bad_xml;
    s.message = "no root element";
  }
  return s;
}

}  // namespace scraper
