#!/usr/bin/env bash
# The scrape benchmark: weft's crawler (bench_scrape, the scraper's own
# engine with parsing in the process pool) beside the peer clients of
# ../shared/peers/net (Go net/http, Python asyncio streams, aiohttp,
# threads + urllib) against the same delaying server, in ONE run, with the
# repetitions interleaved so machine noise hits every client alike.
#
#   scripts/bench-scrape.sh                 # 3 reps, 10,000 pages, 100 in flight, 10 ms
#   REPS=5 CLIENTS="weft go" scripts/bench-scrape.sh
#
# Knobs: REPS (3), PAGES (10000), CONC (100), DELAY_MS (10), PORT (19190),
# SERVER_CPU (0), CLIENT_CPU (1), CLIENTS ("weft go py-asyncio py-aiohttp
# py-threads"), WEFT_BUILD_DIR (<repo>/build-bench; a Release build folder
# configured with WEFT_BUILD_BENCH=ON, such as build/, is used as it is),
# PEERS_SRC (../shared/peers/net or ../../shared/peers/net, never modified),
# PYTHON (/usr/bin/python3, the Python with aiohttp), BUILD_LOCK
# (/tmp/weft-build.lock: builds run under flock on it; empty: no lock),
# WEFT_BIN (a bench_scrape built before, run instead of building one: to
# compare two commits, each beside the same peers), EXTRACT (extraction
# rules for weft, space-separated NAME=XPATH, each passed as --extract; the
# issue's three-rule run: EXTRACT="title=//title h1=//h1 links=//li/a/@href"),
# WEFT_ARGS (more bench_scrape options, e.g. "--batch off").
#
# What it does, as the harness's run.sh scrape section: compiles
# src/delay_httpd.c (gcc -O2) into the build folder and starts it on
# SERVER_CPU (-p PORT -n PAGES -d DELAY_MS); builds bench_scrape in Release;
# builds the Go client offline (GOPROXY=off, caches in the build folder;
# falls back to $PEERS_SRC/bin/go_scrape); then runs every client pinned to
# CLIENT_CPU, resetting the server's counters before each, and prints a
# table of median pages/s and ratio to the ideal (CONC / DELAY_MS).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The shared peer harness beside the checkout (or beside the folder of
# worktrees that holds it: <dir>/wt/<name> finds <dir>/shared).
if [ -z "${PEERS_SRC:-}" ]; then
  PEERS_SRC="$ROOT/../shared/peers/net"
  [ -d "$PEERS_SRC" ] || [ ! -d "$ROOT/../../shared/peers/net" ] || PEERS_SRC="$ROOT/../../shared/peers/net"
fi
BUILD="${WEFT_BUILD_DIR:-$ROOT/build-bench}"
REPS="${REPS:-3}"
PAGES="${PAGES:-10000}"
CONC="${CONC:-100}"
DELAY_MS="${DELAY_MS:-10}"
PORT="${PORT:-19190}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENTS="${CLIENTS:-weft go py-asyncio py-aiohttp py-threads}"
PYTHON="${PYTHON:-/usr/bin/python3}"
BUILD_LOCK="${BUILD_LOCK-/tmp/weft-build.lock}"
BASE="http://127.0.0.1:$PORT"
weft_extra=()
for rule in ${EXTRACT:-}; do weft_extra+=(--extract "$rule"); done
# shellcheck disable=SC2206  # WEFT_ARGS is split on purpose
weft_extra+=(${WEFT_ARGS:-})

log() { printf '[bench-scrape] %s\n' "$*" >&2; }

[ -f "$PEERS_SRC/src/delay_httpd.c" ] || { log "no $PEERS_SRC/src/delay_httpd.c"; exit 1; }
mkdir -p "$BUILD"
BUILD="$(cd "$BUILD" && pwd)"  # absolute: the Go build runs in another folder

# ---------------------------------------------------------------- build
log "compiling delay_httpd"
gcc -O2 -Wall -Wextra -o "$BUILD/delay_httpd" "$PEERS_SRC/src/delay_httpd.c"

# Builds take the shared lock when there is one (several people building on
# one machine), so that no compile runs beside a timing.
lock=()
[ -n "$BUILD_LOCK" ] && command -v flock >/dev/null 2>&1 && lock=(flock "$BUILD_LOCK")
cache="$BUILD/CMakeCache.txt"
if [ -n "${WEFT_BIN:-}" ]; then
  # A bench_scrape built elsewhere (an older commit's, to compare with).
  [ -x "$WEFT_BIN" ] || { log "WEFT_BIN=$WEFT_BIN is not an executable"; exit 1; }
  WEFT_BIN="$(realpath "$WEFT_BIN")"
  log "using $WEFT_BIN (not building)"
elif [ -f "$cache" ] && grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$cache" &&
  grep -q '^WEFT_BUILD_BENCH:BOOL=ON$' "$cache"; then
  # A Release build folder with the benchmarks on (a developer's own build/):
  # used as it is configured, its other options (tests, examples) left alone.
  log "building bench_scrape in $BUILD (configured already)"
else
  generator=()
  command -v ninja >/dev/null 2>&1 && [ ! -f "$BUILD/Makefile" ] && generator=(-G Ninja)
  log "building bench_scrape (Release) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF \
    -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=ON >/dev/null
