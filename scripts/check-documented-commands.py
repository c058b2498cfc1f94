#!/usr/bin/env python3
"""Fails when a command line shown in a README has no test.

Reads README.md and examples/*/README.md, extracts every command line they
show, and looks each one up in the registry of
tests/examples/documented_commands.py (which runs them against the built
binaries, or, for build and install lines, names the .ci/run stage that
runs them). Exit status 1, with a list, when
  - a README shows a command line that has no registry entry (missing);
  - a registry entry's line is in none of its READMEs any more (stale),
    or a README it names no longer shows it, or the line is also shown in
    a README the entry does not name.
Registry entries that no CI stage runs (build lines marked not_run) are
listed as notices; they do not fail the check.

Usage:
  python3 scripts/check-documented-commands.py           # the check
  python3 scripts/check-documented-commands.py --list    # what it extracted, and the entry of each
  python3 scripts/check-documented-commands.py --list -v # also every code line it did not take, and why

What counts as a command line (the heuristic, deliberately simple; --list
-v shows its verdict on every code line, so a missed command is easy to
spot):

1. Code only. Lines inside ``` or ~~~ fenced blocks whose info string is
   empty or one of sh, bash, shell, console, shell-session, zsh, text; and
   indented code blocks (lines indented 4+ spaces or a tab, after a blank
   line, outside fences). Fenced blocks tagged anything else (cpp, c++,
   cmake, json, ...) are C++ or other code and are skipped whole. Inline
   `code` in prose is not extracted; registry entries marked inline=True
   (e.g. `curl -i ...` in a sentence) are only checked for staleness.
2. A `$ ` or `# ` prompt is removed; a line ending in `\\` continues on the
   next one.
3. After optional VAR=value assignments (`WEFT_IO=epoll ./build/...`), the
   first word must be a program: a path starting with ./, ../, build/ or
   scripts/ (and naming a file: not ending in /), or a known tool
   (KNOWN_TOOLS below), or an example's name (examples/examples.txt, as
   the scraper's README writes `scraper --quick`), or bench_<name>.
4. C++ that slips into a text block or an indented block is told apart by
   the program word being followed by something other than a blank or the
   end of the line (`scraper::crawler`, `cmake(`), or the line ending in
   `;`, `{`, `}` or `,`, or containing co_await / co_return / std::.
   Sample output in the same blocks (`listening on ...`, `echo_client: 100
   connections ...`, `^C`) does not start with a program word.
5. The key is the line with a trailing `# comment` removed and blanks
   collapsed (documented_commands.normalize).
"""
from __future__ import annotations

import argparse
import pathlib
import re
import sys
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "examples"))
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
import documented_commands as dc  # noqa: E402

SHELL_TAGS = {"", "sh", "bash", "shell", "console", "shell-session", "zsh", "text"}
KNOWN_TOOLS = {
    "cmake", "ninja", "meson", "ctest", "make", "g++", "gcc", "clang++", "clang", "export", "env", "cd",
    "python3", "python", "pip", "curl", "wget", "nc", "ncat", "socat", "wrk", "ab", "h2load", "jq", "ln", "mkdir",
    "sudo", "apt", "apt-get", "dpkg", "git", "taskset", "perf", "valgrind", "gdb", "strace", "pkg-config",
    "docker", "nginx", "timeout", "time", "mpirun", "mpiexec", "srun",
}
FENCE = re.compile(r"^\s{0,3}(```+|~~~+)\s*([^\s`]*)")
ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")
PATH_PROGRAM = re.compile(r"(\./|\.\./|build/|scripts/)\S*[^/\s]")
CXX_HINTS = re.compile(r"\bco_await\b|\bco_return\b|\bstd::")


@dataclass
class Found:
    readme: str  # repo-relative
    line: int
    block: str  # "```text", "indented", ...
    text: str  # the line as written (continuations joined)
    key: str  # normalized


def example_names() -> set[str]:
    return set(dc.example_names())


