#!/usr/bin/env bash
# Installs what is needed, builds the main example (the scraper) in build/
# and runs it: with no arguments it crawls its built-in demo site.
set -euo pipefail

example=scraper

cd "$(dirname "$0")/.."
source scripts/common.sh

./scripts/setup.sh
weft_configure build
cmake --build build -j2 --target "$example"
echo "== build/examples/$example"
exec "build/examples/$example" "$@"
