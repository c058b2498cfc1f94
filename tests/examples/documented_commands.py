#!/usr/bin/env python3
"""Every command line the READMEs show, run against the built binaries.

README.md and examples/*/README.md show command lines; each one has an
entry in REGISTRY below, keyed by the line exactly as the README writes it
(see normalize(): a trailing `# comment` dropped, runs of blanks made one).
scripts/check-documented-commands.py fails CI when a README line has no
entry here, or an entry's line is in no README any more.

An entry is one of:

  * a test (run=...): the line is run as written, against the build given
    with --build-dir, in a fresh temporary directory as the working
    directory (and as $TMPDIR), and its output is checked, not only its
    exit code. The only changes to the line are substitutions, each named
    in the entry:
      - the program: `build/examples/X`, `./build/examples/X` and a bare
        example name (`scraper`) become <build-dir>/examples/X (where CMake
        and Meson put the examples; Meson puts one with a meson.build of its
        own, the scraper, in <build-dir>/examples/X/X);
      - an outside site (`https://example.org/`) becomes a site served on
        127.0.0.1 by the test (python3 -m http.server over a small static
        site generated in a temporary directory);
      - a fixed port in the README (`--port 8080`) becomes a free port, and
        a port printed by another program (the echo server's) becomes that
        program's port.
    Servers the line needs are started by the test, on 127.0.0.1 only, and
    stopped afterwards (by pid, also when a check fails). Servers that are
    examples themselves (echo_server, http_server, tcp_chat) are started
    from their binary, talked to with Python sockets, stopped with SIGINT
    and their exit status and summary line checked.
  * a build or install command (ci=...): cmake, ninja, meson, ctest, g++,
    export, ./scripts/*.sh. Running them here would rebuild inside a test,
    so instead the entry names the .ci/run stage that runs the line (or
    what it runs in its place, in `note`). ci=None with not_run="..." marks
    a line that no CI stage runs: this script lists those (--list), so that
    somebody adds them to .ci/run.

Besides the README lines, each example's `--help` is run: exit 0 and a
`usage: NAME ...` synopsis on stdout that names every flag the READMEs use
with that example.

Usage:
  python3 tests/examples/documented_commands.py --build-dir build [--only REGEX] [--list] [-v]

Prints one line per command (ok / FAIL / skip / xfail / ci), with the
reason and the tail of the output for a failure, and exits 1 if any failed.
Python 3 standard library only.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import pathlib
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
THIS = "tests/examples/documented_commands.py"

# ---------------------------------------------------------------- the keys


def normalize(line: str) -> str:
    """A README command line as a registry key: a trailing `# comment`
    (a `#` at the start or after a blank, outside quotes) removed and runs
    of blanks made one space."""
    out = []
    quote = None
    prev = " "
    for ch in line:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and prev in " \t":
            break
        out.append(ch)
        prev = ch
    return " ".join("".join(out).split())


# ---------------------------------------------------------------- failures


class Failure(Exception):
    """A check failed: `expected` vs `got`, for a newcomer to act on."""

    def __init__(self, expected: str, got: str = "", proc: "Optional[Proc]" = None):
        super().__init__(expected)
        self.expected = expected
        self.got = got
        self.proc = proc


class Skip(Exception):
    """The command cannot run here (a tool or a kernel feature is missing)."""


# ---------------------------------------------------------------- processes


class Proc:
    """A started program whose stdout and stderr are collected by threads,
    so that a server can be read line by line while it keeps running."""

    def __init__(self, argv: list[str], cwd: pathlib.Path, env: dict[str, str], what: str):
        self.argv = argv
        self.what = what
        self.started = time.monotonic()
        self.ended: Optional[float] = None
        try:
            self.p = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            raise Failure(f"{argv[0]} to start", f"{e}") from None
        self._out: list[str] = []
        self._err: list[str] = []
        self._cv = threading.Condition()
        self._threads = [
            threading.Thread(target=self._drain, args=(self.p.stdout, self._out), daemon=True),
            threading.Thread(target=self._drain, args=(self.p.stderr, self._err), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _drain(self, pipe, sink: list[str]) -> None:
        for raw in iter(pipe.readline, b""):
            with self._cv:
                sink.append(raw.decode("utf-8", "replace"))
                self._cv.notify_all()
        pipe.close()
        with self._cv:
            self._cv.notify_all()

    @property
    def pid(self) -> int:
        return self.p.pid

    @property
    def stdout(self) -> str:
        with self._cv:
            return "".join(self._out)

    @property
    def stderr(self) -> str:
        with self._cv:
            return "".join(self._err)

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def wait_line(self, pattern: str, timeout: float, stream: str = "stdout") -> re.Match:
        """Waits until a line of stdout (or stderr) matches `pattern`."""
        rx = re.compile(pattern)
        sink = self._out if stream == "stdout" else self._err
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cv:
            while True:
                while seen < len(sink):
                    m = rx.search(sink[seen])
                    seen += 1
                    if m:
                        return m
                if self.p.poll() is not None and not any(t.is_alive() for t in self._threads):
                    raise Failure(f"a {stream} line matching /{pattern}/",
                                  f"the program exited with status {self.p.returncode} first", self)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"a {stream} line matching /{pattern}/ within {timeout:.0f} s",
                                  "no such line yet", self)
                self._cv.wait(min(left, 0.2))

    def wait(self, timeout: float) -> int:
        """Waits for the exit; kills the program and fails past `timeout`."""
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure(f"the program to finish within {timeout:.0f} s",
                          "still running: killed (SIGKILL)", self) from None
        for t in self._threads:
            t.join(5)
        self.ended = self.ended or time.monotonic()
        return rc

    def send(self, sig: int) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)

    def kill(self) -> None:
        """SIGKILL to the program's process group: it and whatever it
        started (worker processes, a wrapper's child), also when the
        program itself has exited already; the group's id is its pid."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.p.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.p.wait(timeout=10)
        for t in self._threads:
            t.join(2)
        self.ended = self.ended or time.monotonic()


# ---------------------------------------------------------------- web servers

try:  # tests/examples/webservers.py, when it is there
    sys.path.insert(0, str(HERE))
    sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
    from webservers import serve_python  # type: ignore  # noqa: E402
except ImportError:  # the minimal python3 -m http.server part of it, inline

    @contextlib.contextmanager
    def serve_python(directory):  # type: ignore[no-redef]
        """Serves `directory` with `python3 -m http.server` on 127.0.0.1 (a
        free port) and yields its base URL, http://127.0.0.1:PORT."""
        p = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(directory)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        lines: "queue.Queue[bytes]" = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in iter(p.stdout.readline, b"")], daemon=True).start()
        try:
            try:
                first = lines.get(timeout=20).decode()
            except queue.Empty:
                raise RuntimeError("python3 -m http.server printed nothing in 20 s") from None
            m = re.search(r"port (\d+)", first)
            if not m:
                raise RuntimeError(f"python3 -m http.server said {first!r}")
            yield f"http://127.0.0.1:{m.group(1)}"
        finally:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)


# ---------------------------------------------------------------- context


# Examples built only when an optional dependency is found: their lines are
# skipped (not failed) in a build without them.
OPTIONAL_EXAMPLES = {"cluster_primes": "built only when MPI is found (weft::cluster; Debian: libopenmpi-dev)",
                     "redis_counter": "built only when hiredis is found (weft::redis; Debian: libhiredis-dev)"}


