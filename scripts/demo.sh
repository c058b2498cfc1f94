#!/usr/bin/env bash
# Installs what is needed, builds the main example in build/ and runs it.
set -euo pipefail

example=runtime_tour

cd "$(dirname "$0")/.."
source scripts/common.sh

./scripts/setup.sh
weft_configure build
cmake --build build -j2 --target "$example"
echo "== build/examples/$example"
exec "build/examples/$example" "$@"
