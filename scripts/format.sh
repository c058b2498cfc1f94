#!/usr/bin/env bash
# Formats every C++ file git tracks with the repository's .clang-format
# (clang-format 14: Debian's clang-format package, from scripts/setup.sh).
#   scripts/format.sh          # rewrite the files in place
#   scripts/format.sh --check  # change nothing; list each file that differs
#                              # and exit 1 (CI stage (a2) runs this)
# The docs' code blocks are copies of docs/snippets/: after formatting
# snippets, re-splice them with `python3 scripts/docs-snippets.py --write`.
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=$(command -v clang-format-14 || command -v clang-format || true)
if [[ -z $clang_format ]]; then
  echo "format.sh: clang-format not found (Debian: apt-get install clang-format)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if [[ ${1:-} == --check ]]; then
  bad=()
  for f in "${files[@]}"; do
    "$clang_format" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'format.sh: not formatted as .clang-format says: %s\n' "${bad[@]}" >&2
    echo "format.sh: run scripts/format.sh (then python3 scripts/docs-snippets.py --write)" >&2
    exit 1
  fi
  echo "format.sh: all ${#files[@]} C++ files formatted"
else
  "$clang_format" -i "${files[@]}"
fi