class Context:
    """What one entry's run gets: the build, a temporary working directory,
    the programs it started, and values ({site}, {port}...) for the
    substitutions in its command line."""

    def __init__(self, build_dir: pathlib.Path, entry: "Entry", key: str):
        self.build_dir = build_dir
        self.entry = entry
        self.key = key
        self.stack = contextlib.ExitStack()
        self.tmp = pathlib.Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="weft-doc-cmd-")))
        self.cwd = self.tmp / "cwd"
        self.cwd.mkdir()
        (self.tmp / "tmp").mkdir()
        self.vars: dict[str, str] = {}
        self.procs: list[Proc] = []
        self.last: Optional[Proc] = None

    def close(self) -> None:
        for p in self.procs:
            p.kill()
        self.stack.close()

    def exe(self, name: str) -> str:
        path = self.build_dir / "examples" / name
        if path.is_dir():  # Meson builds an example with a meson.build of its own in its folder
            path = path / name
        if not path.exists() and name in OPTIONAL_EXAMPLES:
            raise Skip(f"{name} is not built: {OPTIONAL_EXAMPLES[name]}")
        if not path.exists():
            raise Failure(f"the example binary {path}",
                          f"it does not exist: build it first (cmake --build {self.build_dir} --target {name})")
        return str(path)

    def program(self, word: str) -> str:
        m = re.fullmatch(r"(?:\./)?build/examples/([\w-]+)", word)
        if m:
            return self.exe(m.group(1))
        if word in example_names():
            return self.exe(word)
        if shutil.which(word):
            return word
        raise Skip(f"{word} is not installed")

    def env(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        env = dict(os.environ)
        env["TMPDIR"] = str(self.tmp / "tmp")
        env.update(extra or {})
        return env

    def argv(self, line: Optional[str] = None, subst: Optional[dict[str, str]] = None):
        """The command line as argv and environment: VAR=value prefixes go
        to the environment, the program to the build, and each token that
        is a key of `subst` to its value, formatted with self.vars."""
        words = shlex.split(line or self.key)
        extra = {}
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            k, v = words.pop(0).split("=", 1)
            extra[k] = v
        subst = subst or {}
        words = [subst[w].format(**self.vars) if w in subst else w for w in words]
        words[0] = self.program(words[0])
        return words, self.env(extra)

    def start(self, argv: list[str], env: Optional[dict[str, str]] = None, what: str = "") -> Proc:
        p = Proc(argv, self.cwd, env or self.env(), what or " ".join(argv))
        self.procs.append(p)
        self.last = p
        return p

    def run(self, argv: list[str], env: Optional[dict[str, str]] = None, timeout: Optional[float] = None) -> Proc:
        p = self.start(argv, env)
        p.wait(timeout or self.entry.timeout)
        return p

    def serve_site(self, name: str, files: dict[str, str | bytes]) -> str:
        """Writes `files` (path -> content) into a new folder, serves it
        with python3 -m http.server on 127.0.0.1, sets self.vars[name] to
        the base URL (no trailing slash) and [name + '_port'] to its port."""
        root = self.tmp / f"site-{name}"
        write_files(root, files)
        url = self.stack.enter_context(serve_python(str(root))).rstrip("/")
        self.vars[name] = url
        self.vars[name + "_port"] = url.rsplit(":", 1)[1]
        return url

    def free_port(self, name: str = "port") -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.vars[name] = str(port)
        return port


def write_files(root: pathlib.Path, files: dict[str, str | bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


# ---------------------------------------------------------------- checks


def expect(cond: bool, expected: str, got: str = "", proc: Optional[Proc] = None) -> None:
    if not cond:
        raise Failure(expected, got, proc)


def expect_rc(p: Proc, rc: int = 0) -> None:
    got = p.p.returncode
    if got != rc:
        how = f"exit status {got}"
        if got is not None and got < 0:
            how = f"killed by signal {-got} ({signal.Signals(-got).name})"
        raise Failure(f"exit status {rc}", how, p)


def expect_match(p: Proc, pattern: str, stream: str = "stdout", what: str = "") -> re.Match:
    text = p.stdout if stream == "stdout" else p.stderr
    m = re.search(pattern, text, re.M)
    if not m:
        raise Failure(what or f"{stream} to contain a line matching /{pattern}/", "no such line", p)
    return m


def expect_no_match(p: Proc, pattern: str, stream: str = "stdout", what: str = "") -> None:
    text = p.stdout if stream == "stdout" else p.stderr
    m = re.search(pattern, text, re.M)
    if m:
        line = text[text.rfind("\n", 0, m.start()) + 1:text.find("\n", m.end())]
        raise Failure(what or f"no {stream} line matching /{pattern}/", f"{line.strip()!r}", p)


def check_output(p: Proc, stdout: Iterable[str] = (), stderr: Iterable[str] = (),
                 no_stdout: Iterable[str] = (), no_stderr: Iterable[str] = ()) -> None:
    for rx in stdout:
        expect_match(p, rx, "stdout")
    for rx in stderr:
        expect_match(p, rx, "stderr")
    for rx in no_stdout:
        expect_no_match(p, rx, "stdout")
    for rx in no_stderr:
        expect_no_match(p, rx, "stderr")


def json_lines(text: str, where: str, p: Optional[Proc] = None) -> list[dict]:
    """Parses JSON Lines: every non-empty line one JSON object."""
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            raise Failure(f"{where}: one JSON object a line (JSON Lines)", f"line {n}: {e}: {line[:200]!r}", p)
        expect(isinstance(r, dict), f"{where}: one JSON object a line", f"line {n} is {type(r).__name__}", p)
        records.append(r)
    return records


# ---------------------------------------------------------------- entries


@dataclass
class Entry:
    """One documented command line (or several spellings of the same one,
    e.g. `build/examples/scraper X` in README.md and `scraper X` in the
    scraper's README, which run as one test)."""

    commands: tuple[str, ...]            # the keys, as normalize() makes them
    readmes: tuple[str, ...]             # where the lines are shown (repo-relative)
    run: Optional[Callable[[Context], None]] = None
    timeout: float = 60                  # seconds, for each program the entry runs
    ci: Optional[str] = None             # build/install line: the .ci/run stage that runs it
    not_run: Optional[str] = None        # build/install line that no stage runs: what is missing
    note: str = ""                       # how CI runs it, when not exactly as written
    inline: bool = False                 # shown in `inline code` in prose, not in a code block
    help_of: Optional[str] = None        # the --help check of this example (not a README line)
    known_failure: Optional[str] = None  # fails today for this reason: reported as xfail

    @property
    def key(self) -> str:
        return self.commands[0]

    @property
    def kind(self) -> str:
        if self.run:
            return "test"
        return "ci" if self.ci else "not run"


REGISTRY: list[Entry] = []


def _keys(commands) -> tuple[str, ...]:
    if isinstance(commands, str):
        commands = (commands,)
    return tuple(normalize(c) for c in commands)


def _readmes(readmes) -> tuple[str, ...]:
    return (readmes,) if isinstance(readmes, str) else tuple(readmes)


def test(commands, readmes, timeout: float = 60, known_failure: Optional[str] = None, inline: bool = False):
    """Decorator: registers the function as the test of `commands`."""

    def register(fn: Callable[[Context], None]):
        REGISTRY.append(Entry(_keys(commands), _readmes(readmes), run=fn, timeout=timeout,
                              known_failure=known_failure, inline=inline))
        return fn

    return register


def simple(commands, readmes, timeout: float = 60, rc: int = 0, stdout: Iterable[str] = (),
           stderr: Iterable[str] = (), no_stdout: Iterable[str] = (), no_stderr: Iterable[str] = (),
           then: Optional[Callable[[Context, Proc], None]] = None, setup: Optional[Callable[[Context], None]] = None,
           subst: Optional[dict[str, str]] = None, known_failure: Optional[str] = None, inline: bool = False) -> None:
    """A test that runs the line as written (plus `subst`), waits for it
    and checks the exit status and regexes (re.M) on stdout and stderr."""

    def fn(ctx: Context) -> None:
        if setup:
            setup(ctx)
        argv, env = ctx.argv(subst=subst)
        p = ctx.run(argv, env)
        expect_rc(p, rc)
        check_output(p, stdout, stderr, no_stdout, no_stderr)
        if then:
            then(ctx, p)

    test(commands, readmes, timeout, known_failure, inline)(fn)


def ci(commands, readmes, stage: Optional[str], note: str = "", not_run: Optional[str] = None) -> None:
    """A build/install line: `stage` is the .ci/run stage that runs it."""
    REGISTRY.append(Entry(_keys(commands), _readmes(readmes), ci=stage, note=note, not_run=not_run))


def example_names() -> list[str]:
    text = (REPO / "examples" / "examples.txt").read_text()
    return [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]


TOP = "README.md"


def ex(name: str) -> str:
    return f"examples/{name}/README.md"


# ================================================================ README.md:
# build, install and CI lines (not run here; see .ci/run and scripts/)

ci("./scripts/demo.sh", TOP, "(a2)",
   note="quick_start() runs it as is, after stage (a) built build/, and checks the demo crawl's summary")
ci("./scripts/test.sh", TOP, "(a)", note="cmake_gcc() runs it as is")
ci("cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build scraper", TOP, "(a2)",
   note="quick_start() runs it as is, on the build/ that stage (a) configured")
ci("cmake -S . -B build -G Ninja", TOP, "(a)",
   note="scripts/test.sh -> weft_configure build: the same line plus -DCMAKE_BUILD_TYPE=Release "
        "-DCMAKE_CXX_FLAGS_RELEASE='-O2 -g' -DWEFT_WERROR=ON and the WEFT_BUILD_* options")
ci("cmake --build build -j2", TOP, "(a)", note="scripts/test.sh runs it as is")
ci("ctest --test-dir build -j2", TOP, "(a)", note="scripts/test.sh runs it with --output-on-failure")
ci("meson setup build-meson", TOP, "(b)",
   note="as `CXX=clang++ meson setup build-ci-meson -Dwerror=true -Ddebug=false` (another folder)")
ci("meson compile -C build-meson", TOP, "(b)", note="as `meson compile -C build-ci-meson -j 2`")
ci("meson test -C build-meson", TOP, "(b)",
   note="as `meson test -C build-ci-meson --print-errorlogs --num-processes 2`")
ci("cmake -S . -B build-asan -G Ninja -DWEFT_SANITIZE=address -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=OFF",
   TOP, "(c)", note="sanitizer_build build-ci-asan address: the same options plus g++, RelWithDebInfo at "
                    "-O1 -g1 -foptimize-sibling-calls, WEFT_WERROR=OFF, in build-ci-asan")
ci("cmake --build build-asan -j2 && ctest --test-dir build-asan -j2", TOP, "(c)",
   note="as cmake --build build-ci-asan -j2, then ctest --test-dir build-ci-asan --output-on-failure -j2 "
        "with ASAN_OPTIONS=detect_leaks=1")
ci("cmake -S . -B build-tsan -G Ninja -DWEFT_SANITIZE=thread -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=OFF",
   TOP, "(d)", note="sanitizer_build build-ci-tsan thread (as for (c), in build-ci-tsan)")
ci('cmake --build build-tsan -j2 && ctest --test-dir build-tsan -j2 -L "runtime|io|http|ipc|redis|cluster"', TOP,
   "(d)", note="builds only the test programs of those labels (and the cluster tests' helpers) and runs ctest "
               "-L \"runtime|io|http|ipc|redis|cluster\", the README's label set")
ci("export PKG_CONFIG_PATH=/opt/weft/lib/pkgconfig", TOP, "(e)",
   note="consumer(): PKG_CONFIG_PATH=<temp prefix>/lib/pkgconfig for pkg-config, after cmake --install build "
        "--prefix <temp prefix> (not /opt/weft)")
ci("g++ -std=c++20 app.cpp $(pkg-config --cflags --libs --static weft)", TOP, "(e)",
   note="consumer(): the README's ```cpp example compiled with g++ -std=c++20 and the flags of "
        "pkg-config --cflags --libs --static weft, then run (it must print 50)")


# ================================================================ the scraper
# README.md and examples/scraper/README.md. A "real site" is a small static
# site generated here and served by python3 -m http.server on 127.0.0.1.

SCRAPER = ex("scraper")

# The site for `scraper https://example.org/ ...`: 7 fetchable URLs (6 HTML
# pages and a text file), one disallowed by robots.txt.
SITE_PAGES = {
    "index.html": ("weft test site", ["p1.html", "p2.html", "/private/hidden.html"]),
    "p1.html": ("Page one", ["/", "p3.html"]),
    "p2.html": ("Page two", ["p3.html", "p4.html"]),
    "p3.html": ("Page three", ["p5.html"]),
    "p4.html": ("Page four", ["notes.txt"]),
    "p5.html": ("Page five", ["p1.html"]),
    "private/hidden.html": ("Hidden", []),
}
SITE_DEPTH = {"/": 0, "/p1.html": 1, "/p2.html": 1, "/p3.html": 2, "/p4.html": 2, "/p5.html": 3, "/notes.txt": 3}


def html_page(title: str, links: list[str], words: str = "") -> str:
    body = " ".join(f'<a href="{h}">link {i}</a>' for i, h in enumerate(links))
    text = words or f"{title} of the weft documentation test site, a page about threads and looms."
    return (f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
            f"<body><h1>{title}</h1><p>{text}</p><p>{body}</p></body></html>\n")


def static_site() -> dict[str, str]:
    files = {name: html_page(t, links) for name, (t, links) in SITE_PAGES.items()}
    files["notes.txt"] = "plain text, fetched but not parsed\n"
    files["robots.txt"] = "User-agent: *\nDisallow: /private/\n"
    return files


def scraper_summary_pages(p: Proc, n: int) -> None:
    """The summary on stderr states the page count."""
    expect_match(p, rf"(^|\s){n} pages\b|\bpages\W+{n}\b", "stderr",
                 f"the summary on stderr to state the page count ({n} pages)")


def check_site_records(ctx: Context, p: Proc, records: list[dict], where: str) -> None:
    base = ctx.vars["site"]
    urls = sorted(r.get("url", "?") for r in records)
    want = sorted(base + path for path in SITE_DEPTH)
    expect(urls == want, f"{where}: one record per page of the site: {want}", f"{urls}", p)
    for r in records:
        path = r["url"][len(base):]
        expect(r.get("status") == 200 and r.get("error") is None,
               f"{where}: {path} fetched with status 200 and no error",
               f"status {r.get('status')}, error {r.get('error')!r}", p)
        expect(r.get("depth") == SITE_DEPTH[path], f"{where}: {path} at depth {SITE_DEPTH[path]}",
               f"depth {r.get('depth')}", p)
        if path.endswith(".txt"):
            expect(r.get("title") is None, f"{where}: {path} (text/plain) not parsed: title null",
                   f"title {r.get('title')!r}", p)
        else:
            page = "index.html" if path == "/" else path[1:]
            title = SITE_PAGES[page][0]
            expect(r.get("title") == title, f"{where}: {path} has title {title!r}", f"{r.get('title')!r}", p)
            expect(isinstance(r.get("word_count"), int) and r["word_count"] > 5,
                   f"{where}: {path} has its words counted", f"word_count {r.get('word_count')!r}", p)


def run_scraper_on_site(ctx: Context) -> None:
    """`scraper https://example.org/ --max-pages 200 --delay 500ms --output
    pages.jsonl`, with the site served here."""
    ctx.serve_site("site", static_site())
    argv, env = ctx.argv(subst={"https://example.org/": "{site}/"})
    p = ctx.run(argv, env)
    expect_rc(p)
    out = ctx.cwd / "pages.jsonl"
    expect(out.is_file(), "the records in pages.jsonl in the working directory (--output pages.jsonl)",
           "no such file", p)
    records = json_lines(out.read_text(), "pages.jsonl", p)
    check_site_records(ctx, p, records, "pages.jsonl")
    expect_no_match(p, r"^\{", "stdout", "no records on stdout with --output pages.jsonl")
    scraper_summary_pages(p, len(SITE_DEPTH))
    # --delay 500ms: requests to the one host at least 500 ms apart
    # (robots.txt and 7 pages: 7 gaps; 3 s allows for timer slack).
    expect(p.seconds >= 3.0, "--delay 500ms to space the 8 requests to the site at least 0.5 s apart "
                             "(a run of 3 s or more)", f"the crawl took {p.seconds:.2f} s", p)


test(("build/examples/scraper https://example.org/ --max-pages 200 --delay 500ms --output pages.jsonl",
      "scraper https://example.org/ --max-pages 200 --delay 500ms --output pages.jsonl"), (TOP, SCRAPER),
     timeout=60)(run_scraper_on_site)


def run_scraper_state(ctx: Context) -> None:
    """`scraper https://example.org/ --state crawl.db --output pages.jsonl`,
    run twice with the site served here: the first run crawls the site, the
    second resumes a finished crawl: nothing fetched, pages.jsonl kept."""
    ctx.serve_site("site", static_site())
    argv, env = ctx.argv(subst={"https://example.org/": "{site}/"})
    p = ctx.run(argv, env)
    expect_rc(p)
    out, db = ctx.cwd / "pages.jsonl", ctx.cwd / "crawl.db"
    expect(out.is_file() and db.is_file(), "pages.jsonl and crawl.db in the working directory", "missing", p)
    first = out.read_text()
    check_site_records(ctx, p, json_lines(first, "pages.jsonl", p), "pages.jsonl")
    scraper_summary_pages(p, len(SITE_DEPTH))
    p = ctx.run(argv, env)
    expect_rc(p)
    expect_match(p, r"resuming the crawl in 'crawl\.db': 7 records already in 'pages\.jsonl'", "stderr")
    scraper_summary_pages(p, 0)
    expect(out.read_text() == first, "the second run (a finished crawl resumed) to leave pages.jsonl as it was",
           "pages.jsonl changed", p)


test(("scraper https://example.org/ --state crawl.db --output pages.jsonl",), (SCRAPER,),
     timeout=60)(run_scraper_state)


def run_scraper_demo_to_files(ctx: Context) -> None:
    """`scraper --output pages.jsonl --stats stats.json`: the demo site."""
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    out, stats_file = ctx.cwd / "pages.jsonl", ctx.cwd / "stats.json"
    expect(out.is_file(), "the records in pages.jsonl in the working directory", "no such file", p)
    expect(stats_file.is_file(), "the statistics in stats.json in the working directory", "no such file", p)
    records = json_lines(out.read_text(), "pages.jsonl", p)
    try:
        stats = json.loads(stats_file.read_text())
    except ValueError as e:
        raise Failure("stats.json: one JSON object", f"{e}", p) from None
    expect(isinstance(stats, dict) and isinstance(stats.get("pages"), int), "stats.json: an object with \"pages\"",
           stats_file.read_text()[:200], p)
    expect(len(records) == stats["pages"] and len(records) >= 1000,
           "pages.jsonl: a record per fetched page of the 2,000-page demo site, as many as stats.json's \"pages\"",
           f"{len(records)} records, stats.json says {stats['pages']}", p)
    expect(all("url" in r and "status" in r and "error" in r for r in records),
           "every record with url, status and error", "a record without them", p)
    scraper_summary_pages(p, stats["pages"])
    expect_match(p, r"demo site, each kind of trouble met and handled", "stderr")
    expect_no_match(p, r"MISMATCH", "stderr", "every count to match the demo site's manifest")


test(("build/examples/scraper --output pages.jsonl --stats stats.json",
      "scraper --output pages.jsonl --stats stats.json"), (TOP, SCRAPER), timeout=120)(run_scraper_demo_to_files)


@test("scraper", SCRAPER, timeout=120)
def run_scraper_demo(ctx: Context) -> None:
    """`scraper`: the demo site, records on stdout (not a terminal)."""
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    records = json_lines(p.stdout, "stdout", p)
    expect(len(records) >= 1000, "a record on stdout per fetched page of the 2,000-page demo site",
           f"{len(records)} records", p)
    scraper_summary_pages(p, len(records))
    expect_match(p, r"demo site, each kind of trouble met and handled", "stderr")
    expect_no_match(p, r"MISMATCH", "stderr", "every count to match the demo site's manifest")


@test("scraper --seeds urls.txt --all-hosts --max-depth 1", SCRAPER, timeout=60)
def run_scraper_seeds(ctx: Context) -> None:
    """Two sites on two ports (two origins): A's front page links to B's;
    with --all-hosts B is crawled too, with --max-depth 1 only one hop."""
    ctx.serve_site("b", {"index.html": html_page("Site B", ["b1.html"]), "b1.html": html_page("B one", [])})
    a = ctx.serve_site("a", {})
    b = ctx.vars["b"]
    write_files(ctx.tmp / "site-a", {
        "index.html": html_page("Site A", ["a1.html", b + "/"]),
        "a1.html": html_page("A one", ["a2.html"]),
        "a2.html": html_page("A two", []),
    })
    (ctx.cwd / "urls.txt").write_text(f"# the seeds\n\n{a}/\n")
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    records = json_lines(p.stdout, "stdout", p)
    got = sorted((r.get("url"), r.get("depth"), r.get("status")) for r in records)
    want = sorted([(a + "/", 0, 200), (a + "/a1.html", 1, 200), (b + "/", 1, 200)])
    expect(got == want, "records (url, depth, status) for the seed in urls.txt, its page on the same host and the "
                        f"other host's page it links to (--all-hosts), nothing deeper (--max-depth 1): {want}",
           f"{got}", p)
    scraper_summary_pages(p, 3)


def run_scraper_autothrottle(ctx: Context) -> None:
    """`scraper https://example.org/ --target-concurrency 2 --stats stats.json
    --output pages.jsonl`: autothrottle is on for a real site, and
    stats.json shows the site's state."""
    ctx.serve_site("site", static_site())
    argv, env = ctx.argv(subst={"https://example.org/": "{site}/"})
    p = ctx.run(argv, env)
    expect_rc(p)
    records = json_lines((ctx.cwd / "pages.jsonl").read_text(), "pages.jsonl", p)
    check_site_records(ctx, p, records, "pages.jsonl")
    try:
        stats = json.loads((ctx.cwd / "stats.json").read_text())
    except (OSError, ValueError) as e:
        raise Failure("stats.json: one JSON object", f"{e}", p) from None
    site = ctx.vars["site"]
    hosts = stats.get("hosts") if isinstance(stats, dict) else None
    expect(isinstance(hosts, dict) and list(hosts) == [site],
           f"stats.json: \"hosts\" with the site's origin {site} alone (autothrottle on for a real site)",
           f"{hosts!r}", p)
    h = hosts[site]
    expect(all(isinstance(h.get(k), (int, float)) and h[k] >= 0
               for k in ("delay_ms", "min_delay_ms", "max_delay_ms", "latency_ms")),
           "the host's delay_ms, min_delay_ms, max_delay_ms and latency_ms as numbers", f"{h!r}", p)
    expect(h.get("requests") == len(SITE_DEPTH) + 1 and h.get("backoffs") == 0,
           f"requests {len(SITE_DEPTH) + 1} (robots.txt and the pages) and no backoff", f"{h!r}", p)
    expect(h["min_delay_ms"] <= h["delay_ms"] <= h["max_delay_ms"], "min_delay_ms <= delay_ms <= max_delay_ms",
           f"{h!r}", p)
    expect_match(p, r"^autothrottle: 1 host, slowest " + re.escape(site) + r" at \d+ ms", "stderr",
                 "the summary's autothrottle line naming the site")
    scraper_summary_pages(p, len(SITE_DEPTH))


test("scraper https://example.org/ --target-concurrency 2 --stats stats.json --output pages.jsonl", SCRAPER,
     timeout=60)(run_scraper_autothrottle)


@test("scraper --max-pages 20 --extract title=//title --css heading=h1 --css 'next=p a::attr(href)' -o -", SCRAPER,
      timeout=60)
def run_scraper_extract(ctx: Context) -> None:
    """--extract and --css on the demo site: each parsed page's record has
    "fields", every value a list (the title, the <h1>, the hrefs of the
    links in paragraphs); records of pages not parsed have none."""
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    records = json_lines(p.stdout, "stdout", p)
    expect(len(records) == 20, "20 records on stdout (--max-pages 20, -o -)", f"{len(records)} records", p)
    pages = 0
    for r in records:
        path = "/" + r.get("url", "").split("/", 3)[-1] if r.get("url", "").count("/") >= 3 else "/"
        f = r.get("fields")
        if r.get("title") is None:
            expect(f is None, f"{path}: not parsed, so no \"fields\"", f"{f!r}", p)
            continue
        expect(isinstance(f, dict) and list(f) == ["title", "heading", "next"],
               f"{path}: \"fields\" with title, heading and next, in the order of the options", f"{f!r}", p)
        expect(f["title"] == [r["title"]], f"{path}: fields.title == [title]", f"{f['title']!r} vs {r['title']!r}", p)
        expect(all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in f.values()),
               f"{path}: every field a list of strings", f"{f!r}", p)
        if path.startswith("/page/"):
            pages += 1
            # The demo's pages repeat their title in <h1> and link from <p>.
            expect(f["heading"] == [r["title"]], f"{path}: fields.heading == [title] (the page's <h1>)",
                   f"{f['heading']!r}", p)
            expect(len(f["next"]) >= 5 and all(not s.startswith("http") or s in r["links"] for s in f["next"]),
                   f"{path}: fields.next lists the hrefs of the page's paragraph links (5 or more)",
                   f"{f['next']!r}", p)
    expect(pages >= 10, "10 or more /page/ records among the 20", f"{pages}", p)
    scraper_summary_pages(p, 20)
    # A bad rule is a usage error before anything is fetched, naming the
    # option, the rule and the position (the section's last paragraph).
    (ctx.cwd / "rules.json").write_text('{"extract": {"t": "//title"}, "fields": {}}')
    for bad, want in [(["--css", "heading=h1["], r'--css: rule "heading": CSS selector "h1\[": at position 4'),
                      (["--extract", "t=//a["], r'--extract: rule "t": XPath "//a\[": at position 5'),
                      (["--deny", "a("], r"--deny 'a\(': not a valid regular expression: missing \)"),
                      (["--rules", "rules.json"], r'rules file .rules.json.: unknown key "fields"')]:
        q = ctx.run([argv[0], *bad, "-o", "-"], env)
        expect_rc(q, 2)
        expect_match(q, want, "stderr", f"{' '.join(bad)}: a usage error naming the rule and what is wrong")
        expect_no_match(q, r"^\{", "stdout", f"{' '.join(bad)}: nothing fetched")


simple("scraper --quick", SCRAPER, timeout=90,
       stdout=[r"^scraper --quick: \d+ pages, every count matches the demo site's manifest$"],
       no_stderr=[r"MISMATCH"])


# ================================================================ parallel_download

PD = ex("parallel_download")


def pd_files(n: int = 20) -> dict[str, str]:
    return {f"f{i:02d}.txt": "x" * (100 * (i + 1)) for i in range(n)}


def check_pd_file_list(ctx: Context, n: int = 20) -> None:
    site = ctx.serve_site("site", pd_files(n))
    lines = ["# files of the test site", ""] + [f"{site}/f{i:02d}.txt" for i in range(n)]
    (ctx.cwd / "urls.txt").write_text("\n".join(lines) + "\n")
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    for i in range(n):
        expect_match(p, rf"^200\s+{100 * (i + 1)} B\s+[\d.]+ ms\s+{re.escape(site)}/f{i:02d}\.txt$", "stdout",
                     f"a line `200 {100 * (i + 1)} B ... {site}/f{i:02d}.txt` for each URL of urls.txt")
    expect_match(p, rf"^{n} URLs: {n} ok, 0 HTTP errors \(status >= 400\), 0 failed;", "stdout")


test("./build/examples/parallel_download --concurrency 16 --file urls.txt", TOP)(check_pd_file_list)
test("./build/examples/parallel_download --concurrency 16 --timeout 5s --file urls.txt", PD)(check_pd_file_list)


@test("./build/examples/parallel_download https://example.com/ https://www.iana.org/ http://localhost:8080/x", PD)
def run_pd_urls(ctx: Context) -> None:
    """Two outside sites become two local ones; localhost:8080 becomes
    localhost:<the first site's port>, where /x is a 404."""
    one = ctx.serve_site("one", {"index.html": html_page("one", [])})
    two = ctx.serve_site("two", {"index.html": html_page("two", [])})
    argv, env = ctx.argv(subst={"https://example.com/": "{one}/", "https://www.iana.org/": "{two}/",
                                "http://localhost:8080/x": "http://localhost:{one_port}/x"})
    p = ctx.run(argv, env)
    expect_rc(p, 0)
    expect_match(p, rf"^200\s+\d+ B\s+[\d.]+ ms\s+{re.escape(one)}/$", "stdout")
    expect_match(p, rf"^200\s+\d+ B\s+[\d.]+ ms\s+{re.escape(two)}/$", "stdout")
    expect_match(p, rf"^404\s+\d+ B\s+[\d.]+ ms\s+http://localhost:{ctx.vars['one_port']}/x$", "stdout")
    expect_match(p, r"^3 URLs: 2 ok, 1 HTTP errors \(status >= 400\), 0 failed;", "stdout")


simple("./build/examples/parallel_download --quick", (TOP, PD), timeout=60,
       stdout=[r"^20 URLs: 18 ok, 1 HTTP errors \(status >= 400\), 1 failed;", r"^self-test passed$"])


# ================================================================ process pool examples

PRIMES, PI, JOBS, SHARED = ex("primes"), ex("monte_carlo_pi"), ex("job_queue"), ex("shared_counter")


def primes_checks(count: int, workers: int):
    def then(ctx: Context, p: Proc) -> None:
        expect_match(p, rf"^{6 + count} numbers, {workers} worker processes$", "stdout")
        verdicts = re.findall(r"^\s*\d+ is (prime|not prime: \d+ x \d+)$", p.stdout, re.M)
        expect(len(verdicts) == 6 + count, f"a verdict line for each of the {6 + count} numbers",
               f"{len(verdicts)} verdict lines", p)
        # The documentation's list: 1099726899285419 is the composite one.
        expect_match(p, r"^\s*1099726899285419 is not prime: 3306091 x 332636609$", "stdout")
        expect_match(p, r"^serial:\s+[\d.]+ s$", "stdout")
        expect_match(p, rf"^pool:\s+[\d.]+ s\s+\(process_pool::map, {workers} workers\)$", "stdout")
        expect_match(p, r"^speed-up:\s+[\d.]+x", "stdout")

    return then


def cores() -> int:
    return os.cpu_count() or 1


def run_primes_default(ctx: Context) -> None:
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    primes_checks(10, cores())(ctx, p)


test("./build/examples/primes", PRIMES, timeout=90)(run_primes_default)
simple("./build/examples/primes --workers 4", TOP, timeout=90, then=primes_checks(10, 4))
simple("./build/examples/primes --workers 8 --count 40", PRIMES, timeout=120, then=primes_checks(40, 8))
simple("./build/examples/primes --quick", PRIMES, timeout=60,
       stdout=[r"^8 numbers, \d+ worker processes$", r"^speed-up:"], no_stderr=[r"wrong answer"])


def pi_checks(samples: int, tasks: int, max_workers: int):
    def then(ctx: Context, p: Proc) -> None:
        expect_match(p, rf"^{samples} samples in {tasks} tasks, 1\.\.{max_workers} worker processes", "stdout")
        rows = re.findall(r"^\s*(\d+)\s+[\d.]+\s+[\d.]+x\s+(3\.\d{10})\s+[\d.e+-]+$", p.stdout, re.M)
        expect([int(w) for w, _ in rows] == list(range(1, max_workers + 1)),
               f"a table row for 1..{max_workers} workers", f"rows for {[w for w, _ in rows]}", p)
        expect(len({e for _, e in rows}) == 1, "the same estimate in every row",
               f"{[e for _, e in rows]}", p)
        expect(abs(float(rows[0][1]) - 3.14159265) < 0.01, "an estimate of pi", rows[0][1], p)
        expect_match(p, rf"^expected error for {samples} samples: about", "stdout")

    return then


simple("./build/examples/monte_carlo_pi", PI, timeout=150, then=lambda c, p: pi_checks(400000000, 64, cores())(c, p))
simple("./build/examples/monte_carlo_pi --samples 1000000000", TOP, timeout=240,
       then=lambda c, p: pi_checks(1000000000, 64, cores())(c, p))
simple("./build/examples/monte_carlo_pi --samples 100000000 --workers 8 --tasks 256", PI, timeout=120,
       then=pi_checks(100000000, 256, 8))
simple("./build/examples/monte_carlo_pi --quick", PI, timeout=60, then=pi_checks(2000000, 64, min(2, cores())))


def jobs_checks(jobs: int, workers: int, timeout_ms: int, seed: int):
    def then(ctx: Context, p: Proc) -> None:
        expect_match(p, rf"^{jobs} jobs on {workers} worker processes, timeout {timeout_ms} ms per job "
                        rf"\(seed {seed}\)$", "stdout")
        lines = re.findall(r"^\s*[\d.]+ s\s+job\s+\d+\s", p.stdout, re.M)
        expect(len(lines) == jobs, f"a line for each of the {jobs} jobs", f"{len(lines)}", p)
        for what in (r"crashed: worker \d+ killed by signal 11 \(SIGSEGV", r"crashed: worker \d+ killed by signal 6",
                     r"crashed: worker \d+ exited with 3", r"raised std::runtime_error", r"timed out: "):
            expect_match(p, what, "stdout", f"a job that {what.split(':')[0]}s reported as such (/{what}/)")
        expect_no_match(p, r"NOT AS PLANNED", "stdout")
        expect_match(p, rf"\d+ of {workers} alive at the end$", "stdout",
                     f"the pool to have its {workers} workers back at the end")
        expect_match(p, r"^total [\d.]+ s; 0 job\(s\) not as planned$", "stdout")

    return then


simple("./build/examples/job_queue", (TOP, JOBS), timeout=60, then=jobs_checks(16, 4, 1500, 7))
simple("./build/examples/job_queue --jobs 40 --workers 8 --seed 3", JOBS, timeout=90, then=jobs_checks(40, 8, 1500, 3))
simple("./build/examples/job_queue --quick", JOBS, timeout=60, then=jobs_checks(8, 4, 600, 7))


def shared_checks(workers: int, increments: int):
    def then(ctx: Context, p: Proc) -> None:
        total = workers * increments
        expect_match(p, rf"^{workers} worker processes x {increments} increments = {total} expected$", "stdout")
        expect_match(p, r"^unsafe_ref\(\):\s+\d+\s+\(\d+ updates lost", "stdout")
        expect_match(p, rf"^ipc::mutex:\s+{total}\s+\(0 updates lost", "stdout")
        expect_match(p, rf"^fetch_add:\s+{total}\s+\(0 updates lost", "stdout")

    return then


simple("./build/examples/shared_counter", SHARED, timeout=90, then=shared_checks(4, 1000000))
simple("./build/examples/shared_counter 8 200000", SHARED, timeout=90, then=shared_checks(8, 200000))

TOUR = ex("process_tour")
simple("./build/examples/process_tour pipe", (TOP, TOUR), timeout=60,
       stdout=[r"^== pipe$", r"^pong 1 for ping 1$", r"^pong 3 for ping 3$"], no_stdout=[r"^== greeter$"])
simple("./build/examples/process_tour greeter", TOUR, timeout=60,
       stdout=[r"^Process \d+: Hello Harry!$", r"^Process \d+: Hello David!$"])
simple("./build/examples/process_tour", TOUR, timeout=120,
       stdout=[r"^== event-workers$", r"^cubes: 1 8 27 64 125 216$", r"^total 55\.0, numbers 1 4 9 16 25$",
               r"^Worker 2 shutting down$"])


# ================================================================ cluster_primes (mpirun)

CLUSTER_PRIMES = ex("cluster_primes")
# Open MPI refuses to run as root without --allow-run-as-root, and 4 ranks
# on a smaller machine without --oversubscribe: added after `mpirun`, the
# line's only change besides the program's path (and a hostfile written
# for the --hostfile line).
MPI_TEST_FLAGS = ["--allow-run-as-root", "--oversubscribe"]


def mpirun_line(hostfile: bool = False, count: int = 10, workers: Optional[int] = None):
    def fn(ctx: Context) -> None:
        mpirun = shutil.which("mpirun")
        if not mpirun:
            raise Skip("mpirun is not installed (Debian: openmpi-bin)")
        words = shlex.split(ctx.key)
        words = [ctx.exe("cluster_primes") if w == "./cluster_primes" else w for w in words]
        words = [mpirun] + MPI_TEST_FLAGS + words[1:]
        if hostfile:
            (ctx.cwd / "hosts").write_text("localhost slots=4\n")
        p = ctx.run(words, ctx.env())
        expect_rc(p)
        quick = "--quick" in words
        n = 8 if quick else 6 + count
        w = rf"{3 * workers}" if workers else r"\d+"
        expect_match(p, rf"^{n} numbers, 3 serving ranks, {w} worker processes$", "stdout")
        verdicts = re.findall(r"^\s*\d+ is (prime|not prime: \d+ x \d+)$", p.stdout, re.M)
        expect(len(verdicts) == n, f"a verdict line for each of the {n} numbers", f"{len(verdicts)}", p)
        ranks = re.findall(r"^rank (\d) on \S+: (\d+) numbers$", p.stdout, re.M)
        expect([r for r, _ in ranks] == ["1", "2", "3"], "a line per serving rank", f"{ranks}", p)
        expect(sum(int(c) for _, c in ranks) == n, f"the ranks' counts to add up to {n}", f"{ranks}", p)
        expect_match(p, r"^cluster:\s+[\d.]+ s", "stdout")
        check_output(p, no_stderr=[r"wrong answer"])

    return fn


test("mpirun -n 4 ./cluster_primes", CLUSTER_PRIMES, timeout=120)(mpirun_line())
test("mpirun -n 4 ./cluster_primes --quick --workers-per-rank 1", CLUSTER_PRIMES, timeout=60)(
    mpirun_line(workers=1))
test("mpirun -H localhost:4 -n 4 ./cluster_primes --quick", CLUSTER_PRIMES, timeout=60)(mpirun_line())
test("mpirun --hostfile hosts -n 4 ./cluster_primes --quick", CLUSTER_PRIMES, timeout=60)(
    mpirun_line(hostfile=True))


@test("srun -n 4 ./cluster_primes", CLUSTER_PRIMES, timeout=60, inline=True)
def run_cluster_primes_srun(ctx: Context) -> None:
    raise Skip("srun needs a Slurm allocation (the same program as the mpirun lines)")


# ================================================================ the scraper's --cluster (mpirun)
# examples/scraper/README.md, "On a cluster". The lines as written, with
# MPI_TEST_FLAGS after `mpirun` (as for cluster_primes), the program's path,
# the served site for https://example.org/, and a hostfile written here.


def scraper_cluster_line(ranks: int, hostfile: bool = False):
    def fn(ctx: Context) -> None:
        mpirun = shutil.which("mpirun")
        if not mpirun:
            raise Skip("mpirun is not installed (Debian: openmpi-bin)")
        scraper = ctx.exe("scraper")
        probe = ctx.run([scraper, "--cluster", "--quick"], ctx.env(), timeout=30)
        if "built without weft::cluster" in probe.stderr:
            raise Skip("the scraper is built without weft::cluster (Open MPI not found at build time)")
        on_site = "https://example.org/" in ctx.key
        if on_site:
            ctx.serve_site("site", static_site())
        if hostfile:
            (ctx.cwd / "hosts").write_text(f"localhost slots={ranks}\n")
        words, env = ctx.argv(subst={"https://example.org/": "{site}/", "scraper": scraper})
        p = ctx.run([words[0]] + MPI_TEST_FLAGS + words[1:], env)
        expect_rc(p)
        if not on_site:  # --quick: the demo crawl checks itself
            expect_match(p, r"^scraper --quick: \d+ pages, every count matches the demo site's manifest$", "stdout")
            return
        records = json_lines((ctx.cwd / "pages.jsonl").read_text(), "pages.jsonl", p)
        check_site_records(ctx, p, records, "pages.jsonl")
        scraper_summary_pages(p, len(SITE_DEPTH))
        serving = ranks - 1
        expect_match(p, rf"^page analysis on the cluster: 6 pages in \d+ batches to {serving} serving ranks "
                        r"\(\d+ workers\)$", "stderr", "the summary line saying where the analysis ran")
        for r in range(1, ranks):
            expect_match(p, rf"rank {r} on \S+: \d+ batches", "stderr", f"rank {r}'s line in the summary")
        if "--stats" in words:
            stats = json.loads((ctx.cwd / "stats.json").read_text())
            k = stats.get("cluster", {})
            expect(k.get("ranks") == serving and k.get("pages") == stats.get("parsed") == 6,
                   f"stats.json: \"cluster\" with {serving} serving ranks that analyzed the 6 HTML pages",
                   json.dumps(k), p)
            expect(sum(b.get("batches", 0) for b in k.get("by_rank", [])) == k.get("batches"),
                   "stats.json: every batch finished by a serving rank", json.dumps(k), p)

    return fn


test("mpirun -n 3 scraper https://example.org/ --cluster --output pages.jsonl --stats stats.json", SCRAPER,
     timeout=90)(scraper_cluster_line(3))
test("mpirun -n 3 scraper --quick --cluster", SCRAPER, timeout=120)(scraper_cluster_line(3))
test("mpirun --hostfile hosts -n 4 scraper https://example.org/ --cluster --output pages.jsonl", SCRAPER,
     timeout=90)(scraper_cluster_line(4, hostfile=True))


# ================================================================ runtime examples


def counter_checks(tasks: int, increments: int):
    def then(ctx: Context, p: Proc) -> None:
        total = tasks * increments
        expect_match(p, rf"^{tasks} tasks x {increments} increments = {total} expected$", "stdout")
        m = expect_match(p, r"^without a lock:\s+(\d+)\s+\((\d+) updates lost\)$", "stdout")
        expect(int(m.group(1)) + int(m.group(2)) == total, "without a lock: value + lost = expected", m.group(0), p)
        expect_match(p, rf"^with weft::mutex:\s+{total}\s+\(0 updates lost\)$", "stdout")

    return then


CL = ex("counter_lock")
simple("./build/examples/counter_lock", CL, then=counter_checks(8, 10000))
simple("./build/examples/counter_lock 16 50000", CL, timeout=90, then=counter_checks(16, 50000))


def hello_checks(n: int):
    def then(ctx: Context, p: Proc) -> None:
        for kind in ("task", "fiber"):
            for i in range(n):
                expect_match(p, rf"^hello from {kind} {i} \(worker \d+\)$", "stdout")
                expect_match(p, rf"^goodbye from {kind} {i} \(worker \d+\)$", "stdout")
            expect_match(p, rf"^all {n} {kind}s done \(sum of ids {n * (n - 1) // 2}\)$", "stdout")

    return then


HT = ex("hello_tasks")
simple("./build/examples/hello_tasks", HT, then=hello_checks(5))
simple("./build/examples/hello_tasks 10", HT, then=hello_checks(10))


def pc_checks(per_producer: int):
    def then(ctx: Context, p: Proc) -> None:
        total = 3 * per_producer
        m = expect_match(p, r"^round 1 \(close when done\): sent (\d+), checked (\d+) \((\d+) primes\), "
                            r"0 left in the channel", "stdout")
        expect(int(m.group(1)) == total and int(m.group(2)) == total,
               f"round 1: all {total} numbers sent and checked", m.group(0), p)
        expect_match(p, r"^round 2 \(stopped after 20 ms\): sent \d+, checked \d+ \(\d+ primes\)", "stdout")

    return then


PC = ex("producer_consumer")
simple("./build/examples/producer_consumer", PC, then=pc_checks(200000))
simple("./build/examples/producer_consumer 50000", PC, then=pc_checks(50000))


def tour_checks(workers: Optional[int], driver: Optional[str]):
    def then(ctx: Context, p: Proc) -> None:
        w = str(workers) if workers else r"\d+"
        d = driver or r"(io_uring|epoll)"
        expect_match(p, rf"^weft runtime: {w} workers, {d} driver$", "stdout")
        for step in range(1, 10):
            expect_match(p, rf"^{step}\. ", "stdout", f"step {step} of the tour")
        expect_match(p, r"^   100 of 100 children finished", "stdout")
        expect_match(p, r"^   fib\(32\) = 2178309 ", "stdout")
        expect_match(p, r"^scheduler: \d+ tasks run", "stdout")

    return then


RT = ex("runtime_tour")
simple("./build/examples/runtime_tour", RT, then=tour_checks(None, None))
simple("./build/examples/runtime_tour --workers 4", RT, then=tour_checks(4, None))
simple("WEFT_IO=epoll ./build/examples/runtime_tour", RT, then=tour_checks(None, "epoll"))


# threaded_reads: generates its files under $TMPDIR (the entry's temp dir).
def tr_checks(files: int, mb: int):
    def then(ctx: Context, p: Proc) -> None:
        expect_match(p, rf"^generating {files} CSV files of {mb} MB in ", "stdout")
        rows = re.findall(r"^\s+\S+\s+\d+ rows, amount", p.stdout, re.M)
        expect(len(rows) == files, f"a line for each of the {files} files parsed concurrently", f"{len(rows)}", p)
        for what in ("sequential", "concurrent"):
            expect_match(p, rf"^{what}:\s+[\d.]+ ms", "stdout")
        expect_match(p, rf"^speed-up:\s+[\d.]+x with {files} files", "stdout")
        left = list((ctx.tmp / "tmp").iterdir())
        expect(not left, "the temporary directory removed at the end", f"left: {left}", p)

    return then


TR = ex("threaded_reads")
simple("./build/examples/threaded_reads", TR, timeout=120, then=tr_checks(4, 20))
simple("./build/examples/threaded_reads --files 8 --mb 50", TR, timeout=120, then=tr_checks(8, 50))
simple("./build/examples/threaded_reads --workers 1", TR, timeout=120, then=tr_checks(4, 20))


# ================================================================ file_transform

FT = ex("file_transform")


def ft_expected(text: str) -> str:
    if not text:
        return ""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return "".join(f"{i:6d}  {line.upper()}\n" for i, line in enumerate(lines, 1))


FT_INPUT = {
    "alpha.txt": "first line\nsecond line\n",
    "beta.log": "no newline at the end",
    "gamma.csv": "".join(f"row {i}, weft and warp\n" for i in range(2000)),
    "empty.txt": "",
}


def ft_check(ctx: Context, p: Proc, inputs: dict[str, str], failed: tuple[str, ...] = ()) -> None:
    out = ctx.cwd / "OUT_DIR"
    for name, text in inputs.items():
        f = out / name
        expect(f.is_file(), f"OUT_DIR/{name} written", "missing", p)
        expect(f.read_text() == ft_expected(text), f"OUT_DIR/{name}: the input upper-cased, lines numbered",
               f"{f.read_text()[:120]!r}", p)
    n = len(inputs) + len(failed)
    expect_match(p, rf"^{n} files from IN_DIR to OUT_DIR, \d+ at a time$", "stdout")
    expect_match(p, rf"^files:\s+{len(inputs)} done, {len(failed)} failed$", "stdout")
    for name in failed:
        expect_match(p, rf"^failed: {re.escape(name)}: ", "stdout")


def ft_dirs(ctx: Context) -> None:
    write_files(ctx.cwd / "IN_DIR", FT_INPUT)


@test("./build/examples/file_transform IN_DIR OUT_DIR", FT)
def run_ft_dirs(ctx: Context) -> None:
    ft_dirs(ctx)
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    ft_check(ctx, p, FT_INPUT)
    expect_match(p, r"^4 files from IN_DIR to OUT_DIR, 8 at a time$", "stdout")


@test("./build/examples/file_transform IN_DIR OUT_DIR --jobs 32 --workers 4", FT)
def run_ft_jobs(ctx: Context) -> None:
    inputs = {f"doc-{i:03d}.txt": f"file {i}\n" * (i + 1) for i in range(60)}
    write_files(ctx.cwd / "IN_DIR", inputs)
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    ft_check(ctx, p, inputs)
    expect_match(p, r"^60 files from IN_DIR to OUT_DIR, 32 at a time$", "stdout")


@test("ln -s /nonexistent IN_DIR/broken.txt", FT, inline=True)
def run_ft_broken(ctx: Context) -> None:
    """The README's way to see a failure: a dangling link in IN_DIR; then
    `file_transform IN_DIR OUT_DIR` reports it and does the rest (exit 1)."""
    ft_dirs(ctx)
    argv, env = ctx.argv()
    ctx.run(argv, env)
    expect_rc(ctx.last)
    p = ctx.run([ctx.exe("file_transform"), "IN_DIR", "OUT_DIR"])
    expect_rc(p, 1)
    ft_check(ctx, p, FT_INPUT, failed=("broken.txt",))
    expect_match(p, r"^failed: broken\.txt: .*No such file or directory", "stdout")


simple("./build/examples/file_transform", (TOP, FT), timeout=90,
       stdout=[r"^demo: writing 200 text files into ", r"^200 files from .* to .*, 8 at a time$",
               r"^files:\s+200 done, 0 failed$", r"^doc-001\.txt now starts with:$", r"^     1  [A-Z ]+$"],
       stderr=[r"^200/200 files, "],
       then=lambda ctx, p: expect(not list((ctx.tmp / "tmp").iterdir()),
                                  "the demo's temporary directory removed at the end",
                                  f"left: {list((ctx.tmp / 'tmp').iterdir())}", p))


# ================================================================ redis_counter


def start_redis(ctx: Context) -> int:
    """A redis-server on 127.0.0.1 and a free port, nothing saved, in the
    entry's temporary directory; stopped by pid with the entry's other
    programs. Returns its port once it answers PING."""
    if not shutil.which("redis-server"):
        raise Skip("redis-server is not installed (Debian: redis-server)")
    port = ctx.free_port("redis_port")
    data = ctx.tmp / "redis"
    data.mkdir()
    ctx.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(data)], what="redis-server")
    give_up = time.monotonic() + 20
    while time.monotonic() < give_up:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return port
        time.sleep(0.05)
    raise Failure("redis-server to answer PING within 20 s", f"nothing on port {port}")


