#!/usr/bin/env bash
# Installs every Debian package weft needs to build, test and package
# (Debian 12 "bookworm"; Ubuntu releases with the same package names work
# too). Does nothing when all of them are installed already. Runs as root,
# or through sudo.
set -euo pipefail

packages=(
  # toolchains and build tools
  build-essential g++ clang libclang-rt-14-dev clang-format cmake meson
  ninja-build pkg-config git time
  # libraries
  liburing-dev libboost-context1.81-dev libboost-url1.81-dev libfmt-dev
  catch2 libssl-dev libxml2-dev libcereal-dev zlib1g-dev libcli11-dev
  # the scraper's URL rules (RE2), rules files (Boost.JSON), crawl state (SQLite)
  libre2-dev libboost-json1.81-dev libsqlite3-dev
  # weft::cluster, the process pool over MPI ranks (and mpirun for its tests)
  libopenmpi-dev openmpi-bin
  # weft::redis (hiredis's reply reader only) and the Redis server its tests start
  libhiredis-dev redis-server
  # servers and data the examples' tests crawl: sites weft did not write,
  # served by programs weft did not write
  python3 nginx python3.11-doc
)

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup.sh: this script needs a Debian or Ubuntu system (apt-get and dpkg-query not found)." >&2
  echo "setup.sh: install these packages (or their equivalents) by hand: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#packages[@]} packages are installed."
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup.sh: missing packages: ${missing[*]}" >&2
  echo "setup.sh: run this script as root, or install sudo." >&2
  exit 1
fi

if [[ -r /etc/os-release ]]; then
  # shellcheck source=/dev/null
  . /etc/os-release
  if [[ ${ID:-} != debian || ${VERSION_ID:-} != 12 ]]; then
    echo "setup.sh: warning: made for Debian 12; this is ${PRETTY_NAME:-unknown}, some packages may not exist." >&2
  fi
fi

echo "setup.sh: installing: ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
