#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) in
# build-fuzz/ and runs each for SECONDS (default 60) on its seed corpus.
#
#   scripts/fuzz.sh [SECONDS]
#
# Every folder tests/fuzz/corpus/<name> belongs to the target <name>_fuzz.
# The repository's corpus is only read: what a run discovers goes to a
# scratch folder (build-fuzz/found/<name>: merge interesting inputs back by
# hand). A crash, leak or sanitizer report fails the run; the input that
# caused it is left in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
  -DWEFT_FUZZ=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=OFF >/dev/null
mkdir -p build-fuzz/artifacts build-fuzz/found
status=0
for corpus in tests/fuzz/corpus/*/; do
  name=$(basename "$corpus")
  target=${name}_fuzz
  cmake --build build-fuzz -j2 --target "$target"
  scratch=build-fuzz/found/$name
  mkdir -p "$scratch"
  echo "== $target: ${seconds}s on $(find "$corpus" -type f | wc -l) seed inputs"
  if ! "build-fuzz/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/"$name"- "$scratch" "$corpus" \
      2>build-fuzz/"$name".log; then
    tail -60 build-fuzz/"$name".log
    echo "== $target: FAILED (inputs in build-fuzz/artifacts/)"
    status=1
  else
    grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' build-fuzz/"$name".log || true
    echo "== $target: ok"
  fi
done
exit $status