def redis_counter_line(tasks: int, increments: int, connections: int):
    def run(ctx: Context) -> None:
        """Port 6379 becomes a redis-server the test starts (start_redis)."""
        ctx.exe("redis_counter")  # skipped, not failed, where weft::redis is not built
        start_redis(ctx)
        argv, env = ctx.argv(subst={"redis://127.0.0.1:6379/0": "redis://127.0.0.1:{redis_port}/0"})
        p = ctx.run(argv, env)
        expect_rc(p)
        port = ctx.vars["redis_port"]
        total = tasks * increments
        check_output(p, stdout=[
            rf"^redis_counter: {tasks} tasks x {increments} INCR weft:redis_counter on "
            rf"redis://127\.0\.0\.1:{port}/0 \({connections} connections?\)$",
            rf"^counter: {total} \(expected {total}\)$",
            rf"^pipeline of {tasks} INCR: {total + tasks}; the script took {total + tasks} and deleted the key "
            r"\(0 left\)$",
        ])
        m = expect_match(p, rf"^{total} INCR in [\d.]+ s: \d+ per second, (\d+) writes \([\d.]+ commands per write\)$")
        expect(int(m.group(1)) < total, "fewer writes than commands (the tasks' INCRs pipelined)", m.group(0), p)

    return run


