#!/usr/bin/env python3
"""Keeps the C++ in the documentation compiled: every ```cpp block of
README.md, CONTRIBUTING.md and docs/*.md is a copy of a program under
docs/snippets/, which the test suite builds and runs (ctest -L docs,
meson test --suite docs).

In the Markdown a block is spliced between two markers, the path relative
to the Markdown file:

    <!-- snippet: snippets/tasks_cancel.cpp -->
    ```cpp
    ...the file, verbatim...
    ```
    <!-- end snippet -->

`<!-- snippet: snippets/x.cpp#name -->` shows only a region of the file,
the lines between `// [start name]` and `// [end name]` (dedented). Region
marker lines are never shown, so a whole-file splice of a file with regions
is the program without them.

Usage:
  python3 scripts/docs-snippets.py --check   # exit 1, naming each problem
  python3 scripts/docs-snippets.py --write   # re-splice every block from its file
  python3 scripts/docs-snippets.py --list    # every spliced block and its source

--check fails when
  - a spliced block differs from its file (or region): run --write;
  - a ```cpp (c++, cxx, cc, hpp) block is not between snippet markers;
  - a marker names a file that does not exist, a region the file lacks, or
    a file not listed in docs/snippets/sources.txt (so not built and run);
  - a marker has no `<!-- end snippet -->`, or what lies between the two is
    not one fenced block;
  - docs/snippets/sources.txt and the docs/snippets/*.cpp files disagree,
    or a file's region markers do not pair up;
  - README.md's C++ blocks are not exactly one whole-file splice: CI stage
    (e) of .ci/run extracts every ```cpp block of README.md with awk and
    builds them as one program against the installed package.
--write changes only what lies between the markers (a marker followed
directly by its end marker gets its block), then runs the check.
Python 3 standard library only.
"""
from __future__ import annotations

import argparse
import difflib
import pathlib
import re
import sys
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "docs" / "snippets"
SOURCES = SNIPPETS / "sources.txt"

MARKER = re.compile(r"^<!--\s*snippet:\s*(?P<path>[^#\s]+)(?:#(?P<region>[\w.-]+))?\s*-->\s*$")
END_MARKER = re.compile(r"^<!--\s*end snippet\s*-->\s*$")
FENCE = re.compile(r"^\s{0,3}(?P<fence>```+|~~~+)\s*(?P<info>[^\s`]*)")
CXX_INFO = {"cpp", "c++", "cxx", "cc", "hpp", "h++", "hxx"}
REGION = re.compile(r"^\s*//\s*\[(?P<kind>start|end)\s+(?P<name>[\w.-]+)\]\s*$")
FENCE_OPEN = "```cpp"  # exactly: .ci/run's awk matches /^```cpp$/
FENCE_CLOSE = "```"


def markdown_files() -> list[pathlib.Path]:
    files = [ROOT / "README.md", ROOT / "CONTRIBUTING.md"] + sorted((ROOT / "docs").glob("*.md"))
    return [f for f in files if f.exists()]


def rel(p: pathlib.Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def listed_sources() -> list[str]:
    if not SOURCES.exists():
        return []
    return [line.strip() for line in SOURCES.read_text().splitlines() if line.strip()]


class SnippetError(Exception):
    pass


def regions_of(path: pathlib.Path) -> tuple[dict[str, list[str]], list[str]]:
    """The file's regions (name -> lines, markers of nested regions left
    out) and its lines without any region marker. Raises SnippetError when
    the markers do not pair up."""
    lines = path.read_text().splitlines()
    open_regions: dict[str, list[str]] = {}
    done: dict[str, list[str]] = {}
    plain: list[str] = []
    for n, line in enumerate(lines, 1):
        m = REGION.match(line)
        if m:
            name = m.group("name")
            if m.group("kind") == "start":
                if name in open_regions or name in done:
                    raise SnippetError(f"{rel(path)}:{n}: region '{name}' starts twice")
                open_regions[name] = []
            else:
                if name not in open_regions:
                    raise SnippetError(f"{rel(path)}:{n}: '[end {name}]' without '[start {name}]'")
                done[name] = open_regions.pop(name)
            continue
        plain.append(line)
        for body in open_regions.values():
            body.append(line)
    if open_regions:
        raise SnippetError(f"{rel(path)}: region(s) never ended: {', '.join(sorted(open_regions))}")
    return done, plain


def dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:] if line.strip() else "" for line in lines]


