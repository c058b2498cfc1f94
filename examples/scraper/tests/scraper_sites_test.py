#!/usr/bin/env python3
"""Runs the built scraper, as a user would, against web servers and HTML
that weft did not write, and checks its JSON Lines records.

    python3 examples/scraper/tests/scraper_sites_test.py --scraper build/examples/scraper \
        --server python|nginx --site generated|pydocs [--keep]

--server  python: python3 -m http.server; nginx: Debian's nginx (gzip on).
--site    generated: make_site.py's site (about 320 pages: every link form,
          a robots.txt, a 301, a 404, files that are not HTML, big pages), checked
          against its manifest;
          pydocs: the Python 3.11 documentation of Debian's python3.11-doc
          (/usr/share/doc/python3.11/html, about 530 Sphinx pages), checked against
          an oracle computed here with html.parser.

What a full crawl must do: fetch every reachable allowed URL exactly once
(a 301's target may be fetched through the redirect only), report each
page's title and links (resolved, fragments dropped, in document order, no
duplicates), 404 as error http_4xx, the redirect with redirects/final_url,
gzip bodies decoded (bytes = the file's size), never fetch what robots.txt
forbids (the server's access log is checked too), exit 0, and say the page
count on stderr. Also: --max-pages 50 stops at 50 records, --output -
writes to stdout, an unreachable URL gives a record with error "connect"
and exit 0, a malformed URL exits 2 naming it.

Exit status 0 when every check passed, 1 otherwise: each failure is
printed with what was expected and what was got; a missing nginx or
python3.11-doc fails with "run ./scripts/setup.sh".
"""

import argparse
import collections
import html.parser
import json
import mimetypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# The web servers every example test starts (python's http.server, nginx).
sys.path.insert(1, os.path.join(HERE, "..", "..", "..", "tests", "examples"))
import make_site  # noqa: E402
import webservers  # noqa: E402

PYDOCS = os.environ.get("WEFT_PYDOCS", "/usr/share/doc/python3.11/html")
PYDOCS_ROBOTS = """\
# Written by examples/scraper/tests/scraper_sites_test.py
User-agent: *
Disallow: /whatsnew/
Disallow: /_sources/
Disallow: /faq/*.html$
Allow: /faq/index.html
"""
RUN_TIMEOUT = 120  # seconds for one scraper run
SHOW = 8  # differing items shown per failure


# ---------------------------------------------------------------- reporting

class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def ok(self, cond, name, detail=""):
        if cond:
            self.passed += 1
        else:
            self.fail(name, detail)
        return cond

    def fail(self, name, detail=""):
        self.failed.append(name)
        print(f"FAIL {name}", flush=True)
        if detail:
            for line in str(detail).rstrip("\n").split("\n"):
                print(f"     {line}")
        sys.stdout.flush()

    def equal(self, got, expected, name):
        return self.ok(got == expected, name, f"expected: {expected!r}\ngot:      {got!r}")

    def same_set(self, got, expected, name, got_label="got", optional=()):
        """got must hold every item of expected, and nothing outside expected + optional."""
        got, expected, optional = set(got), set(expected), set(optional)
        missing = sorted(expected - got)
        extra = sorted(got - expected - optional)
        if not missing and not extra:
            self.passed += 1
            return True
        lines = [f"expected {len(expected)}" + (f" (+{len(optional)} optional)" if optional else "") +
                 f", {got_label} {len(got)}"]
        if missing:
            lines.append(f"missing ({len(missing)}): " + ", ".join(missing[:SHOW]) +
                         (" ..." if len(missing) > SHOW else ""))
        if extra:
            lines.append(f"unexpected ({len(extra)}): " + ", ".join(extra[:SHOW]) +
                         (" ..." if len(extra) > SHOW else ""))
        self.fail(name, "\n".join(lines))
        return False