def program_word(word: str, examples: set[str]) -> bool:
    return (bool(PATH_PROGRAM.fullmatch(word)) or word in KNOWN_TOOLS or word in examples
            or bool(re.fullmatch(r"bench_\w+", word)))


def classify(line: str, examples: set[str]) -> tuple[bool, str]:
    """(is a command, why not): the heuristic of points 2-4 above."""
    s = line.strip()
    s = re.sub(r"^[$#] ", "", s)
    if not s:
        return False, "blank"
    rest = s
    while True:
        m = ASSIGN.match(rest)
        if m and len(rest) > m.end() and rest[m.end()] in " \t":
            rest = rest[m.end():].lstrip()
            continue
        break
    m = re.match(r"\S+", rest)
    word = m.group(0) if m else ""
    # "scraper::crawler", "cmake(" -> the word stops at the punctuation.
    bare = re.match(r"[\w./+-]+", word)
    bare_word = bare.group(0) if bare else ""
    if not program_word(bare_word, examples):
        return False, f"first word {word[:30]!r} is not a program"
    if bare_word != word:
        return False, f"{bare_word!r} followed by {word[len(bare_word):][:10]!r}: code, not a command"
    if s.rstrip().endswith((";", "{", "}", ",")):
        return False, "ends like a C++ statement"
    if CXX_HINTS.search(s):
        return False, "contains C++ (co_await, co_return, std::)"
    return True, ""


def code_lines(path: pathlib.Path):
    """(line number, block kind, text) for every line of code in a README;
    blocks the heuristic skips whole come with text None and the reason."""
    lines = path.read_text().splitlines()
    fence = None  # (marker, tag)
    prev_blank = True
    in_indented = False
    for n, raw in enumerate(lines, 1):
        if fence:
            m = FENCE.match(raw)
            if m and m.group(1)[0] == fence[0][0] and len(m.group(1)) >= len(fence[0]) and not m.group(2):
                fence = None
                prev_blank = False
                continue
            tag = fence[1]
            if tag.lower() in SHELL_TAGS:
                yield n, f"```{tag}", raw
            else:
                yield n, f"```{tag}", None
            continue
        m = FENCE.match(raw)
        if m:
            fence = (m.group(1), m.group(2))
            in_indented = False
            continue
        blank = not raw.strip()
        indented = raw.startswith("    ") or raw.startswith("\t")
        if indented and not blank and (prev_blank or in_indented):
            in_indented = True
            yield n, "indented", raw
        elif not blank:
            in_indented = False
        prev_blank = blank


def readmes() -> list[pathlib.Path]:
    return [ROOT / "README.md"] + sorted((ROOT / "examples").glob("*/README.md"))


def extract(verbose_sink=None) -> list[Found]:
    examples = example_names()
    found: list[Found] = []
    for path in readmes():
        rel = str(path.relative_to(ROOT))
        pending = None  # a line continued with "\"
        for n, block, text in code_lines(path):
            if text is None:
                if verbose_sink is not None:
                    verbose_sink.append(f"{rel}:{n}: skipped ({block} block: not shell or text)")
                continue
            if pending:
                start, blk, acc = pending
                text = acc + " " + text.strip()
                n, block = start, blk
                pending = None
            if text.rstrip().endswith("\\"):
                pending = (n, block, text.rstrip()[:-1])
                continue
            ok, why = classify(text, examples)
            if ok:
                key = dc.normalize(re.sub(r"^\s*[$#] ", "", text))
                found.append(Found(rel, n, block, text.strip(), key))
            elif verbose_sink is not None and why != "blank":
                verbose_sink.append(f"{rel}:{n}: not a command ({why}): {text.strip()[:100]}")
    return found