test("./build/examples/redis_counter --url redis://127.0.0.1:6379/0 --tasks 100 --increments 1000",
     ex("redis_counter"), timeout=60)(redis_counter_line(100, 1000, 1))
test("./build/examples/redis_counter --url redis://127.0.0.1:6379/0 --connections 4",
     ex("redis_counter"), timeout=60)(redis_counter_line(100, 1000, 4))


# ================================================================ servers


def listening(p: Proc, host: str = "127.0.0.1", port: Optional[int] = None, timeout: float = 20) -> int:
    """Waits for the first stdout line, `listening on HOST:PORT`."""
    m = p.wait_line(r"^listening on (\S+):(\d+)$", timeout)
    expect(p.stdout.splitlines()[0] == m.group(0).rstrip("\n"),
           "`listening on HOST:PORT` as the first stdout line", p.stdout.splitlines()[0], p)
    expect(m.group(1) == host, f"listening on {host}", m.group(0).strip(), p)
    if port is not None:
        expect(int(m.group(2)) == port, f"listening on port {port} (--port {port})", m.group(0).strip(), p)
    return int(m.group(2))


def stop(p: Proc, sig: int = signal.SIGINT, timeout: float = 20) -> None:
    """Stops a server example with `sig` and checks its exit status: 128 +
    the signal's number (130 after SIGINT, 143 after SIGTERM), the rule
    every example follows (examples/common/cli.hpp)."""
    p.send(sig)
    p.wait(timeout)
    expect_rc(p, 128 + sig)


