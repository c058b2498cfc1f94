#!/usr/bin/env bash
# Measure weft's echo server beside the network peers (plain C liburing and
# epoll servers, Tokio, Asio, Go) in ONE interleaved run of the peer harness
# (../shared/peers/net/run.sh, its "echo" group), so that machine noise
# hits every server alike, then print weft-vs-peer ratios.
#
#   scripts/bench-net.sh [DEST]          # DEST: writable copy of the peers
#                                        #       (default /tmp/weft-peers-net)
#   REPS=3 DUR=10 scripts/bench-net.sh   # repetitions, measured seconds
#
# Knobs passed through to run.sh: REPS (default 3), DUR (default 10), WARM,
# CONNS, SIZE, ECHO_ENGINE, QUIET_WAIT, QUIET_BUDGET, SERVER_CPU, CLIENT_CPU,
# ECHO_CONFIGS (default here: "pinned"; the harness's default also runs
# "unpinned") and ECHO_PEERS (default here: "weft-uring weft-epoll c-uring
# c-epoll tokio asio go"). Others: PEERS_SRC (default ../shared/peers/net,
# never modified), WEFT_BUILD_DIR (default <repo>/build-net), PYTHON.
#
# What it does: copies the peer folder to DEST (keeping DEST's bin/,
# third_party/, caches and results/ so the peers are built once), builds
# weft's echo_server (and the echo benchmarks) in Release, patches the
# copy's run.sh with two more echo peers, weft-uring and weft-epoll
# (echo_server --workers 1 --io uring|epoll --port P, on ports 19111 and
# 19112), runs `run.sh echo`, and prints the ratios: weft's server CPU per
# message against c-uring's, weft's msgs/s against tokio's. run.sh needs
# root for its apt-get installs; its first build (Tokio, Go, Asio, the C
# servers and the echo_load client) takes a few minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_SRC="${PEERS_SRC:-$ROOT/../shared/peers/net}"  # the shared peer harness beside the checkout
DEST="${1:-${DEST:-/tmp/weft-peers-net}}"
BUILD="${WEFT_BUILD_DIR:-$ROOT/build-net}"
export REPS="${REPS:-3}"
export DUR="${DUR:-10}"
export ECHO_CONFIGS="${ECHO_CONFIGS:-pinned}"
export ECHO_PEERS="${ECHO_PEERS:-weft-uring weft-epoll c-uring c-epoll tokio asio go}"

log() { printf '[bench-net] %s\n' "$*" >&2; }

[ -f "$PEERS_SRC/run.sh" ] || { log "no peer harness at $PEERS_SRC/run.sh"; exit 1; }
case "$(cd "$(dirname "$DEST")" 2>/dev/null && pwd)/$(basename "$DEST")" in
  "$(cd "$PEERS_SRC" && pwd)"*) log "DEST must not be inside $PEERS_SRC"; exit 1 ;;
esac

# ---------------------------------------------------------------- copy
# Sources are refreshed on every call; build outputs and results in DEST
# are kept (run.sh rebuilds only what is older than its source).
log "copying $PEERS_SRC -> $DEST"
mkdir -p "$DEST"
chmod -R u+w "$DEST" 2>/dev/null || true
(cd "$PEERS_SRC" && tar cf - --exclude=./bin --exclude=./third_party --exclude=./.gocache \
  --exclude=./.gopath --exclude=./.cargo-home --exclude=./src/tokio_echo/target --exclude=./results \
  --exclude=./build.log .) | (cd "$DEST" && tar xf - --no-same-owner)
chmod -R u+w "$DEST"
[ -f "$DEST/run.sh" ] || { log "copy failed"; exit 1; }

# ---------------------------------------------------------------- build weft
generator=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$BUILD/Makefile" ] && generator=(-G Ninja)
log "building weft's echo_server and echo benchmarks (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=ON -DWEFT_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" --parallel "${JOBS:-2}" --target echo_server bench_echo bench_idle_conns
WEFT_ECHO="$BUILD/examples/echo_server"
[ -x "$WEFT_ECHO" ] || { log "missing $WEFT_ECHO"; exit 1; }
case "$WEFT_ECHO" in *[[:space:]]*) log "build path must not contain spaces: $WEFT_ECHO"; exit 1 ;; esac

