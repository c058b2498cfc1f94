#!/usr/bin/env bash
# Installs what is needed, builds weft (CMake, g++, optimised with
# assertions, warnings as errors) in build/ and runs the whole test suite
# (but the long runs labelled slow: ctest --test-dir build -L slow).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

./scripts/setup.sh
weft_configure build
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2 -LE slow
