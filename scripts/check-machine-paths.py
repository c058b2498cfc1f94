#!/usr/bin/env python3
"""Fails when a tracked file names a path of one machine.

A path like /home/<user>/..., /work/... or /root/... works on the machine
it was written on and nowhere else: scripts and programs find what lies
beside the checkout relative to the repository root (../shared/peers), and
build outputs never reach git. Prints each offending line as FILE:LINE: TEXT
and exits 1; exits 0 with a one-line summary otherwise.

    python3 scripts/check-machine-paths.py
"""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# An absolute path under a directory that holds one machine's (or one
# user's) files. /tmp, /usr, /etc, /dev, /proc are the same everywhere.
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:home|work|root|mnt|srv|Users)/[\w.-]+")
SELF = pathlib.Path(__file__).resolve()


def main() -> int:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    found = 0
    checked = 0
    for name in filter(None, files):
        path = ROOT / name
        if path.resolve() == SELF or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary: corpus files, images
        checked += 1
        for number, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                print(f"{name}:{number}: {line.strip()}")
                found += 1
    if found:
        print(f"check-machine-paths: {found} line(s) name a path of one machine; "
              "use a path relative to the repository root instead", file=sys.stderr)
        return 1
    print(f"check-machine-paths: no machine paths in {checked} tracked text files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