# ---------------------------------------------------------------- patch run.sh
# Two more entries in the ECHO_PORT table and two more cases in
# echo_server_cmd(); everything else (pinning, CPU accounting, interleaving,
# the aggregate table) is the harness's own.
awk -v exe="$WEFT_ECHO" '
  /^declare -A ECHO_PORT=\(/ && !port { sub(/\(/, "([weft-uring]=19111 [weft-epoll]=19112 "); port = 1 }
  { print }
  /^echo_server_cmd\(\) \{/ { fn = 1 }
  fn && /^  case \$peer in$/ && !cmd {
    print "    weft-uring) SCMD=(\"" exe "\" --workers 1 --io uring --port \"$port\") ;;"
    print "    weft-epoll) SCMD=(\"" exe "\" --workers 1 --io epoll --port \"$port\") ;;"
    cmd = 1
  }
  END { if (!port) exit 3; if (!cmd) exit 4 }
' "$PEERS_SRC/run.sh" > "$DEST/run.sh.new" \
  || { log "ECHO_PORT table or echo_server_cmd() not found in run.sh"; exit 1; }
mv "$DEST/run.sh.new" "$DEST/run.sh"
chmod +x "$DEST/run.sh"
grep -q 'weft-uring) SCMD=' "$DEST/run.sh" && grep -q '\[weft-epoll\]=19112' "$DEST/run.sh" \
  || { log "patching run.sh failed"; exit 1; }

# ---------------------------------------------------------------- run
log "running $DEST/run.sh echo (REPS=$REPS DUR=$DUR ECHO_CONFIGS=$ECHO_CONFIGS ECHO_PEERS=$ECHO_PEERS)"
before="$(readlink "$DEST/results/latest" 2>/dev/null || true)"
"$DEST/run.sh" echo
latest="$(readlink "$DEST/results/latest" 2>/dev/null || true)"
if [ -z "$latest" ] || [ "$latest" = "$before" ]; then
  log "no new results"
  exit 1
fi
raw="$DEST/results/$latest/raw.tsv"

# ---------------------------------------------------------------- ratios
PY="${PYTHON:-python3}"
echo
echo "== weft vs peers, echo, same run ($raw) =="
"$PY" - "$raw" <<'EOF'
import statistics, sys
from collections import defaultdict

runs = defaultdict(list)  # (config, peer) -> [(rate, p50, p99, server us/msg)]
with open(sys.argv[1]) as fh:
    hdr = fh.readline().rstrip("\n").split("\t")
    for line in fh:
        r = dict(zip(hdr, line.rstrip("\n").split("\t")))
        if r.get("group") != "echo" or r.get("ok") != "1":
            continue
        try:
            rate, cpu = float(r["rate"]), float(r["server_cpu"])
        except ValueError:
            continue
        us = cpu / 100 / rate * 1e6 if rate > 0 else None
        runs[(r["config"], r["peer"])].append((rate, float(r["p50_us"] or 0), float(r["p99_us"] or 0), us))

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

for cfg in sorted({c for c, _ in runs}):
    print(f"\n### {cfg}\n")
    print("| peer | msgs/s | p50 us | p99 us | server us/msg | runs |")
    print("|---|---:|---:|---:|---:|---:|")
    m = {}
    for (c, peer), rs in sorted(runs.items(), key=lambda kv: kv[0][1]):
        if c != cfg:
            continue
        m[peer] = [med([r[i] for r in rs]) for i in range(4)]
        rate, p50, p99, us = m[peer]
        print(f"| {peer} | {rate:,.0f} | {p50:,.0f} | {p99:,.0f} | {us:.2f} | {len(rs)} |")
    print()
    for w in ("weft-uring", "weft-epoll"):
        if w not in m:
            continue
        if "c-uring" in m:
            print(f"{w}: server us/msg {m[w][3]:.2f} vs c-uring {m['c-uring'][3]:.2f}: "
                  f"{m[w][3] / m['c-uring'][3]:.2f}x (target <= 1.10)")
        if "c-epoll" in m:
            print(f"{w}: server us/msg vs c-epoll {m['c-epoll'][3]:.2f}: {m[w][3] / m['c-epoll'][3]:.2f}x")
        if "tokio" in m:
            print(f"{w}: msgs/s {m[w][0]:,.0f} vs tokio {m['tokio'][0]:,.0f}: "
                  f"{m[w][0] / m['tokio'][0]:.2f}x (target >= 1.5); "
                  f"server us/msg vs tokio {m['tokio'][3]:.2f}: {m[w][3] / m['tokio'][3]:.2f}x")
EOF