def list_diff(got, expected):
    """A short description of how two lists differ."""
    missing = [x for x in expected if x not in set(got)]
    extra = [x for x in got if x not in set(expected)]
    out = []
    if missing:
        out.append(f"missing ({len(missing)}): {missing[:SHOW]}")
    if extra:
        out.append(f"unexpected ({len(extra)}): {extra[:SHOW]}")
    if not missing and not extra:
        if len(got) != len(expected):
            dup = [x for x, n in collections.Counter(got).items() if n > 1]
            dup_expected = [x for x, n in collections.Counter(expected).items() if n > 1]
            out.append(f"same URLs, but listed twice: got {dup[:SHOW]}, expected {dup_expected[:SHOW]}")
        else:
            i = next(k for k in range(len(got)) if got[k] != expected[k])
            out.append(f"same URLs in another order; first difference at #{i}: "
                       f"expected {expected[i]!r}, got {got[i]!r}")
    return "\n".join(out)


# ---------------------------------------------------------------- running the scraper

class Run:
    def __init__(self, argv, rc, stdout, stderr, seconds):
        self.argv, self.rc, self.stdout, self.stderr, self.seconds = argv, rc, stdout, stderr, seconds

    def describe(self):
        tail = "\n".join(self.stderr.splitlines()[-15:])
        return f"command: {' '.join(self.argv)}\nexit code: {self.rc}\nstderr (end):\n{tail}"


def run_scraper(scraper, args, cwd, timeout=RUN_TIMEOUT):
    argv = [scraper] + args
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, 9)
        out, err = proc.communicate()
        err += f"\n[test: killed after {timeout} s]".encode()
        return Run(argv, "timeout", out, err.decode("utf-8", "replace"), time.monotonic() - t0)
    return Run(argv, proc.returncode, out, err.decode("utf-8", "replace"), time.monotonic() - t0)


def parse_records(data, checks, what):
    records = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as e:
            checks.fail(f"{what}: line {n} is JSON", f"{e}: {line[:200]!r}")
    return records


def says_pages(text, n):
    """Whether text says "N pages" (or "1 page")."""
    return re.search(r"(?<![0-9])%d pages?\b" % n, text) is not None


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


# ---------------------------------------------------------------- what a crawl must see

class Expect:
    """What a correct full crawl records, in absolute URLs."""

    def __init__(self):
        self.start = ""
        self.pages = {}  # url -> {"title", "links": [urls], "bytes", "words" (None: only > 0)}
        self.optional = set()  # page URLs that may be fetched only through a redirect to them
        self.files = {}  # url -> {"bytes", "content_type" (None: unchecked)}
        self.missing = set()  # 404
        self.redirects = {}  # from -> to
        self.disallowed = set()  # linked from fetched pages, forbidden by robots.txt
        self.never = set()  # must never be requested (disallowed, unreachable, off-site)
        self.robots = []  # (allow: bool, pattern) of robots.txt, for the access log
        self.check_words_exact = True

    def record_urls(self):
        return set(self.pages) - self.optional | set(self.files) | self.missing | set(self.redirects)


def expect_from_manifest(m):
    base = m["base_url"]
    e = Expect()
    e.start = base + m["start"]

    def absolute(target, own):
        if target == "SELF":
            return own
        return base + target if target.startswith("/") else target

    for path, p in m["pages"].items():
        url = base + path
        links = []
        for t in p["links"]:  # deduplicated again: "SELF" may be the URL of another link
            if absolute(t, url) not in links:
                links.append(absolute(t, url))
        e.pages[url] = {"title": p["title"], "links": links,
                        "bytes": p["bytes"], "words": p["words"]}
    for path, f in m["files"].items():
        e.files[base + path] = {"bytes": f["bytes"], "content_type": f["content_type"]}
    e.missing = {base + p for p in m["missing"]}
    e.redirects = {base + a: base + b for a, b in m["redirects"].items()}
    e.optional = set(e.redirects.values())
    e.disallowed = {base + p for p in m["disallowed"]}
    e.never = e.disallowed | {base + p for p in m["unreachable"]} | set(m["offsite"])
    e.robots = robots_rules(m["robots_txt"])
    return e


# ---------------------------------------------------------------- robots.txt (for the oracle and the logs)

def robots_rules(text):
    """The (allow, pattern) rules of the "*" group of a robots.txt we wrote."""
    rules = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (s.strip() for s in line.split(":", 1))
        if key.lower() in ("allow", "disallow") and value:
            rules.append((key.lower() == "allow", value))
    return rules


