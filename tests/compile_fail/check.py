#!/usr/bin/env python3
"""Runs one compile-fail test (tests/CMakeLists.txt and tests/meson.build).

A source here names the error it must fail with on a line
`// expect-error: TEXT`. The test passes when the compiler fails and the
FIRST line of its output that reports an error contains TEXT, so a file
that breaks for another reason (a typo, a changed API, a warning under
-Werror) fails the test instead of passing it. A source without that line
(the positive control) must compile.

  check.py SOURCE -- COMPILER ARGS...
      The command to check SOURCE with, SOURCE left out (CMake builds it
      from weft::weft's include directories).
  check.py SOURCE --like CONTROL --compdb BUILD_DIR
      The command that BUILD_DIR/compile_commands.json gives CONTROL (a
      source of a target built against weft, meson's weft_dep), with SOURCE
      in its place and no output file.

The compiler runs with -fsyntax-only: the checks are static_asserts.
"""

import json
import os
import re
import shlex
import subprocess
import sys

ERROR = re.compile(r"\berror:")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def expected_error(source):
    with open(source, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*//\s*expect-error:\s*(.*\S)", line)
            if m:
                return m.group(1)
    return None


def command_like(control, source, build_dir):
    with open(os.path.join(build_dir, "compile_commands.json"), encoding="utf-8") as f:
        entries = json.load(f)
    want = os.path.realpath(control)
    for e in entries:
        if os.path.realpath(os.path.join(e["directory"], e["file"])) != want:
            continue
        args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
        out, skip = [], False
        for a in args:
            if skip:
                skip = False
            elif a in ("-o", "-MQ", "-MF", "-MT"):
                skip = True
            elif a in ("-c", "-MD", "-MMD") or a.startswith(("-fdiagnostics-color", "-fcolor-diagnostics")):
                pass
            elif os.path.realpath(os.path.join(e["directory"], a)) == want:
                pass
            else:
                out.append(a)
        return out, e["directory"]
    sys.exit(f"check.py: {control} is not in {build_dir}/compile_commands.json")


def main(argv):
    if len(argv) >= 3 and argv[1] != "--" and argv[2] == "--":
        source, cmd, cwd = argv[1], argv[3:], None
    elif len(argv) == 6 and argv[2] == "--like" and argv[4] == "--compdb":
        source = argv[1]
        cmd, cwd = command_like(argv[3], source, argv[5])
    else:
        sys.exit(__doc__)
    source = os.path.abspath(source)
    cmd = cmd + ["-fdiagnostics-color=never", "-fsyntax-only", source]
    expect = expected_error(source)

    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = ANSI.sub("", r.stdout)
    print("$ " + " ".join(shlex.quote(a) for a in cmd))
    print(output, end="")
    first = next((line for line in output.splitlines() if ERROR.search(line)), None)

    if expect is None:
        if r.returncode != 0:
            print(f"FAIL: {os.path.basename(source)} must compile (exit status {r.returncode})")
            return 1
        print(f"ok: {os.path.basename(source)} compiles")
        return 0
    if r.returncode == 0:
        print(f"FAIL: {os.path.basename(source)} compiled; it must fail with: {expect}")
        return 1
    if first is None or expect not in first:
        print(f"FAIL: the first error is not the expected one\n  expected: {expect}\n  first:    {first}")
        return 1
    print(f"ok: first error: {first}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