def io_uring_refused(p: Proc) -> bool:
    return "io_uring was requested but the kernel refuses it" in p.stderr


def echo_roundtrips(port: int, connections: int = 3, messages: int = 20) -> int:
    """Connects, sends messages and checks each comes back; returns bytes."""
    total = 0
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(connections)]
    try:
        for i in range(messages):
            for c, s in enumerate(socks):
                msg = f"message {i} on connection {c}: ".encode() + bytes(range(256)) * (i % 4 + 1)
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    chunk = s.recv(65536)
                    if not chunk:
                        raise Failure(f"the echo of {len(msg)} bytes", f"end of stream after {len(got)}")
                    got += chunk
                if got != msg:
                    raise Failure("the same bytes back", f"{got[:60]!r}...")
                total += len(msg)
    finally:
        for s in socks:
            s.close()
    return total


@test("./build/examples/echo_server --port 0 --workers 1 --io uring", ex("echo_server"))
def run_echo_server(ctx: Context) -> None:
    argv, env = ctx.argv()
    p = ctx.start(argv, env)
    try:
        port = listening(p)
    except Failure:
        if io_uring_refused(p):
            raise Skip("the kernel refuses io_uring, which --io uring asks for") from None
        raise
    try:
        echo_roundtrips(port, connections=3)
    except (OSError, Failure) as e:
        raise Failure("3 connections, each message echoed back", f"{e}", p) from None
    time.sleep(0.2)  # the server notices the three closes
    stop(p)
    expect_match(p, r"^echo_server: SIGINT after [\d.]+ s: 3 connections, \d+ reads, [\d.]+ MB echoed, "
                    r"0 handler errors \(io_uring, 1 workers\)$", "stdout")