def inline_spans(path: pathlib.Path) -> set[str]:
    return {dc.normalize(m.group(1)) for m in re.finditer(r"`([^`\n]+)`", path.read_text())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="print every command line found and its registry entry")
    ap.add_argument("-v", "--verbose", action="store_true", help="with --list: also the code lines not taken")
    args = ap.parse_args()

    skipped: list[str] = []
    found = extract(skipped if args.verbose else None)
    by_key = {}
    for e in dc.REGISTRY:
        for k in e.commands:
            if k in by_key:
                print(f"check-documented-commands: {k!r} has two registry entries in {dc.THIS}", file=sys.stderr)
                return 1
            by_key[k] = e

    if args.list:
        current = None
        for f in found:
            if f.readme != current:
                current = f.readme
                print(f"{current}:")
            e = by_key.get(f.key)
            what = "MISSING" if e is None else ("test" if e.run else f"ci {e.ci}" if e.ci else "NOT RUN in CI")
            print(f"  {f.line:4}  {f.block:10} {what:14} {f.key}")
        inline = [e for e in dc.REGISTRY if e.inline]
        if inline:
            print("inline commands with a test (checked for staleness only):")
            for e in inline:
                print(f"        {', '.join(e.readmes)}: {e.key}")
        helps = [e.help_of for e in dc.REGISTRY if e.help_of]
        print(f"--help synopsis tests: {len(helps)} examples ({', '.join(helps)})")
        if args.verbose:
            print("code lines not taken as commands:")
            for s in skipped:
                print(f"  {s}")
        print(f"{len(found)} command lines in {len(readmes())} READMEs")

    problems: list[str] = []
    found_at: dict[str, set[str]] = {}
    for f in found:
        found_at.setdefault(f.key, set()).add(f.readme)
        if f.key not in by_key:
            problems.append(
                f"missing: {f.readme}:{f.line}: `{f.text}` has no entry in {dc.THIS}: add a test that runs it and "
                f"checks its output (or, for a build/install line, ci(...) naming the .ci/run stage that runs it)")
    for e in dc.REGISTRY:
        if e.help_of:
            continue
        if e.inline:
            spans = {str(p.relative_to(ROOT)): inline_spans(p) for p in readmes()}
            for k in e.commands:
                if not any(k in spans.get(r, set()) for r in e.readmes):
                    problems.append(f"stale: the inline command `{k}` is no longer in {', '.join(e.readmes)}: "
                                    f"update or remove its entry in {dc.THIS}")
            continue
        shown = set()
        for k in e.commands:
            where = found_at.get(k, set())
            shown |= where
            if not where:
                problems.append(f"stale: `{k}` ({', '.join(e.readmes)}) is in no README any more: update the entry "
                                f"in {dc.THIS} to the README's new line, or remove it")
            for r in sorted(where - set(e.readmes)):
                problems.append(f"entry: `{k}` is also shown in {r}: add {r} to the readmes of its entry in "
                                f"{dc.THIS}")
        for r in e.readmes:
            if r not in shown and any(found_at.get(k) for k in e.commands):
                problems.append(f"stale: {r} no longer shows `{e.key}`: remove {r} from the readmes of its entry in "
                                f"{dc.THIS}")
    helps = {e.help_of for e in dc.REGISTRY if e.help_of}
    for name in sorted(example_names() - helps):
        problems.append(f"missing: examples/{name} has no --help check in {dc.THIS}")

    for e in dc.REGISTRY:
        if not e.run and not e.ci:
            print(f"notice: no CI stage runs `{e.key}` ({', '.join(e.readmes)}): {e.not_run}")
    if problems:
        print(f"check-documented-commands: {len(problems)} problem(s):")
        for p in problems:
            print(f"  {p}")
        return 1
    tests = sum(1 for e in dc.REGISTRY if e.run and not e.help_of)
    print(f"check-documented-commands: ok: {len(found)} command lines in {len(readmes())} READMEs, each with an entry "
          f"({tests} tests, {sum(1 for e in dc.REGISTRY if e.ci)} run by CI stages, "
          f"{sum(1 for e in dc.REGISTRY if not e.run and not e.ci)} not run anywhere), "
          f"plus {len(helps)} --help checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