def robots_match(pattern, path):
    """RFC 9309 matching: '*' any run, '$' at the end anchors."""
    anchored = pattern.endswith("$")
    if anchored:
        pattern = pattern[:-1]
    parts = pattern.split("*")
    if not path.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for k, part in enumerate(parts[1:], 1):
        last = k == len(parts) - 1
        if last and anchored:
            return path.endswith(part) and len(path) - len(part) >= pos
        i = path.find(part, pos)
        if i < 0:
            return False
        pos = i + len(part)
    return not anchored or pos == len(path)


def robots_allowed(rules, path):
    best = None  # (length, allow)
    for allow, pattern in rules:
        if robots_match(pattern, path):
            key = (len(pattern), allow)  # the longest wins; a tie goes to allow
            if best is None or key > best:
                best = key
    return best is None or best[1]


# ---------------------------------------------------------------- URLs as the scraper normalises them

_UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = set("0123456789abcdefABCDEF")


def _norm_percent(s, lower=False):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "%" and i + 2 < len(s) and s[i + 1] in _HEX and s[i + 2] in _HEX:
            b = int(s[i + 1:i + 3], 16)
            if b in _UNRESERVED:
                ch = chr(b)
                out.append(ch.lower() if lower else ch)
            else:
                out.append("%%%02X" % b)
            i += 3
        else:
            out.append(c.lower() if lower else c)
            i += 1
    return "".join(out)


def _remove_dot_segments(path):
    out = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./"):
            path = path[2:]
        elif path.startswith("/./"):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../") or path == "/..":
            path = "/" if path == "/.." else path[3:]
            if out:
                out.pop()
        elif path in (".", ".."):
            path = ""
        else:
            j = path.find("/", 1)
            seg = path if j < 0 else path[:j]
            out.append(seg)
            path = path[len(seg):]
    return "".join(out)


def _clean_href(href):
    """What a browser does first: strip, drop tabs/newlines, percent-encode what a URI cannot hold."""
    href = href.strip(" \t\n\r\f")
    data = href.encode("utf-8")
    out = []
    for i, c in enumerate(data):
        if c in (0x09, 0x0A, 0x0D):
            continue
        bad_percent = c == 0x25 and not (i + 2 < len(data) and chr(data[i + 1]) in _HEX and chr(data[i + 2]) in _HEX)
        if c <= 0x20 or c >= 0x7F or chr(c) in '"<>\\^`{|}' or bad_percent:
            out.append("%%%02X" % c)
        else:
            out.append(chr(c))
    return "".join(out)


def normalize_url(url):
    """scheme and host lower-cased, default port dropped, fragment dropped, escapes normalised,
    dot segments removed, empty path -> "/". None for what is not http(s)."""
    if "#" in url:
        url = url[:url.index("#")]
    has_query = "?" in url
    s = urllib.parse.urlsplit(url)
    scheme = s.scheme.lower()
    if scheme not in ("http", "https") or not s.hostname:
        return None
    netloc = s.netloc
    userinfo = ""
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        userinfo = _norm_percent(userinfo) + "@"
    host, port = netloc, ""
    if netloc.startswith("["):
        end = netloc.find("]")
        host, port = netloc[:end + 1], netloc[end + 2:] if netloc[end + 1:end + 2] == ":" else ""
    elif ":" in netloc:
        host, port = netloc.rsplit(":", 1)
    host = _norm_percent(host, lower=True)
    if port:
        if int(port) == (80 if scheme == "http" else 443):
            port = ""
        else:
            port = ":" + str(int(port))
    path = _remove_dot_segments(_norm_percent(s.path)) or "/"
    out = f"{scheme}://{userinfo}{host}{port}{path}"
    if has_query:
        out += "?" + _norm_percent(s.query)
    return out


def resolve_link(base, href):
    h = _clean_href(href)
    scheme = urllib.parse.urlsplit(h).scheme
    if scheme and scheme.lower() not in ("http", "https"):
        return None
    return normalize_url(urllib.parse.urljoin(base, h))


# ---------------------------------------------------------------- the pydocs oracle