def echo_client_checks(p: Proc, conns: int, size: int, duration: int) -> None:
    expect_match(p, rf"^echo_client: {conns} connections x {size} B, {duration} ?s \(\+1 ?s warm-up\), \d+ workers, "
                    r"(io_uring|epoll)$", "stdout")
    m = expect_match(p, rf"^RESULT echo_client conns={conns} size={size} msgs_per_s=(\d+) p50_us=[\d.]+ "
                        r"p99_us=[\d.]+ errors=0$", "stdout")
    expect(int(m.group(1)) > 0, "messages/s above 0", m.group(0), p)
    expect_match(p, r"^errors:\s+0$", "stdout")
    m = expect_match(p, r"^messages/s: \d+\s+\(\d+ in ([\d.]+) s\)$", "stdout")
    expect(duration * 0.95 <= float(m.group(1)) <= duration * 1.5,
           f"a measured run of about {duration} s (--duration {duration})", m.group(0), p)


@test("./build/examples/echo_client", ex("echo_client"), timeout=60)
def run_echo_client(ctx: Context) -> None:
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    expect_match(p, r"^in-process echo server on 127\.0\.0\.1:\d+$", "stdout")
    echo_client_checks(p, 100, 64, 5)


@test("./build/examples/echo_client --duration 3", TOP, timeout=60)
def run_echo_client_3s(ctx: Context) -> None:
    argv, env = ctx.argv()
    p = ctx.run(argv, env)
    expect_rc(p)
    expect_match(p, r"^in-process echo server on 127\.0\.0\.1:\d+$", "stdout")
    echo_client_checks(p, 100, 64, 3)


@test("./build/examples/echo_server --port 7000 & ./build/examples/echo_client --port 7000", TOP, timeout=60)
def run_echo_pair(ctx: Context) -> None:
    """The server in the background, then the client against it: port 7000
    becomes a free port, and the client starts once the server printed
    `listening on` (the README's `&` alone leaves that to chance)."""
    ctx.free_port()
    line = ctx.key.replace("7000", "{port}").format(**ctx.vars)
    server_line, client_line = (part.strip() for part in line.split("&"))
    argv, env = ctx.argv(server_line)
    server = ctx.start(argv, env)
    listening(server, port=int(ctx.vars["port"]))
    argv, env = ctx.argv(client_line)
    p = ctx.run(argv, env)
    expect_rc(p)
    expect_no_match(p, r"in-process echo server", "stdout", "no in-process server with --port")
    echo_client_checks(p, 100, 64, 5)
    stop(server)
    m = expect_match(server, r"^echo_server: SIGINT after [\d.]+ s: (\d+) connections", "stdout")
    expect(int(m.group(1)) == 100, "the echo server to have served the client's 100 connections", m.group(0), server)


@test("./build/examples/echo_client --port 40213 --connections 100 --size 64 --duration 10", ex("echo_client"),
      timeout=90)
def run_echo_client_port(ctx: Context) -> None:
    """--port 40213 is the port the echo server printed in the README: the
    test starts build/examples/echo_server --port 0 and uses its port."""
    server = ctx.start([ctx.exe("echo_server"), "--port", "0"])
    ctx.vars["echo_port"] = str(listening(server))
    argv, env = ctx.argv(subst={"40213": "{echo_port}"})
    p = ctx.run(argv, env)
    expect_rc(p)
    expect_no_match(p, r"in-process echo server", "stdout", "no in-process server with --port")
    echo_client_checks(p, 100, 64, 10)
    stop(server)
    m = expect_match(server, r"^echo_server: SIGINT after [\d.]+ s: (\d+) connections", "stdout")
    expect(int(m.group(1)) == 100, "the echo server to have served the client's 100 connections", m.group(0), server)


