"""Generates a static web site to crawl, and the manifest of what a correct
crawl of it must see.

    import make_site
    manifest = make_site.generate(site_dir, base_url)   # also writes nothing else
    make_site.write_manifest(manifest, "manifest.json")

    python3 make_site.py DIR BASE_URL [--manifest FILE]

The base URL ("http://127.0.0.1:PORT", where the site will be served) is
needed because some links are written as full URLs. The site is plain
files, for any static server (python3 -m http.server, nginx); it relies on
the one behaviour both share: a directory requested without its trailing
slash answers 301 to the slash form, and a directory with a slash serves its
index.html.

The site (about 320 HTML pages):
  /index.html                    home; the crawl starts at "/"
  /section/NN/index.html         10 sections (00..09), each linking its 29 pages in
                                 every form: relative, "./", "../NN/", absolute-path,
                                 full URL (also with an upper-case scheme), with a
                                 fragment, percent-encoded unreserved characters
  /section/NN/page-MMM.html      29 pages a section: prev/next, the section, home,
                                 the same page of the next section
  /section/01/page-010.html?view=print   a query string: another URL, same file
  /section/04                    linked without the slash: 301 to /section/04/
  /special/*.html                titles with whitespace and entities, non-ASCII, none;
                                 <base href>, <area href>, upper-case tags, duplicate
                                 links, mailto:, javascript:, an off-site link
  /big/long-N.html               about 200 kB of text each (nginx gzips them)
  /files/notes.txt, pixel.png    not HTML: fetched, not parsed
  /missing-page.html             linked, not there: 404
  /robots.txt                    disallows /private/ (but allows one page there)
                                 and *.bak
  /private/secret-N.html         linked from public pages, must not be fetched
  /hidden.html                   linked only from the private pages: never reached

The manifest (a dict, JSON-serialisable) says, with paths relative to the
base URL:
  start            the seed path ("/")
  pages            {path: {"title": str, "links": [target, ...], "words": int or None,
                           "bytes": int, "file": relative file path}}
                   every HTML URL a correct crawl fetches and parses; a link
                   target is a path ("/a/b.html"), "SELF" (the page's own URL,
                   e.g. href="#top" on a URL with a query string), or a full
                   off-site URL; "words" is the exact word count where the
                   page's text is simple enough to know it
  files            {path: {"content_type": str, "bytes": int}}   non-HTML URLs fetched
  missing          [path]        URLs that answer 404
  redirects        {from: to}    URLs that answer 301
  disallowed       [path]        URLs linked from fetched pages that robots.txt forbids
  unreachable      [path]        files that exist but only disallowed pages link to
  offsite          [url]         off-site links (never fetched: same-host crawl)
"""

import json
import os
import sys
import zlib
import struct

SECTIONS = 10
PAGES_PER_SECTION = 29
BIG_PAGES = 3
PRIVATE_PAGES = 3
OFFSITE = "http://example.invalid/elsewhere"  # .invalid never resolves (RFC 2606)

ROBOTS_TXT = """\
# Written by examples/scraper/tests/make_site.py
User-agent: *
Disallow: /private/
Allow: /private/public-note.html
Disallow: /*.bak$
"""

# Plain lower-case words: the text of pages whose word count the manifest
# states exactly (no punctuation, no digits, no apostrophes).
WORDS = ("weft runtime fiber coroutine scheduler reactor crawler parser socket buffer "
         "thread worker process channel timer signal future promise latency throughput "
         "kernel queue ring completion submission budget cancel scope handle journey "
         "river mountain forest meadow harbour lantern compass").split()


def _words(seed: int, n: int) -> list:
    out = []
    x = seed * 2654435761 % 2**32 or 1
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        out.append(WORDS[x % len(WORDS)])
    return out


def _png_bytes() -> bytes:
    """A valid 1x1 PNG."""
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class _Page:
    """An HTML page being written: its links (href, target) and text."""

    def __init__(self, title_html, title, words_known=True):
        self.title_html = title_html  # None: no <title>
        self.title = title  # what the scraper must report
        self.head_extra = ""
        self.body = []  # HTML fragments
        self.links = []  # targets in document order (duplicates kept; deduplicated at the end)
        self.words = 0  # visible words, when words_known
        self.words_known = words_known

    def a(self, href, target, text):
        """<a href=href>text</a>; target: the path it resolves to, "SELF", or a full off-site URL, or
        None when it is not a link the scraper keeps (mailto:, javascript:)."""
        self.body.append(f'<a href="{href}">{text}</a>\n')
        if target is not None:
            self.links.append(target)
        self.words += len(text.split())

    def p(self, words):
        self.body.append("<p>" + " ".join(words) + "</p>\n")
        self.words += len(words)

    def raw(self, html, words=0):
        self.body.append(html)
        self.words += words

    def html(self):
        head = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        if self.title_html is not None:
            head += f"<title>{self.title_html}</title>\n"
        head += self.head_extra
        head += "</head>\n<body>\n"
        return head + "".join(self.body) + "</body>\n</html>\n"

    def unique_links(self):
        seen, out = set(), []
        for t in self.links:
            if t not in seen:
                seen.add(t)
                out.append(t)
        return out


