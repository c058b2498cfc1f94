#!/usr/bin/env python3
"""Check that every public header has its test file, and that every test
file is built.

The rule (one test file per public header, named after it, as folly's
coro/test/MutexTest.cpp tests coro/Mutex.h):

  <m>/include/weft/<m>/<X>.hpp      needs  tests/<m>/<X>_test.cpp
      also in a subfolder: runtime/include/weft/runtime/sync/mutex.hpp
      needs tests/runtime/mutex_test.cpp (two headers of one module that
      would need the same test file are reported); headers under a
      detail/ folder are not public and need none.
  <m>/include/weft/<m>.hpp          needs  tests/<m>/<m>_test.cpp
      (the module's umbrella header: that test includes only the umbrella
      and checks that a few names from it compile and work)
  include/weft/weft.hpp             needs  tests/runtime/weft_test.cpp

The modules <m> are the top-level folders that have an include/weft/.
A test file may also exist for no header (tests/io/scale_test.cpp).

Second check: every tests/<m>/*_test.cpp is listed in tests/<m>/sources.txt
(the list CMake and Meson build from), and every file listed there exists.

Third check: no TEST_CASE name (in tests/ or examples/*/tests/) holds a
';': CMake's catch_discover_tests splits the name there, and ctest then
runs two names that match no test case, and passes, running nothing.

Prints each problem and exits 1, or prints
"every public header has its test file (N headers)" and exits 0.
Usage: python3 scripts/check-header-tests.py
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def expected_tests():
    """(header, test file it needs), both relative to ROOT."""
    pairs = [("include/weft/weft.hpp", "tests/runtime/weft_test.cpp")]
    for inc in sorted(ROOT.glob("*/include/weft")):
        m = inc.parent.parent.name
        for h in sorted(inc.rglob("*.hpp")):
            parts = h.relative_to(inc).with_suffix("").parts  # (io,), (io, socket), (runtime, sync, mutex)
            if "detail" in parts:
                continue
            pairs.append((h.relative_to(ROOT).as_posix(), f"tests/{m}/{parts[-1]}_test.cpp"))
    return [(h, t) for h, t in pairs if (ROOT / h).exists()]


def main():
    problems = []
    pairs = expected_tests()
    claimed = {}
    for header, test in pairs:
        if test in claimed:
            problems.append(f"{header} and {claimed[test]} would both need {test}: rename one")
        claimed[test] = header
        if not (ROOT / test).exists():
            problems.append(f"{header}: no test file {test}")

    for m in sorted({t.split("/")[1] for _, t in pairs}):
        folder = ROOT / "tests" / m
        listed = (folder / "sources.txt").read_text().split() if (folder / "sources.txt").exists() else []
        for f in sorted(p.name for p in folder.glob("*_test.cpp")):
            if f not in listed:
                problems.append(f"tests/{m}/{f}: not listed in tests/{m}/sources.txt")
        for f in listed:
            if not (folder / f).exists():
                problems.append(f"tests/{m}/sources.txt lists {f}, which does not exist")

    test_case = re.compile(r'TEST_CASE\(\s*"((?:[^"\\]|\\.)*)"')
    for f in sorted([*ROOT.glob("tests/**/*.cpp"), *ROOT.glob("examples/*/tests/*.cpp")]):
        text = f.read_text(encoding="utf-8")
        for m in test_case.finditer(text):
            if ";" in m.group(1):
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{f.relative_to(ROOT)}:{line}: a ';' in TEST_CASE name {m.group(1)!r}: "
                                "ctest would run nothing for it (use ',')")

    if problems:
        print("\n".join(problems))
        print(f"{len(problems)} problem(s); see the rule in {pathlib.Path(__file__).name}'s docstring")
        return 1
    print(f"every public header has its test file ({len(pairs)} headers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