def http_get(port: int, method: str, path: str, body: Optional[bytes] = None,
             headers: Optional[dict] = None) -> tuple[int, dict, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


@test("./build/examples/http_server --port 8080 --workers 2", ex("http_server"), timeout=60)
def run_http_server(ctx: Context) -> None:
    """--port 8080 becomes a free port; every route of the README's table
    is asked for, then SIGINT and the summary's counts."""
    ctx.free_port()
    argv, env = ctx.argv(subst={"8080": "{port}"})
    p = ctx.start(argv, env)
    listening(p, port=int(ctx.vars["port"]))
    port = int(ctx.vars["port"])
    asked = []

    def ask(method, path, want_status, want_body=None, body=None, headers=None, check=None):
        try:
            status, hdrs, got = http_get(port, method, path, body, headers)
        except OSError as e:
            raise Failure(f"{method} {path} answered", f"{e}", p) from None
        asked.append(status)
        expect(status == want_status, f"{method} {path} -> {want_status}", f"{status} {got[:100]!r}", p)
        if want_body is not None:
            expect(got == want_body, f"{method} {path} body {want_body!r}", f"{got[:200]!r}", p)
        if check:
            check(hdrs, got)

    ask("GET", "/", 200, check=lambda h, b: expect(b"/primes" in b and b"/echo" in b, "GET / lists the routes",
                                                   repr(b[:200]), p))
    ask("GET", "/hello", 200, b"Hello, World!",
        check=lambda h, b: expect(h.get("content-type", "").startswith("text/plain"), "/hello is text/plain",
                                  h.get("content-type", ""), p))
    ask("GET", "/json", 200, check=lambda h, b: expect(json.loads(b).get("name") == "weft", "/json: a JSON document",
                                                       repr(b[:200]), p))
    ask("GET", "/primes?n=1000", 200, b"primes below 1000: 168\n")
    ask("GET", "/primes", 400)
    ask("POST", "/echo", 200, b'{"a": 1}', body=b'{"a": 1}', headers={"Content-Type": "application/json"},
        check=lambda h, b: expect(h.get("content-type") == "application/json", "/echo keeps the Content-Type",
                                  h.get("content-type", ""), p))
    ask("GET", "/nowhere", 404)
    ask("DELETE", "/hello", 405, check=lambda h, b: expect("GET" in h.get("allow", ""), "405 with Allow: GET",
                                                           h.get("allow", "(none)"), p))
    ask("HEAD", "/hello", 200, b"", check=lambda h, b: expect(h.get("content-length") == "13",
                                                              "HEAD /hello: Content-Length 13, no body",
                                                              h.get("content-length", "(none)"), p))
    stop(p)
    expect_match(p, r"^http_server: SIGINT, shutting down$", "stderr")
    n4 = sum(1 for s in asked if 400 <= s < 500)
    expect_match(p, rf"^http_server: SIGINT after [\d.]+ s: {len(asked)} requests on \d+ connections, {n4} 4xx, "
                    r"0 5xx, 0 timeouts$", "stdout")


@test("curl -i http://127.0.0.1:8080/hello", ex("http_server"), inline=True)
def run_curl_hello(ctx: Context) -> None:
    """The README's `curl -i` against `http_server --port 8080` (a free
    port instead of 8080)."""
    if not shutil.which("curl"):
        raise Skip("curl is not installed (scripts/setup.sh does not install it)")
    ctx.free_port()
    server = ctx.start([ctx.exe("http_server"), "--port", ctx.vars["port"]])
    listening(server, port=int(ctx.vars["port"]))
    argv, env = ctx.argv(subst={"http://127.0.0.1:8080/hello": "http://127.0.0.1:{port}/hello"})
    p = ctx.run(argv, env, timeout=20)
    expect_rc(p)
    check_output(p, stdout=[r"^HTTP/1\.1 200 ", r"(?i)^content-length: 13\r?$", r"Hello, World!$"])
    stop(server, signal.SIGTERM)


def chat_client(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(10)
    return s


class LineReader:
    def __init__(self, s: socket.socket, name: str):
        self.s, self.name, self.buf = s, name, b""

    def line(self) -> str:
        while b"\n" not in self.buf:
            try:
                chunk = self.s.recv(4096)
            except OSError as e:
                raise Failure(f"{self.name}: a line from the chat server", f"{e}") from None
            if not chunk:
                raise Failure(f"{self.name}: a line from the chat server", "end of stream")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def expect(self, want: str) -> None:
        got = self.line()
        expect(got == want, f"{self.name} to read {want!r}", repr(got))

    def say(self, text: str) -> None:
        self.s.sendall(text.encode() + b"\n")


@test("./build/examples/tcp_chat --port 7000", ex("tcp_chat"), timeout=60)
def run_tcp_chat(ctx: Context) -> None:
    """--port 7000 becomes a free port; the README's `nc 127.0.0.1 7000
    (twice)` is two Python socket clients that chat."""
    ctx.free_port()
    argv, env = ctx.argv(subst={"7000": "{port}"})
    p = ctx.start(argv, env)
    port = listening(p, port=int(ctx.vars["port"]))
    help_text = "(commands: /nick NAME, /quit)"
    a_sock, b_sock = chat_client(port), None
    try:
        a = LineReader(a_sock, "first nc")
        a.expect(f"* welcome, you are guest1 {help_text}")
        b_sock = chat_client(port)
        b = LineReader(b_sock, "second nc")
        b.expect(f"* welcome, you are guest2 {help_text}")
        a.expect("* guest2 joined")
        a.say("/nick ann")
        a.expect("* guest1 is now ann")
        b.expect("* guest1 is now ann")
        b.say("hello ann")
        a.expect("<guest2> hello ann")
        a.say("/quit")
        a.expect("* bye")
        b.expect("* ann left")
    except Failure as f:
        f.proc = p
        raise
    finally:
        a_sock.close()
        if b_sock:
            b_sock.close()
    stop(p, signal.SIGTERM)  # the README: SIGINT/SIGTERM stop the server
    expect_match(p, r"^tcp_chat: SIGTERM: stopped after 2 clients$", "stdout")


simple("./build/examples/tcp_chat --demo", (TOP, ex("tcp_chat")), timeout=60,
       stdout=[r"^listening on 127\.0\.0\.1:\d+$", r"^alice\| <bob> hello, alice$",
               r"^alice\| \(2000 flood lines from dave\)$", r"carol was dropped \(too slow\)$",
               r"^alice\| \* dave left$", r"^alice\| ! line too long \(max 1024 bytes\), bye$",
               r"^alice\| \(connection closed by the server\)$"])


# ================================================================ one example per primitive
# latch, barrier, shared_mutex, oneshot (runtime); udp_echo, unix_echo,
# tls_echo (io); process_queue, shared_array, ipc_semaphore (ipc). Each
# checks its own results (exit 1 when wrong); these check what it prints.


def latch_checks(n: int):
    def then(ctx: Context, p: Proc) -> None:
        expect_match(p, rf"^{n} tasks waiting at the gate; opening it$", "stdout")
        for i in range(n):
            expect_match(p, rf"^task {i} ready \(worker \d+\)$", "stdout")
        squares = sum(i * i for i in range(n))
        expect_match(p, rf"^all {n} parts ready after \d+ ms: sum of squares {squares}, 0 missing, 0 started early$",
                     "stdout")

    return then


LATCH = ex("latch")
simple("./build/examples/latch", LATCH, then=latch_checks(8))
simple("./build/examples/latch --tasks 100", LATCH, then=latch_checks(100))
simple("./build/examples/latch --quick", LATCH, timeout=20, then=latch_checks(4))


def barrier_checks(tasks: int, steps: int):
    def then(ctx: Context, p: Proc) -> None:
        for k in range(1, 5):
            expect_match(p, rf"^step\s+{k * steps // 4}: centre\s+[\d.]+, a quarter along\s+[\d.]+, total\s+[\d.]+$",
                         "stdout", f"a progress line from the completion function at step {k * steps // 4}")
        expect_match(p, rf"^{tasks} tasks, {steps} steps: {steps} phases led, result identical to the serial one$",
                     "stdout")

    return then


BARRIER = ex("barrier")
simple("./build/examples/barrier", BARRIER, then=barrier_checks(4, 2000))
simple("./build/examples/barrier --tasks 8 --steps 10000 --cells 1000", BARRIER, then=barrier_checks(8, 10000))
simple("./build/examples/barrier --quick", BARRIER, timeout=20, then=barrier_checks(4, 200))


def shared_mutex_checks(readers: int, writers: int, rounds: int):
    def then(ctx: Context, p: Proc) -> None:
        expect_match(p, rf"^{writers} writers: {writers * rounds} transfers; {readers} readers: {readers * rounds} "
                        r"audits, 0 saw a wrong total$", "stdout")
        m = expect_match(p, r"^up to (\d+) readers held the lock at once; final total 64000 \(expected 64000\)$",
                         "stdout")
        expect(1 <= int(m.group(1)) <= readers, f"between 1 and {readers} readers at once", m.group(0), p)

    return then


SMUTEX = ex("shared_mutex")
simple("./build/examples/shared_mutex", SMUTEX, then=shared_mutex_checks(8, 2, 20000))
simple("./build/examples/shared_mutex --readers 32 --writers 4", SMUTEX, then=shared_mutex_checks(32, 4, 20000))
simple("./build/examples/shared_mutex --quick", SMUTEX, timeout=20, then=shared_mutex_checks(8, 2, 2000))


def oneshot_stdout(callers: int) -> list[str]:
    return [rf"^{callers} callers, {callers} answers: 7 \.\.\. {7 * callers}$",
            r"^10 / 0: no reply, the service dropped the sender \(.*\)$", r"^100 / 4: gave up after 10 ms$",
            r"^service done: 1 reply found nobody waiting$"]


ONESHOT = ex("oneshot")
simple("./build/examples/oneshot", ONESHOT, stdout=oneshot_stdout(100))
simple("./build/examples/oneshot --quick", ONESHOT, timeout=20, stdout=oneshot_stdout(10))


def udp_checks(clients: int, count: int):
    def then(ctx: Context, p: Proc) -> None:
        expect_match(p, r"^echo server on 127\.0\.0\.1:\d+$", "stdout")
        for c in range(clients):
            expect_match(p, rf"^client {c} on 127\.0\.0\.1:\d+: {count} of {count} datagrams echoed$", "stdout")
        total = clients * count
        m = expect_match(p, rf"^{total} of {total} datagrams came back; (\d+) resent; the server echoed (\d+)$",
                         "stdout")
        expect(total <= int(m.group(2)) <= total + int(m.group(1)),
               "the server to have echoed each datagram, and a resent one at most twice", m.group(0), p)

    return then


UDP = ex("udp_echo")
simple("./build/examples/udp_echo", UDP, then=udp_checks(3, 1000))
simple("./build/examples/udp_echo --clients 10 --count 5000", UDP, timeout=90, then=udp_checks(10, 5000))
simple("./build/examples/udp_echo --quick", UDP, timeout=20, then=udp_checks(3, 100))


def unix_echo_checks(clients: int, messages: int):
    def then(ctx: Context, p: Proc) -> None:
        tmp = re.escape(str(ctx.tmp / "tmp"))
        m = expect_match(p, rf"^echo server on ({tmp}/unix_echo-\w+)/echo\.sock$", "stdout",
                         "the socket in a new directory under $TMPDIR")
        per = sum(1 << (i % 17) for i in range(messages))
        for c in range(clients):
            expect_match(p, rf"^client {c}: {messages} messages, {per} bytes echoed$", "stdout")
        expect_match(p, rf"^{clients * per} bytes in all; {re.escape(m.group(1))} removed$", "stdout")
        left = list((ctx.tmp / "tmp").iterdir())
        expect(not left, "the socket's directory removed at the end", f"left: {left}", p)

    return then


UNIX = ex("unix_echo")
simple("./build/examples/unix_echo", UNIX, then=unix_echo_checks(4, 34))
simple("./build/examples/unix_echo --clients 16 --messages 100", UNIX, timeout=90, then=unix_echo_checks(16, 100))
simple("./build/examples/unix_echo --quick", UNIX, timeout=20, then=unix_echo_checks(2, 17))


def tls_checks(messages: int, generated: bool, trusted: str = "the generated certificate"):
    def then(ctx: Context, p: Proc) -> None:
        if generated:
            expect_match(p, r"^certificate: self-signed for localhost and 127\.0\.0\.1, made in memory", "stdout")
        else:
            expect_no_match(p, r"^certificate:", "stdout", "no generated certificate with --cert and --key")
        expect_match(p, r"^TLS echo server on 127\.0\.0\.1:\d+$", "stdout")
        expect_match(p, rf"^client: verified the chain against {re.escape(trusted)} and the name 'localhost'; "
                        r"ALPN 'echo'$", "stdout")
        sent = sum(len(f"message {i}: ") + (1 << (i % 15)) for i in range(messages))
        expect_match(p, rf"^client: {messages} messages, {sent} bytes echoed$", "stdout")
        expect_match(p, rf"^server: echoed {sent} bytes, answered close_notify$", "stdout")
        expect_match(p, r"^client expecting wrong\.example: refused: .*hostname mismatch$", "stdout")
        refused = len(re.findall(r"^server: handshake failed: ", p.stdout, re.M))
        if generated:
            expect_match(p, r"^client trusting only the system store: refused: .*certificate verify failed", "stdout")
        else:
            expect_no_match(p, r"^client trusting only the system store", "stdout",
                            "no untrusting client with a certificate of one's own (it may be publicly trusted)")
        expect(refused == (2 if generated else 1), "the server to report each refused handshake",
               f"{refused} `server: handshake failed` lines", p)

    return then


TLS = ex("tls_echo")
simple("./build/examples/tls_echo", TLS, then=tls_checks(40, True))
simple("./build/examples/tls_echo --quick", TLS, timeout=20, then=tls_checks(10, True))


def tls_make_cert(ctx: Context) -> None:
    """The README's `openssl req ...` line before it, run as written."""
    if not shutil.which("openssl"):
        raise Skip("the openssl command is not installed")
    p = ctx.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
                 "1", "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=localhost", "-addext",
                 "subjectAltName=DNS:localhost,IP:127.0.0.1"], timeout=30)
    expect_rc(p)