def _section_dir(n):
    return f"/section/{n:02d}/"


def _page_path(s, i):
    return f"/section/{s:02d}/page-{i:03d}.html"


def generate(site_dir: str, base_url: str) -> dict:
    """Writes the site into site_dir (created if needed) and returns its manifest."""
    base_url = base_url.rstrip("/")
    host_port = base_url.split("://", 1)[1]
    pages = {}  # url path -> (_Page, file path relative to site_dir)
    files = {}

    def add(url_path, page, file_path=None):
        if file_path is None:
            file_path = url_path.lstrip("/")
            if file_path == "" or file_path.endswith("/"):
                file_path += "index.html"
        pages[url_path] = (page, file_path)

    # ---------------------------------------------------------- home
    home = _Page("weft test site \u2014 home", "weft test site \u2014 home")
    home.p(_words(1, 40))
    for s in range(SECTIONS):
        home.a(f"/section/{s:02d}/", _section_dir(s), f"section {s:02d}")
    home.a("section/04", "/section/04", "section four without its slash")  # 301 -> /section/04/
    home.a("index.html", "/index.html", "home again")  # another URL of the same file
    home.a("#top", "SELF", "top")
    home.a("", "SELF", "here")
    for name in ("whitespace-title", "unicode-title", "no-title", "base-href", "uppercase", "links"):
        home.a(f"special/{name}.html", f"/special/{name}.html", "special page")
    for n in range(1, BIG_PAGES + 1):
        home.a(f"/big/long-{n}.html", f"/big/long-{n}.html", "long page")
    home.a("files/notes.txt", "/files/notes.txt", "notes")
    home.a("files/pixel.png", "/files/pixel.png", "pixel")
    home.a("missing-page.html", "/missing-page.html", "missing page")
    home.a("/private/secret-1.html", "/private/secret-1.html", "secret")
    home.a("private/public-note.html", "/private/public-note.html", "public note")
    home.a("/files/old-report.bak", "/files/old-report.bak", "backup")
    home.a(OFFSITE, OFFSITE, "elsewhere")
    home.a("mailto:nobody@example.invalid", None, "mail")
    home.a("javascript:void(0)", None, "script")
    add("/", home, "index.html")
    # /index.html is the same file under another URL (linked from home).
    add("/index.html", home, "index.html")

    # ---------------------------------------------------------- sections
    for s in range(SECTIONS):
        idx = _Page(f"Section {s:02d}", f"Section {s:02d}")
        idx.p(_words(100 + s, 30))
        idx.a("/", "/", "home")
        for i in range(PAGES_PER_SECTION):
            target = _page_path(s, i)
            form = i % 10
            if form == 0:
                href = f"page-{i:03d}.html"
            elif form == 1:
                href = f"./page-{i:03d}.html"
            elif form == 2:
                href = target  # absolute path
            elif form == 3:
                href = base_url + target  # full URL
            elif form == 4:
                href = f"page-{i:03d}.html#part-{i}"  # fragment dropped
            elif form == 5:
                # %70 is 'p', %2D '-': unreserved characters, decoded by normalisation.
                href = f"%70age%2D{i:03d}.html"
            elif form == 6:
                href = f"HTTP://{host_port}{target}"  # scheme case
            elif form == 7:
                href = f"../{s:02d}/./page-{i:03d}.html"  # dot segments
            elif form == 8:
                href = f"/section/{(s + 1) % SECTIONS:02d}/../{s:02d}/page-{i:03d}.html#x"
            else:
                href = f" page-{i:03d}.html "  # surrounding whitespace stripped
            idx.a(href, target, f"page {s:02d} {i:03d}")
        if s == 3:
            idx.a("/private/secret-2.html", "/private/secret-2.html", "secret two")
        add(_section_dir(s), idx)

        for i in range(PAGES_PER_SECTION):
            me = _page_path(s, i)
            pg = _Page(f"Page {s:02d}-{i:03d}", f"Page {s:02d}-{i:03d}")
            pg.p(_words(1000 * s + i, 60 + (i * 7) % 50))
            if i > 0:
                pg.a(f"page-{i - 1:03d}.html", _page_path(s, i - 1), "previous")
            if i + 1 < PAGES_PER_SECTION:
                pg.a(f"page-{i + 1:03d}.html", _page_path(s, i + 1), "next")
                pg.a(f"page-{i + 1:03d}.html#again", _page_path(s, i + 1), "next again")  # same link
            pg.a("./", _section_dir(s), "section")
            pg.a("../../", "/", "home")
            pg.a(f"../{(s + 1) % SECTIONS:02d}/page-{i:03d}.html", _page_path((s + 1) % SECTIONS, i), "across")
            pg.a("#top", "SELF", "top")
            if s == 1 and i == 9:
                pg.a("page-010.html?view=print", "/section/01/page-010.html?view=print", "print view")
            if s == 7 and i == 20:
                pg.a("../../private/secret-3.html", "/private/secret-3.html", "secret three")
            add(me, pg)
            if s == 1 and i == 10:
                add("/section/01/page-010.html?view=print", pg, "section/01/page-010.html")

    # ---------------------------------------------------------- special pages
    ws = _Page("\n   Tabs\tand \n newlines  &amp;  entities &lt;3&gt;\r\n ",
               "Tabs and newlines & entities <3>")
    ws.p(_words(7, 20))
    ws.a("../", "/", "home")
    add("/special/whitespace-title.html", ws)

    uni = _Page("Caf\u00e9 \u2013 \u00dcn\u00efc\u00f6d\u00e9 &#x263A; \u65e5\u672c",
                "Caf\u00e9 \u2013 \u00dcn\u00efc\u00f6d\u00e9 \u263a \u65e5\u672c", words_known=False)
    uni.raw("<p>Gr\u00fc\u00dfe aus K\u00f6ln und \u65e5\u672c\u8a9e</p>\n")
    uni.a("/", "/", "home")
    uni.a("caf%C3%A9.html", "/special/caf%C3%A9.html", "caf\u00e9 page")
    add("/special/unicode-title.html", uni)
    cafe = _Page("Caf\u00e9 page", "Caf\u00e9 page")
    cafe.p(_words(8, 10))
    add("/special/caf%C3%A9.html", cafe, "special/caf\u00e9.html")

    none = _Page(None, "")
    none.p(_words(9, 25))
    none.a("/special/links.html", "/special/links.html", "links")
    add("/special/no-title.html", none)

    based = _Page("Base href", "Base href")
    based.head_extra = '<base href="/section/02/">\n'
    based.p(_words(10, 15))
    based.a("page-003.html", "/section/02/page-003.html", "three")
    based.a("../05/page-006.html", "/section/05/page-006.html", "six")
    based.a("/", "/", "home")
    based.raw('<map name="m"><area href="page-004.html" alt="four" shape="rect" coords="0,0,1,1"></map>\n')
    based.links.append("/section/02/page-004.html")
    add("/special/base-href.html", based)

    upper = _Page("Upper case tags", "Upper case tags")
    upper.p(_words(11, 15))
    upper.raw('<P><A HREF="/section/06/page-001.html">one</A> <A hReF="../section/06/page-002.html">two</A></P>\n',
              words=2)
    upper.links += ["/section/06/page-001.html", "/section/06/page-002.html"]
    add("/special/uppercase.html", upper)

    lk = _Page("Links &amp; more", "Links & more")
    lk.p(_words(12, 15))
    lk.a("/section/08/page-001.html", "/section/08/page-001.html", "one")
    lk.a("/section/08/page-001.html", "/section/08/page-001.html", "one twice")
    lk.a("/section/08/page-001.html#frag", "/section/08/page-001.html", "one with a fragment")
    lk.a(f"{base_url}/section/08/page-001.html", "/section/08/page-001.html", "one in full")
    lk.a("mailto:someone@example.invalid", None, "mail")
    lk.a("javascript:alert(1)", None, "script")
    lk.a("tel:+15550100", None, "phone")
    lk.a(OFFSITE, OFFSITE, "elsewhere")
    lk.a("/files/old-report.bak", "/files/old-report.bak", "backup")
    lk.a("/files/old-report.bak.html", "/files/old-report.bak.html", "not a backup")
    # Escapes of reserved characters are kept as they are (RFC 3986 6.2.2.2
    # decodes unreserved ones only; so does a browser): "%28" is not "(",
    # "%2F" is not "/" (the servers decode both when they map the path to a
    # file, so each URL below answers 200 either way).
    lk.a("paren%281%29.html", "/special/paren%281%29.html", "escaped parentheses")
    lk.a("paren(2).html", "/special/paren(2).html", "parentheses")
    lk.a("odd%2Fname.html", "/special/odd%2Fname.html", "escaped slash")
    lk.a("q.html?x=%28y%29&z=%2F", "/special/q.html?x=%28y%29&z=%2F", "escaped query")
    add("/special/links.html", lk)
    for url_path, rel, title in (("/special/paren%281%29.html", "special/paren(1).html", "Paren 1"),
                                 ("/special/paren(2).html", "special/paren(2).html", "Paren 2"),
                                 ("/special/odd%2Fname.html", "special/odd/name.html", "Odd name"),
                                 ("/special/q.html?x=%28y%29&z=%2F", "special/q.html", "Query")):
        pg = _Page(title, title)
        pg.p(_words(len(url_path), 12))
        add(url_path, pg, rel)
    nb = _Page("Not a backup", "Not a backup")
    nb.p(_words(13, 12))
    add("/files/old-report.bak.html", nb)

    # ---------------------------------------------------------- big pages (gzip)
    for n in range(1, BIG_PAGES + 1):
        big = _Page(f"Long page {n}", f"Long page {n}")
        for k in range(400):
            big.p(_words(5000 * n + k, 50))
        big.a("/", "/", "home")
        add(f"/big/long-{n}.html", big)

    # ---------------------------------------------------------- robots.txt and /private/
    note = _Page("Public note", "Public note")
    note.p(_words(14, 20))
    note.a("../", "/", "home")
    add("/private/public-note.html", note)
    private_files = {}
    for n in range(1, PRIVATE_PAGES + 1):
        sec = _Page(f"Secret {n}", f"Secret {n}")
        sec.p(_words(20 + n, 20))
        sec.a("/hidden.html", "/hidden.html", "hidden")
        private_files[f"private/secret-{n}.html"] = sec.html()
    hidden = _Page("Hidden", "Hidden")
    hidden.p(_words(30, 10))
    unreachable_files = {"hidden.html": hidden.html(), "files/old-report.bak": "old\n"}

    # ---------------------------------------------------------- write
    os.makedirs(site_dir, exist_ok=True)

    def write(rel, data):
        path = os.path.join(site_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        return len(data if isinstance(data, bytes) else data.encode("utf-8"))

    manifest_pages = {}
    for url_path, (page, rel) in pages.items():
        size = write(rel, page.html())
        manifest_pages[url_path] = {
            "title": page.title,
            "links": page.unique_links(),
            "words": page.words if page.words_known else None,
            "bytes": size,
            "file": rel,
        }
    for rel, text in list(private_files.items()) + list(unreachable_files.items()):
        write(rel, text)
    notes = "\n".join(" ".join(_words(40 + k, 12)) for k in range(200)) + "\n"
    files["/files/notes.txt"] = {"content_type": "text/plain", "bytes": write("files/notes.txt", notes)}
    files["/files/pixel.png"] = {"content_type": "image/png", "bytes": write("files/pixel.png", _png_bytes())}
    write("robots.txt", ROBOTS_TXT)

    return {
        "base_url": base_url,
        "start": "/",
        "pages": manifest_pages,
        "files": files,
        "missing": ["/missing-page.html"],
        "redirects": {"/section/04": "/section/04/"},
        "disallowed": ["/private/secret-1.html", "/private/secret-2.html", "/private/secret-3.html",
                       "/files/old-report.bak"],
        "unreachable": ["/hidden.html"],
        "offsite": [OFFSITE],
        "robots_txt": ROBOTS_TXT,
    }


def write_manifest(manifest: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Generate the scraper test site and its manifest.")
    ap.add_argument("dir")
    ap.add_argument("base_url", help="where it will be served, e.g. http://127.0.0.1:8000")
    ap.add_argument("--manifest", help="write the manifest (JSON) here")
    a = ap.parse_args(argv)
    m = generate(a.dir, a.base_url)
    if a.manifest:
        write_manifest(m, a.manifest)
    print(f"{len(m['pages'])} HTML URLs, {len(m['files'])} other files, written to {a.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