fi
if [ -z "${WEFT_BIN:-}" ]; then
  "${lock[@]}" cmake --build "$BUILD" --target bench_scrape -j 2 >/dev/null
  WEFT_BIN="$BUILD/bench/bench_scrape"
fi

GO_BIN=""
if [[ " $CLIENTS " == *" go "* ]]; then
  # A private copy of the Go sources: go build must not write into the shared folder.
  gosrc="$BUILD/go-scrape-src"
  rm -rf "$gosrc" && mkdir -p "$gosrc" && cp -r "$PEERS_SRC/src/go/." "$gosrc/"
  if command -v go >/dev/null 2>&1 &&
    (cd "$gosrc" && GOCACHE="$BUILD/.gocache" GOPATH="$BUILD/.gopath" GOPROXY=off GOFLAGS=-mod=mod \
      GO111MODULE=on GOTOOLCHAIN=local go build -trimpath -o "$BUILD/go_scrape" ./scrape) 2>/dev/null; then
    GO_BIN="$BUILD/go_scrape"
  elif [ -x "$PEERS_SRC/bin/go_scrape" ]; then
    GO_BIN="$PEERS_SRC/bin/go_scrape"
  else
    log "Go client unavailable (go build failed and no $PEERS_SRC/bin/go_scrape): skipped"
  fi
fi

# ---------------------------------------------------------------- server
if [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; then
  log "port $PORT is busy"; exit 1
fi
taskset -c "$SERVER_CPU" "$BUILD/delay_httpd" -p "$PORT" -n "$PAGES" -d "$DELAY_MS" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -s --noproxy '*' -m 1 -o /dev/null "$BASE/stats" && break
  sleep 0.05
done
curl -s --noproxy '*' -m 1 -o /dev/null "$BASE/stats" || { log "delay_httpd did not start"; exit 1; }

# ---------------------------------------------------------------- runs
OUT="$(mktemp -d /tmp/bench-scrape.XXXXXX)"
common=(--url "$BASE" -n "$PAGES" -c "$CONC" --delay-ms "$DELAY_MS" --timeout 120)
run_client() {  # run_client NAME LOGFILE
  local cl=$1 f=$2
  case $cl in
    weft) timeout 180 taskset -c "$CLIENT_CPU" "$WEFT_BIN" --url "$BASE" -n "$PAGES" -c "$CONC" --delay-ms "$DELAY_MS" "${weft_extra[@]}" ;;
    go) [ -n "$GO_BIN" ] || return 1
        timeout 180 taskset -c "$CLIENT_CPU" "$GO_BIN" -url "$BASE" -n "$PAGES" -c "$CONC" -delay-ms "$DELAY_MS" -timeout 120s ;;
    py-asyncio) timeout 180 taskset -c "$CLIENT_CPU" "$PYTHON" "$PEERS_SRC/src/py/scrape_asyncio.py" "${common[@]}" ;;
    py-aiohttp) timeout 180 taskset -c "$CLIENT_CPU" "$PYTHON" "$PEERS_SRC/src/py/scrape_aiohttp.py" "${common[@]}" ;;
    py-threads) timeout 180 taskset -c "$CLIENT_CPU" "$PYTHON" "$PEERS_SRC/src/py/scrape_threads.py" "${common[@]}" ;;
    *) log "unknown client $cl"; return 1 ;;
  esac >"$f" 2>&1
}
kv() { grep -o "$1=[0-9.]*" "$2" | head -1 | cut -d= -f2; }

for rep in $(seq "$REPS"); do
  for cl in $CLIENTS; do
    f="$OUT/${cl}_$rep.log"
    curl -s --noproxy '*' -m 5 -o /dev/null "$BASE/stats/reset"
    if run_client "$cl" "$f"; then
      rate=$(kv pages_per_s "$f"); ratio=$(kv ideal_ratio "$f")
      log "$cl #$rep: pages/s=$rate ratio=$ratio"
      echo "$cl $rep $rate $ratio" >>"$OUT/rows"
    else
      log "$cl #$rep: FAILED ($(tail -2 "$f" | tr '\n' ' '))"
      echo "$cl $rep - -" >>"$OUT/rows"
    fi
    grep -h '^RESULT' "$f" || true
  done
done
curl -s --noproxy '*' -m 5 "$BASE/stats" >"$OUT/server_stats.json" || true

# ---------------------------------------------------------------- table
echo
echo "scrape: $PAGES pages, $CONC in flight, ${DELAY_MS} ms per response; server on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU; median of $REPS"
[ ${#weft_extra[@]} -eq 0 ] || echo "weft: $WEFT_BIN ${weft_extra[*]}"
echo
echo "| client | pages/s | min-max | ratio to ideal |"
echo "|---|---:|---:|---:|"
for cl in $CLIENTS; do
  awk -v c="$cl" '$1==c && $3!="-" {print $3, $4}' "$OUT/rows" | sort -n | awk -v c="$cl" '
    { r[NR]=$1; q[NR]=$2 }
    END {
      if (NR == 0) { printf "| %s | failed | | |\n", c; exit }
      m = int((NR + 1) / 2)
      printf "| %s | %d | %d-%d | %.3f |\n", c, r[m], r[1], r[NR], q[m]
    }'
done
echo
echo "logs: $OUT"