def trim_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def render(md: pathlib.Path, target: str, region: str | None) -> list[str]:
    """The block a marker stands for: fence, code, fence."""
    path = (md.parent / target).resolve()
    if not path.is_file():
        raise SnippetError(f"{target}: no such file (paths are relative to {rel(md)})")
    try:
        path.relative_to(SNIPPETS)
    except ValueError:
        raise SnippetError(f"{target}: not under docs/snippets/") from None
    if path.suffix == ".cpp" and path.name not in listed_sources():
        raise SnippetError(f"{rel(path)} is not listed in {rel(SOURCES)}: it would be shown but never built and run")
    regions, plain = regions_of(path)
    if region is None:
        code = trim_blank(plain)
    else:
        if region not in regions:
            have = ", ".join(sorted(regions)) or "none"
            raise SnippetError(f"{rel(path)} has no region '{region}' (regions: {have})")
        code = trim_blank(dedent(regions[region]))
    if not code:
        raise SnippetError(f"{target}{'#' + region if region else ''} is empty")
    for line in code:
        if FENCE.match(line):
            raise SnippetError(f"{rel(path)}: a line looks like a Markdown fence: {line!r}")
    return [FENCE_OPEN] + code + [FENCE_CLOSE]


@dataclass
class Block:
    md: pathlib.Path
    line: int          # the marker's line, 1-based
    target: str
    region: str | None
    start: int         # index of the marker line
    end: int           # index of the end marker line
    shown: list[str]   # the lines between the markers

    @property
    def name(self) -> str:
        return self.target + (f"#{self.region}" if self.region else "")


def scan(md: pathlib.Path) -> tuple[list[str], list[Block], list[str], list[tuple[int, str]]]:
    """The file's lines, its spliced blocks, problems found while reading
    it, and every C++ fenced block as (line, info)."""
    lines = md.read_text().splitlines()
    blocks: list[Block] = []
    problems: list[str] = []
    cxx_blocks: list[tuple[int, str, bool]] = []  # (line, info, spliced)
    i = 0
    fence = None
    while i < len(lines):
        line = lines[i]
        if fence:
            m = FENCE.match(line)
            if m and m.group("fence")[0] == fence[0] and len(m.group("fence")) >= len(fence) and not m.group("info"):
                fence = None
            i += 1
            continue
        m = MARKER.match(line)
        if m:
            j = i + 1
            while j < len(lines) and not END_MARKER.match(lines[j]) and not MARKER.match(lines[j]):
                j += 1
            if j == len(lines) or MARKER.match(lines[j]):
                problems.append(f"{rel(md)}:{i + 1}: snippet marker without '<!-- end snippet -->'")
                i += 1
                continue
            b = Block(md, i + 1, m.group("path"), m.group("region"), i, j, lines[i + 1:j])
            blocks.append(b)
            shown = b.shown
            if shown:
                f = FENCE.match(shown[0])
                if f and f.group("info").lower() in CXX_INFO:
                    cxx_blocks.append((i + 2, f.group("info"), True))
            i = j + 1
            continue
        m = FENCE.match(line)
        if m:
            fence = m.group("fence")
            if m.group("info").lower() in CXX_INFO:
                cxx_blocks.append((i + 1, m.group("info"), False))
        i += 1
    for n, info, spliced in cxx_blocks:
        if not spliced:
            problems.append(f"{rel(md)}:{n}: a ```{info} block that is not a spliced snippet: put the code in "
                            f"docs/snippets/ (listed in sources.txt, so it is built and run) and splice it with "
                            f"<!-- snippet: ... --> ... <!-- end snippet -->")
    return lines, blocks, problems, [(n, info) for n, info, _ in cxx_blocks]