class PageParser(html.parser.HTMLParser):
    """The first <title>'s text, the first <base href>, <a href> and <area href> in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = None
        self._in_title = False
        self._title_text = []
        self.base = None
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "area"):
            for k, v in attrs:
                if k == "href" and v is not None:
                    self.hrefs.append(v)
                    break
        elif tag == "base" and self.base is None:
            self.base = next((v for k, v in attrs if k == "href" and v is not None), None)
        elif tag == "title" and self.title is None and not self._in_title:
            self._in_title = True

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = "".join(self._title_text)

    def handle_data(self, data):
        if self._in_title:
            self._title_text.append(data)


def collapse_ascii_space(s):
    """As the scraper (page.cpp collapse_whitespace): runs of ASCII white space become one space,
    none at the ends; other characters (a no-break space) are kept."""
    out, pending = [], False
    for ch in s:
        if ch in " \t\n\r\f\v":
            pending = bool(out)
        else:
            if pending:
                out.append(" ")
            pending = False
            out.append(ch)
    return "".join(out)


def analyze(path, url):
    with open(path, "rb") as f:
        data = f.read()
    p = PageParser()
    p.feed(data.decode("utf-8", "replace"))
    p.close()
    base = url
    if p.base is not None:
        base = resolve_link(url, p.base) or url
    links, seen = [], set()
    for h in p.hrefs:
        u = resolve_link(base, h)
        if u and u not in seen:
            seen.add(u)
            links.append(u)
    return collapse_ascii_space(p.title or ""), links, len(data)


def expect_from_files(root, base_url, start_path, robots_txt):
    """Breadth-first over the files under root as a static server serves them."""
    e = Expect()
    e.check_words_exact = False
    e.robots = rules = robots_rules(robots_txt)
    origin = base_url.rstrip("/")
    e.start = normalize_url(origin + start_path)
    queue = collections.deque([e.start])
    queued = {e.start}

    def push(u):
        if u not in queued:
            queued.add(u)
            queue.append(u)

    while queue:
        url = queue.popleft()
        s = urllib.parse.urlsplit(url)
        target = s.path + ("?" + s.query if "?" in url else "")
        if not robots_allowed(rules, target):
            e.disallowed.add(url)
            continue
        fs_path = os.path.join(root, urllib.parse.unquote(s.path).lstrip("/"))
        if os.path.isdir(fs_path):
            if not s.path.endswith("/"):
                to = origin + s.path + "/" + ("?" + s.query if "?" in url else "")
                e.redirects[url] = to
                e.optional.add(to)
                push(to)
                continue
            fs_path = os.path.join(fs_path, "index.html")
            if not os.path.isfile(fs_path):
                raise RuntimeError(f"oracle: {url} is a directory without index.html (python lists it, "
                                   "nginx answers 403): not modelled")
        if not os.path.isfile(fs_path):
            e.missing.add(url)
            continue
        ctype = mimetypes.guess_type(fs_path)[0]
        if ctype == "text/html":
            title, links, size = analyze(fs_path, url)
            e.pages[url] = {"title": title, "links": links, "bytes": size, "words": None}
            for link in links:
                if link.startswith(origin + "/"):
                    push(link)
        else:
            e.files[url] = {"bytes": os.path.getsize(fs_path), "content_type": None}
    e.never = set(e.disallowed)
    return e


# ---------------------------------------------------------------- checks of one full crawl

def check_full_crawl(c, e, run, records, stats, server, label):
    by_url = collections.defaultdict(list)
    for r in records:
        by_url[r.get("url")].append(r)

    c.ok(run.rc == 0, f"{label}: exit code 0", run.describe())
    c.ok(says_pages(run.stderr, len(records)), f"{label}: the summary on stderr says '{len(records)} pages'",
         run.describe())

    dup = sorted(u for u, rs in by_url.items() if len(rs) > 1)
    c.ok(not dup, f"{label}: no URL recorded twice", f"recorded more than once ({len(dup)}): {dup[:SHOW]}")

    c.same_set(by_url.keys(), e.record_urls(), f"{label}: the URLs recorded are the reachable allowed ones",
               optional=e.optional)

    bad_title, bad_links, bad_status, bad_bytes, bad_words = [], [], [], [], []
    for url, info in e.pages.items():
        for r in by_url.get(url, []):
            if r.get("status") != 200 or r.get("error") is not None or r.get("final_url") != url:
                bad_status.append(f"{url}: status {r.get('status')}, error {r.get('error')}, "
                                  f"final_url {r.get('final_url')} (expected 200, null, the same URL)")
                continue
            check_page_content(r, info, bad_title, bad_links, bad_bytes, bad_words, e.check_words_exact)
    c.ok(not bad_status, f"{label}: pages answered 200 without error", "\n".join(bad_status[:SHOW]))
    c.ok(not bad_title, f"{label}: titles", "\n".join(bad_title[:SHOW]) +
         (f"\n... {len(bad_title)} pages in all" if len(bad_title) > SHOW else ""))
    c.ok(not bad_links, f"{label}: links (resolved, no fragment, document order, no duplicates)",
         "\n".join(bad_links[:4]) + (f"\n... {len(bad_links)} pages in all" if len(bad_links) > 4 else ""))
    c.ok(not bad_bytes, f"{label}: bytes is the (decoded) size of the file", "\n".join(bad_bytes[:SHOW]))
    c.ok(not bad_words, f"{label}: word_count", "\n".join(bad_words[:SHOW]))

    # Each page parsed once: through its own URL or through a redirect to it.
    parsed = collections.Counter(r.get("final_url") for r in records if r.get("title") is not None)
    twice = sorted(u for u, n in parsed.items() if n > 1)
    never_parsed = sorted(u for u in e.pages if parsed[u] == 0 and (u in by_url or u in e.optional))
    c.ok(not twice, f"{label}: no page parsed twice", f"parsed more than once: {twice[:SHOW]}")
    c.ok(not never_parsed, f"{label}: every page parsed", f"never parsed: {never_parsed[:SHOW]}")

    # html_ok says a page needed error recovery that changed its structure.
    # Both sites are well-formed (Sphinx's HTML5 with <nav>, <section> and
    # <svg>; make_site.py's pages), so no page here may be flagged.
    flagged = sorted(r.get("final_url") for r in records if r.get("title") is not None and r.get("html_ok") is not True)
    c.ok(not flagged, f"{label}: no well-formed page reported as broken HTML (html_ok true on every parsed page)",
         f"html_ok not true on {len(flagged)} pages: {flagged[:SHOW]}")

    for url, to in e.redirects.items():
        for r in by_url.get(url, []):
            ok = (r.get("status") == 200 and r.get("final_url") == to and r.get("redirects") == [url]
                  and r.get("error") is None)
            c.ok(ok, f"{label}: the 301 {url} -> {to} recorded with redirects/final_url",
                 f"expected status 200, final_url {to}, redirects [{url}], error null\ngot {json.dumps(r)[:600]}")
            if ok and not r.get("duplicate"):
                errs = []
                check_page_content(r, e.pages[to], errs, errs, errs, errs, e.check_words_exact)
                c.ok(not errs, f"{label}: the page reached through the 301 is analysed as {to}", "\n".join(errs))

    for url in sorted(e.missing):
        for r in by_url.get(url, []):
            c.ok(r.get("status") == 404 and r.get("error") == "http_4xx" and r.get("title") is None,
                 f"{label}: {url} recorded as 404, error http_4xx",
                 f"expected status 404, error http_4xx, title null\ngot {json.dumps(r)[:600]}")

    bad_files = []
    for url, f in e.files.items():
        for r in by_url.get(url, []):
            ct = r.get("content_type") or ""
            if (r.get("status") != 200 or r.get("error") is not None or r.get("title") is not None or r.get("links")
                    or r.get("bytes") != f["bytes"]
                    or (f["content_type"] and not ct.startswith(f["content_type"]))):
                bad_files.append(f"{url}: expected status 200, no error, title null, no links, bytes {f['bytes']}, "
                                 f"content_type {f['content_type'] or 'any'}; got {json.dumps(r)[:400]}")
    c.ok(not bad_files, f"{label}: files that are not HTML fetched, not parsed", "\n".join(bad_files[:SHOW]))

    fetched_never = sorted(u for u in e.never if u in by_url) + sorted(
        r["url"] + " -> " + r["final_url"] for r in records
        if r.get("final_url") in e.never and r.get("final_url") != r.get("url"))
    c.ok(not fetched_never, f"{label}: nothing robots.txt forbids (or only they link to) is fetched",
         f"fetched: {fetched_never[:SHOW]}")

    # depth: the seed is 0; any other URL was linked from a page recorded one level up.
    links_at = collections.defaultdict(set)
    for r in records:
        for link in r.get("links") or []:
            links_at[r.get("depth")].add(link)
    bad_depth = []
    for r in records:
        d = r.get("depth")
        if r.get("url") == e.start:
            if d != 0:
                bad_depth.append(f"{r['url']}: the seed, depth {d} (expected 0)")
        elif not isinstance(d, int) or d < 1 or r.get("url") not in links_at[d - 1]:
            bad_depth.append(f"{r.get('url')}: depth {d}, but no page of depth {d - 1 if isinstance(d, int) else '?'}"
                             " links to it")
    c.ok(not bad_depth, f"{label}: depth is one more than a page linking to it", "\n".join(bad_depth[:SHOW]))

    if stats is None:
        c.fail(f"{label}: --stats wrote a JSON object", run.describe())
    else:
        n_redirected = sum(1 for r in records if r.get("final_url") and r["final_url"] != r["url"])
        want = {
            "pages": len(records),
            "errors": {"http_4xx": len(e.missing)} if e.missing else {},
            "robots_fetched": 1,
            "robots_disallowed": len(e.disallowed),
            "not_html": len(e.files),
            "redirected": n_redirected,
            "parsed": sum(1 for r in records if r.get("title") is not None),
            "broken_html": 0,
            "stopped": False,
        }
        got = {k: stats.get(k) for k in want}
        c.ok(got == want, f"{label}: the --stats file",
             "\n".join(f"{k}: expected {want[k]!r}, got {got[k]!r}" for k in want if want[k] != got[k]))

    if server is not None:
        check_access_log(c, e, server, records, (stats or {}).get("retries", 0), label)


def check_page_content(r, info, bad_title, bad_links, bad_bytes, bad_words, words_exact):
    url = r.get("url")
    if r.get("title") != info["title"]:
        bad_title.append(f"{url}: expected title {info['title']!r}, got {r.get('title')!r}")
    got_links = r.get("links") or []
    if got_links != info["links"]:
        bad_links.append(f"{url}:\n  " + list_diff(got_links, info["links"]).replace("\n", "\n  "))
    if r.get("bytes") != info["bytes"]:
        bad_bytes.append(f"{url}: expected bytes {info['bytes']} (the file's size), got {r.get('bytes')}")
    wc = r.get("word_count")
    if info.get("words") is not None and words_exact:
        if wc != info["words"]:
            bad_words.append(f"{url}: expected word_count {info['words']}, got {wc}")
    elif not isinstance(wc, int) or wc <= 0:
        bad_words.append(f"{url}: expected word_count > 0, got {wc}")


def check_access_log(c, e, server, records, retries, label):
    """What the server saw. Retries (a timeout on a loaded machine) repeat
    requests: the counts are exact only when the scraper retried nothing."""
    reqs = server.requests()
    origin = server.base_url
    log = f"{label}: {server.kind}'s access log"
    pages = [q for q in reqs if q.target != "/robots.txt"]
    robots = [q for q in reqs if q.target == "/robots.txt"]
    forbidden = sorted({q.target for q in pages if not robots_allowed(e.robots, q.target)} |
                       {q.target for q in pages if origin + q.target in e.never})
    c.ok(not forbidden, f"{log}: no request for a path robots.txt forbids", f"requested: {forbidden[:SHOW]}")
    if retries:
        print(f"  {log}: the scraper retried {retries} requests: request counts not checked", flush=True)
        c.ok(len(robots) >= 1, f"{log}: robots.txt requested", f"robots.txt requests: {len(robots)}")
        return
    c.equal(len(robots), 1, f"{log}: robots.txt requested once")
    counts = collections.Counter(q.target for q in pages)
    redirect_targets = {u[len(origin):] for u in e.redirects.values()}
    twice = sorted(t for t, n in counts.items() if n > (2 if t in redirect_targets else 1))
    c.ok(not twice, f"{log}: no path requested twice (but a 301's target, directly and through the 301)",
         f"requested more than once: {[(t, counts[t]) for t in twice[:SHOW]]}")
    expected_requests = len(records) + sum(len(r.get("redirects") or []) for r in records)
    c.equal(len(pages), expected_requests, f"{log}: one request per record, plus one per redirect hop")
    if server.kind == "nginx":
        html_200 = [q for q in pages if q.status == 200 and q.target.split("?")[0].endswith((".html", "/"))]
        plain = sorted(q.target for q in html_200 if q.encoding != "gzip")
        c.ok(html_200 and not plain, f"{label}: nginx sent the HTML pages gzip-encoded (so decoding was tested)",
             f"{len(plain)} of {len(html_200)} HTML responses were not gzip-encoded: {plain[:SHOW]}")


# ---------------------------------------------------------------- the runs

def full_crawl(c, scraper, work, e, server, label):
    out = os.path.join(work, "pages.jsonl")
    st = os.path.join(work, "stats.json")
    run = run_scraper(scraper, [e.start, "--output", out, "--stats", st], cwd=work)
    print(f"  {label}: {' '.join(run.argv[1:])}: exit {run.rc} in {run.seconds:.1f} s", flush=True)
    data = read_file(out)
    if not c.ok(data is not None, f"{label}: --output wrote {out}", run.describe()):
        return None
    records = parse_records(data, c, label)
    stats = None
    raw = read_file(st)
    if raw is not None:
        try:
            stats = json.loads(raw)
        except ValueError:
            stats = None
    check_full_crawl(c, e, run, records, stats, server, label)
    return records


def max_pages_run(c, scraper, work, e, label):
    out = os.path.join(work, "max50.jsonl")
    run = run_scraper(scraper, [e.start, "--max-pages", "50", "--output", out], cwd=work)
    print(f"  {label}: {' '.join(run.argv[1:])}: exit {run.rc} in {run.seconds:.1f} s", flush=True)
    c.ok(run.rc == 0, f"{label}: exit code 0", run.describe())
    records = parse_records(read_file(out) or b"", c, label)
    c.equal(len(records), 50, f"{label}: 50 records")
    urls = [r.get("url") for r in records]
    c.ok(len(set(urls)) == len(urls), f"{label}: no URL twice",
         str([u for u, n in collections.Counter(urls).items() if n > 1][:SHOW]))
    stray = sorted(set(urls) - e.record_urls() - e.optional)
    c.ok(not stray, f"{label}: only reachable allowed URLs", f"unexpected: {stray[:SHOW]}")
    c.ok(says_pages(run.stderr, 50), f"{label}: the summary on stderr says '50 pages'", run.describe())


def stdout_run(c, scraper, work, e, label):
    cwd = os.path.join(work, "stdout-run")
    os.makedirs(cwd)
    run = run_scraper(scraper, [e.start, "--output", "-"], cwd=cwd)
    print(f"  {label}: {' '.join(run.argv[1:])}: exit {run.rc} in {run.seconds:.1f} s", flush=True)
    c.ok(run.rc == 0, f"{label}: exit code 0", run.describe())
    left = sorted(os.listdir(cwd))
    c.ok(not left, f"{label}: no file written in the current directory ('-' is stdout, not a file name)",
         f"files left in the current directory: {left}")
    records = parse_records(run.stdout, c, f"{label} (stdout)")
    urls = [r.get("url") for r in records]
    c.ok(len(set(urls)) == len(urls), f"{label}: no URL twice",
         str([u for u, n in collections.Counter(urls).items() if n > 1][:SHOW]))
    c.same_set(urls, e.record_urls(), f"{label}: the records on stdout are the full crawl's",
               got_label="on stdout", optional=e.optional)


def cli_runs(c, scraper, work):
    port = webservers.closed_port()
    url = f"http://127.0.0.1:{port}/"
    out = os.path.join(work, "closed.jsonl")
    run = run_scraper(scraper, [url, "--output", out], cwd=work)
    label = "unreachable URL (a closed port)"
    print(f"  {label}: {' '.join(run.argv[1:])}: exit {run.rc} in {run.seconds:.1f} s", flush=True)
    c.ok(run.rc == 0, f"{label}: exit code 0", run.describe())
    records = parse_records(read_file(out) or b"", c, label)
    got = [(r.get("url"), r.get("error"), r.get("status")) for r in records]
    c.equal(got, [(url, "connect", None)], f"{label}: one record, error 'connect', status null")
    c.ok(says_pages(run.stderr, 1), f"{label}: the summary on stderr counts 1 page",
         run.describe())

    for bad in ("ftp://x", "notaurl"):
        run = run_scraper(scraper, [bad, "--output", os.path.join(work, "bad.jsonl")], cwd=work, timeout=30)
        label = f"malformed URL {bad!r}"
        print(f"  {label}: exit {run.rc}", flush=True)
        c.equal(run.rc, 2, f"{label}: exit code 2 (usage error)")
        c.ok(bad in run.stderr, f"{label}: the message names the URL", run.describe())
        c.ok(not run.stdout.strip(), f"{label}: nothing on stdout", f"stdout: {run.stdout[:300]!r}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scraper", required=True, help="the built scraper (build/examples/scraper)")
    ap.add_argument("--server", choices=["python", "nginx"], required=True)
    ap.add_argument("--site", choices=["generated", "pydocs"], required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (records, site) and say where")
    a = ap.parse_args(argv)

    scraper = os.path.abspath(a.scraper)
    if not os.access(scraper, os.X_OK):
        print(f"scraper not found or not executable: {scraper} (build it: cmake --build build --target scraper)")
        return 1
    # Missing tools fail the test (a CI image without them must not pass quietly).
    if a.server == "nginx" and not os.access(webservers.NGINX, os.X_OK):
        print(f"FAIL: nginx not found: run ./scripts/setup.sh (looked for {webservers.NGINX})")
        return 1
    if a.site == "pydocs" and not os.path.isfile(os.path.join(PYDOCS, "index.html")):
        print(f"FAIL: the Python docs are not installed ({PYDOCS}): run ./scripts/setup.sh (it installs "
              "python3.11-doc)")
        return 1

    # SIGTERM (a ctest timeout) unwinds like an exception: the servers are
    # stopped and the temporary directory removed by the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    c = Checks()
    work = tempfile.mkdtemp(prefix="weft-scraper-sites-")
    os.chmod(work, 0o755)  # the server may run as another user some day; it reads the site from here
    t0 = time.monotonic()
    try:
        site = os.path.join(work, "site")
        os.makedirs(site)
        os.chmod(site, 0o755)
        if a.site == "pydocs":
            # The docs at the site's root: a symbolic link per entry (the
            # servers follow them), beside a robots.txt of ours.
            for name in os.listdir(PYDOCS):
                os.symlink(os.path.join(PYDOCS, name), os.path.join(site, name))
            with open(os.path.join(site, "robots.txt"), "w") as f:
                f.write(PYDOCS_ROBOTS)
        print(f"{a.server} serving the {a.site} site from {site}", flush=True)
        with webservers.start(a.server, site) as server:
            if a.site == "generated":
                manifest = make_site.generate(site, server.base_url)
                make_site.write_manifest(manifest, os.path.join(work, "manifest.json"))
                e = expect_from_manifest(manifest)
            else:
                t = time.monotonic()
                e = expect_from_files(site, server.base_url, "/", PYDOCS_ROBOTS)
                print(f"  oracle (html.parser): {len(e.pages)} pages, {len(e.files)} other files, "
                      f"{len(e.missing)} missing, {len(e.disallowed)} disallowed, in {time.monotonic() - t:.1f} s",
                      flush=True)
            print(f"  {server.kind} on {server.base_url} (pid {server.pid}); expecting {len(e.record_urls())} records",
                  flush=True)
            full_crawl(c, scraper, work, e, server, "full crawl")
            max_pages_run(c, scraper, work, e, "--max-pages 50")
            if a.site == "generated":
                stdout_run(c, scraper, work, e, "--output -")
        if a.site == "generated":
            cli_runs(c, scraper, work)
    except webservers.ServerError as err:
        c.fail(f"starting {a.server}", str(err))
    finally:
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    secs = time.monotonic() - t0
    if c.failed:
        print(f"\n{len(c.failed)} of {len(c.failed) + c.passed} checks FAILED ({a.server}, {a.site}, {secs:.1f} s):")
        for name in c.failed:
            print(f"  - {name}")
        if not a.keep:
            print("rerun with --keep to keep the records and the site")
        return 1
    print(f"\nall {c.passed} checks passed ({a.server}, {a.site}, {secs:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