simple("./build/examples/tls_echo --cert cert.pem --key key.pem", TLS, setup=tls_make_cert,
       then=tls_checks(40, False, "cert.pem"))


def pq_checks(consumers: int, count: int, first: int, primes: Optional[int], factors: list[str]):
    def then(ctx: Context, p: Proc) -> None:
        done = [int(n) for n in re.findall(r"^consumer process \d+: (\d+) numbers$", p.stdout, re.M)]
        expect(len(done) == consumers and sum(done) == count,
               f"a line for each of the {consumers} consumer processes, {count} numbers in all",
               f"{len(done)} lines, {sum(done)} numbers", p)
        for line in factors:
            expect_match(p, rf"^{re.escape(line)}$", "stdout")
        pr = str(primes) if primes is not None else r"\d+"
        expect_match(p, rf"^{count} numbers from {first}: {pr} primes, 0 results wrong or missing; "
                        rf"consumers did {count} in all$", "stdout")

    return then


PQ = ex("process_queue")
simple("./build/examples/process_queue", PQ, timeout=90,
       then=pq_checks(4, 20000, 1000000000001, 724, ["1000000000001 = 73 x 137 x 99990001"]))
simple("./build/examples/process_queue --consumers 8 --count 100000", PQ, timeout=180,
       then=pq_checks(8, 100000, 1000000000001, None, ["1000000000002 = 2 x 3 x 166666666667"]))
simple("./build/examples/process_queue --quick", PQ, timeout=30,
       then=pq_checks(2, 2000, 1000000001, 99, ["1000000001 = 7 x 11 x 13 x 19 x 52579"]))


def sa_checks(processes: int, count: int, longest: str):
    def then(ctx: Context, p: Proc) -> None:
        expect_match(p, rf"^{processes} processes, 1\.\.{count}: longest {longest}$", "stdout")
        bins = [int(n) for n in re.findall(r"^\s*\d+(?:-\d+|\+) steps\s+(\d+) \|#*$", p.stdout, re.M)]
        expect(sum(bins) == count, f"histogram rows adding up to {count}", f"{len(bins)} rows, {sum(bins)} in all", p)
        expect_match(p, rf"^0 of {count + 10} elements and bins differ from a serial run; 0 processes failed$",
                     "stdout")

    return then


SA = ex("shared_array")
simple("./build/examples/shared_array", SA, timeout=60, then=sa_checks(4, 1000000, "524 steps, from 837799"))
simple("./build/examples/shared_array --processes 8 --count 10000000", SA, timeout=180,
       then=sa_checks(8, 10000000, "685 steps, from 8400511"))
simple("./build/examples/shared_array --quick", SA, timeout=30, then=sa_checks(2, 100000, "350 steps, from 77031"))


def sem_checks(processes: int, limit: int, ms: int):
    def then(ctx: Context, p: Proc) -> None:
        held = [int(n) for n in re.findall(r"^process \d+ has a permit \((\d+) held\)$", p.stdout, re.M)]
        expect(len(held) == processes, f"a line for each of the {processes} processes", f"{len(held)}", p)
        m = expect_match(p, r"^the parent has a permit \((\d+) held\)$", "stdout")
        held.append(int(m.group(1)))
        expect(max(held) <= limit, f"never more than {limit} holding a permit", f"{max(held)}", p)
        m = expect_match(p, rf"^{processes + 1} turns of {ms} ms, at most {limit} at once: ([\d.]+) s; (\d+) held "
                            rf"together at most, {limit} of {limit} permits free$", "stdout")
        expect(int(m.group(2)) <= limit, f"at most {limit} held together", m.group(0), p)
        rounds = -(-(processes + 1) // limit)
        expect(float(m.group(1)) >= rounds * ms / 1000 - 0.01,
               f"at least {rounds} rounds of {ms} ms ({limit} at a time)", m.group(0), p)

    return then


SEM = ex("ipc_semaphore")
simple("./build/examples/ipc_semaphore", SEM, then=sem_checks(8, 3, 100))
simple("./build/examples/ipc_semaphore --processes 12 --limit 4 --work-ms 50", SEM, then=sem_checks(12, 4, 50))
simple("./build/examples/ipc_semaphore --quick", SEM, timeout=20, then=sem_checks(4, 2, 50))


# ================================================================ each example's --help

def readme_flags(name: str) -> set[str]:
    """The --flags the READMEs use with this example (from the keys)."""
    flags = set()
    prog = re.compile(rf"^(?:\S+=\S+ )*(?:\./)?(?:build/examples/)?{re.escape(name)}(?: |$)")
    for e in REGISTRY:
        for k in e.commands:
            if prog.match(k) and not e.help_of:
                flags |= {w.split("=")[0] for w in k.split() if w.startswith("--")}
    flags.discard("--help")
    return flags


def help_test(name: str) -> Callable[[Context], None]:
    def fn(ctx: Context) -> None:
        p = ctx.run([ctx.exe(name), "--help"], timeout=20)
        expect_rc(p)
        expect_match(p, rf"(?i)^usage: {re.escape(name)}( |$)", "stdout",
                     f"the synopsis `usage: {name} ...` (or `Usage: ...`) on stdout")
        missing = sorted(f for f in readme_flags(name) if not re.search(rf"{re.escape(f)}\b", p.stdout))
        expect(not missing, "--help to name every flag the READMEs use with it", f"missing: {missing}", p)

    return fn


def _register_help() -> None:
    for name in example_names():
        REGISTRY.append(Entry((f"build/examples/{name} --help",), (), run=help_test(name), timeout=20, help_of=name))


_register_help()


# ================================================================ the runner


def tail(text: str, n: int = 15) -> str:
    lines = text.rstrip("\n").splitlines()
    cut = lines[-n:]
    more = f"      ... ({len(lines) - n} lines above)\n" if len(lines) > n else ""
    return more + "".join(f"      | {line[:300]}\n" for line in cut)


def run_entry(e: Entry, build_dir: pathlib.Path) -> tuple[str, str, float]:
    """Runs one test entry: (outcome, details, seconds)."""
    t0 = time.monotonic()
    ctx = Context(build_dir, e, e.key)
    try:
        e.run(ctx)
        outcome, details = "ok", ""
    except Skip as s:
        outcome, details = "skip", f"      {s}\n"
    except Failure as f:
        proc = f.proc or ctx.last
        details = f"      expected: {f.expected}\n"
        if f.got:
            details += f"      got:      {f.got}\n"
        if proc:
            rc = proc.p.poll()
            details += f"      ran:      {' '.join(shlex.quote(a) for a in proc.argv)}   (exit {rc}, " \
                       f"{proc.seconds:.1f} s)\n"
            if proc.stdout.strip():
                details += "      --- stdout, last lines:\n" + tail(proc.stdout)
            if proc.stderr.strip():
                details += "      --- stderr, last lines:\n" + tail(proc.stderr)
        outcome = "FAIL"
    except Exception:  # a bug in the test itself
        outcome = "FAIL"
        details = "      the test itself raised:\n" + "".join(
            f"      | {line}\n" for line in traceback.format_exc().rstrip().splitlines())
    finally:
        ctx.close()
    if e.known_failure:
        if outcome == "FAIL":
            outcome, details = "xfail", f"      known failure: {e.known_failure}\n"
        elif outcome == "ok":
            outcome = "FAIL"
            details = (f"      passes now, but is marked known_failure ({e.known_failure}):\n"
                       f"      remove known_failure from this entry in {THIS}\n")
    return outcome, details, time.monotonic() - t0


def where(e: Entry) -> str:
    if e.help_of:
        return f"the --help synopsis of examples/{e.help_of}"
    return ", ".join(e.readmes) + (" (inline)" if e.inline else "")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", type=pathlib.Path, help="the build root (CMake or Meson): <it>/examples/<name>")
    ap.add_argument("--only", metavar="REGEX", help="run only the entries with a command matching REGEX")
    ap.add_argument("--list", action="store_true", help="list the entries, run nothing")
    args = ap.parse_args(argv)

    entries = REGISTRY
    if args.only:
        rx = re.compile(args.only)
        entries = [e for e in entries if any(rx.search(k) for k in e.commands)]
        if not entries:
            print(f"documented_commands: no entry matches --only {args.only!r}", file=sys.stderr)
            return 2

    if args.list:
        for e in entries:
            tag = {"test": "test", "ci": f"ci {e.ci}", "not run": "NOT RUN"}[e.kind]
            for k in e.commands:
                print(f"{tag:8} {k}   [{where(e)}]")
            if e.note:
                print(f"{'':8}   ci: {e.note}")
            if e.not_run:
                print(f"{'':8}   not run: {e.not_run}")
        return 0

    if not args.build_dir:
        ap.error("--build-dir is required (the build root, e.g. build)")
    build_dir = args.build_dir.resolve()
    if not (build_dir / "examples").is_dir():
        print(f"documented_commands: {build_dir}/examples does not exist: build the examples first "
              f"(cmake --build {args.build_dir})", file=sys.stderr)
        return 2

    counts: dict[str, int] = {}
    started = time.monotonic()
    for e in entries:
        label = " | ".join(e.commands)
        if not e.run:
            tag = f"ci {e.ci}" if e.ci else "NOT RUN"
            why = e.note if e.ci else e.not_run
            print(f"{tag:8}        {label}   [{where(e)}]  -- {why}", flush=True)
            kind = "ci" if e.ci else "not run"
            counts[kind] = counts.get(kind, 0) + 1
            continue
        outcome, details, secs = run_entry(e, build_dir)
        counts[outcome] = counts.get(outcome, 0) + 1
        print(f"{outcome:8}{secs:6.1f}s {label}   [{where(e)}]", flush=True)
        if details:
            print(details, end="", flush=True)
        if outcome == "FAIL" and not e.known_failure:
            if e.help_of:
                todo = (f"`{e.help_of} --help` must exit 0 and print a `usage: {e.help_of} ...` synopsis naming "
                        f"every flag its READMEs use: fix examples/{e.help_of}/main.cpp or the README")
            else:
                todo = (f"the command shown in {where(e)} no longer does what the README says: fix the example or "
                        f"the README (and then this entry in {THIS})")
            print(f"      what to do: {todo}; rerun just this one with\n"
                  f"      python3 {THIS} --build-dir {args.build_dir} --only '^{re.escape(e.key)}$'", flush=True)
    total = time.monotonic() - started
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"documented commands: {summary} in {total:.0f} s")
    return 1 if counts.get("FAIL") else 0


if __name__ == "__main__":
    sys.exit(main())