def check_sources() -> list[str]:
    problems = []
    listed = listed_sources()
    if not SOURCES.exists():
        return [f"{rel(SOURCES)} is missing"]
    present = sorted(p.name for p in SNIPPETS.glob("*.cpp"))
    for name in sorted(set(present) - set(listed)):
        problems.append(f"docs/snippets/{name} is not listed in {rel(SOURCES)} (so it is never built and run)")
    for name in sorted(set(listed) - set(present)):
        problems.append(f"{rel(SOURCES)} lists {name}, which does not exist")
    if len(listed) != len(set(listed)):
        problems.append(f"{rel(SOURCES)} lists a file twice")
    for p in sorted(SNIPPETS.glob("*.[ch]pp")):
        try:
            regions_of(p)
        except SnippetError as e:
            problems.append(str(e))
    return problems


def run(mode: str) -> tuple[list[str], list[str], int]:
    """One pass over the Markdown: (problems, stale blocks, blocks). mode is
    "check", "write" (re-splice stale blocks) or "list" (print them too)."""
    problems: list[str] = check_sources()
    stale: list[str] = []
    total = 0
    for md in markdown_files():
        lines, blocks, found, cxx = scan(md)
        problems += found
        out = list(lines)
        for b in reversed(blocks):  # from the end: indices stay valid
            total += 1
            try:
                want = render(md, b.target, b.region)
            except SnippetError as e:
                problems.append(f"{rel(md)}:{b.line}: {e}")
                continue
            if mode == "list":
                print(f"{rel(md)}:{b.line}: {b.name} ({len(want) - 2} lines)")
            if b.shown == want:
                continue
            if mode == "write":
                out[b.start + 1:b.end] = want
                print(f"docs-snippets: re-spliced {rel(md)}:{b.line}: {b.name}")
                continue
            if b.shown and not (FENCE.match(b.shown[0]) and b.shown[-1].strip() == FENCE_CLOSE):
                what = "is not one fenced block"
            else:
                what = "differs from its file"
            diff = list(difflib.unified_diff(b.shown, want, "in the Markdown", "from the file", lineterm="", n=1))
            shown_diff = "\n".join("      " + d for d in diff[:12]) + ("\n      ..." if len(diff) > 12 else "")
            stale.append(f"{rel(md)}:{b.line}: the block spliced from {b.name} {what}\n{shown_diff}")
        if mode == "write" and out != lines:
            md.write_text("\n".join(out) + "\n")
        if md == ROOT / "README.md":
            whole = [b for b in blocks if b.region is None]
            if len(cxx) != 1 or len(blocks) != 1 or len(whole) != 1:
                problems.append(
                    f"README.md: {len(cxx)} C++ block(s), {len(blocks)} spliced: it must have exactly one, a "
                    f"whole-file splice (a complete program printing 50): .ci/run stage (e) extracts every "
                    f"```cpp block of README.md with awk and builds them as one program")
    return problems, stale, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="fail (exit 1) on any stale or unspliced block")
    mode.add_argument("--write", action="store_true", help="re-splice every block from its file")
    mode.add_argument("--list", action="store_true", help="list every spliced block")
    args = ap.parse_args()

    if args.write:
        run("write")  # then the check, on the files as written
    problems, stale, total = run("list" if args.list else "check")
    problems += stale
    if problems:
        print(f"docs-snippets: {len(problems)} problem(s):")
        for p in problems:
            print(f"  {p}")
        if stale:
            print("  (python3 scripts/docs-snippets.py --write re-splices the blocks from their files)")
        return 1
    print(f"docs-snippets: ok: {total} spliced blocks in {len(markdown_files())} Markdown files, "
          f"{len(listed_sources())} snippet programs in {rel(SOURCES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
