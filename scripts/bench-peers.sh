#!/usr/bin/env bash
# Measure weft's bench/ programs beside the peer runtimes (Tokio, oneTBB, Go,
# Asio, Python pools) in ONE interleaved invocation of the peer harness
# (../shared/peers/cpu/run.sh), so machine noise hits every runtime alike.
#
#   scripts/bench-peers.sh [DEST]        # DEST: writable copy of the peers
#                                        #       (default /tmp/weft-peers-cpu)
#   REPS=5 scripts/bench-peers.sh        # repetitions (default 3)
#   ONLY='spawn_many|skynet|yield_many|fib|timers' scripts/bench-peers.sh
#                                        # ERE on benchmark names (weft.<w>,
#                                        # tokio.<w>, ...), passed to run.sh
#   ONLY='mutex_contended|channel_mpmc|ping_pong' REPS=1 scripts/bench-peers.sh
#
# Other knobs: PEERS_SRC (default ../shared/peers/cpu, never modified),
# WEFT_BUILD_DIR (default <repo>/build-bench), RUN_TIMEOUT, PYTHON, and any
# other variable run.sh reads. Needs root for run.sh's apt-get installs
# (cargo, golang-go, libtbb-dev, librust-tokio-dev); the first tokio build
# takes several minutes.
#
# What it does: copies the peer folder to DEST (keeping DEST's earlier build
# outputs), builds weft's benchmarks in Release, adds a
# "weft.<workload>|<build>/bench/bench_<workload>" entry to the copy's
# BENCHES array for every name in bench/benches.txt, runs the copy's run.sh
# (which prints the median table) and finally prints weft-vs-peer ratios.
#
# The harness has no peers for weft's sync workloads (mutex_contended,
# channel_mpmc), so this script also adds ours from bench/peers/ (see its
# README.md) to the copy: DEST/tokio_sync/ (cargo package with the harness's
# tokio dependency, offline vendoring and release profile; built into
# DEST/tokio/target so the tokio crates are compiled once) and DEST/go_sync/
# (standalone Go module). The copy's run.sh builds them right after its own
# peers (after its apt installs) into DEST/bin/{tokio_sync,go_sync} and runs
# "tokio.<w>" / "go.<w>" entries for both workloads in the same interleaved
# loop.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_SRC="${PEERS_SRC:-$ROOT/../shared/peers/cpu}"  # the shared peer harness beside the checkout
DEST="${1:-${DEST:-/tmp/weft-peers-cpu}}"
BUILD="${WEFT_BUILD_DIR:-$ROOT/build-bench}"
export REPS="${REPS:-3}"
export ONLY="${ONLY:-.}"

log() { printf '[bench-peers] %s\n' "$*" >&2; }

[ -f "$PEERS_SRC/run.sh" ] || { log "no peer harness at $PEERS_SRC/run.sh"; exit 1; }
case "$(cd "$(dirname "$DEST")" 2>/dev/null && pwd)/$(basename "$DEST")" in
  "$(cd "$PEERS_SRC" && pwd)"*) log "DEST must not be inside $PEERS_SRC"; exit 1 ;;
esac

# ---------------------------------------------------------------- copy
# Sources are refreshed on every call; bin/, _deps/, tokio/target/ and
# results/ in DEST are kept so later runs skip the slow peer builds.
log "copying $PEERS_SRC -> $DEST"
mkdir -p "$DEST"
chmod -R u+w "$DEST" 2>/dev/null || true
(cd "$PEERS_SRC" && tar cf - --exclude=./bin --exclude=./_deps --exclude=./tokio/target \
  --exclude=./results .) | (cd "$DEST" && tar xf - --no-same-owner)
chmod -R u+w "$DEST"

# ---------------------------------------------------------------- our peers
# Sources for weft's sync workloads' peers (bench/peers/). Files are only
# rewritten when their content changes (cp -p keeps the repo's mtime), so
# cargo does not rebuild an unchanged tokio_sync.
put() { if ! cmp -s - "$1" 2>/dev/null <<<"$2"; then printf '%s\n' "$2" > "$1"; fi; }
PEERS_OWN="$ROOT/bench/peers"
mkdir -p "$DEST/tokio_sync/src" "$DEST/tokio_sync/.cargo" "$DEST/go_sync"
cp -p "$DEST/tokio/.cargo/config.toml" "$DEST/tokio_sync/.cargo/config.toml"
toml="$(sed 's/^name = "tokio_bench"$/name = "tokio_sync"/' "$DEST/tokio/Cargo.toml")"
grep -q '^name = "tokio_sync"$' <<<"$toml" || { log "no 'name = \"tokio_bench\"' in $DEST/tokio/Cargo.toml"; exit 1; }
put "$DEST/tokio_sync/Cargo.toml" "$toml"
# Same crate versions as the harness's tokio_bench; run.sh's build line drops
# the lock and re-resolves offline if it no longer matches the registry.
[ -f "$DEST/tokio_sync/Cargo.lock" ] || [ ! -f "$DEST/tokio/Cargo.lock" ] \
  || sed 's/^name = "tokio_bench"$/name = "tokio_sync"/' "$DEST/tokio/Cargo.lock" > "$DEST/tokio_sync/Cargo.lock"
cp -p "$PEERS_OWN/tokio_sync.rs" "$DEST/tokio_sync/src/main.rs"
put "$DEST/go_sync/go.mod" "$(printf 'module weftsync\n\ngo 1.19')"
cp -p "$PEERS_OWN/go_sync.go" "$DEST/go_sync/main.go"

# ---------------------------------------------------------------- build weft
generator=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$BUILD/Makefile" ] && generator=(-G Ninja)
log "building weft benchmarks (Release) in $BUILD"
# Configure every time: bench/CMakeLists.txt reads bench/benches.txt at
# configure time only.
cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)"

entries=()
while IFS= read -r name || [ -n "$name" ]; do
  name="${name%%#*}"; name="${name//[[:space:]]/}"
  [ -n "$name" ] || continue
  exe="$BUILD/bench/bench_$name"
  [ -x "$exe" ] || { log "missing $exe"; exit 1; }
  case "$exe" in *[[:space:]]*) log "build path must not contain spaces: $exe"; exit 1 ;; esac
  case "$name" in
    # One program, two workloads (the harness keeps one RESULT line a run).
    fiber_switch) entries+=("weft.fiber_switch|$exe switch" "weft.fiber_spawn|$exe spawn") ;;
    proc_tiny) entries+=("weft.proc_tiny|$exe" "weft.proc_tiny_map|$exe map") ;;
    # I/O workloads: echo runs beside the network peers (scripts/bench-net.sh);
    # idle_conns and file_read have no peer in the CPU harness.
    echo|idle_conns|file_read) ;;
    *) entries+=("weft.$name|$exe") ;;
  esac
done < "$ROOT/bench/benches.txt"
log "weft entries: ${entries[*]}"
# Peers of the sync workloads ($BIN is expanded by run.sh).
for w in mutex_contended channel_mpmc; do
  entries+=("tokio.$w|\$BIN/tokio_sync $w" "go.$w|\$BIN/go_sync $w")
done

# ---------------------------------------------------------------- patch run.sh
# Insert the weft (and our peer) entries at the top of the copy's
# BENCHES=( ... ) array, and the build of tokio_sync / go_sync just before
# run.sh's SKIP_RUN check (after its own builds, so cargo/go are installed).
ins="$(mktemp)"
bld="$(mktemp)"
trap 'rm -f "$ins" "$bld"' EXIT
for e in "${entries[@]}"; do printf '  "%s"\n' "$e"; done > "$ins"
cat > "$bld" <<'BUILD'
# -- added by weft's scripts/bench-peers.sh: peers of weft's sync workloads
log "building tokio_sync (cargo --offline, target dir tokio/target)"
(cd tokio_sync && export CARGO_TARGET_DIR="$HERE/tokio/target" && {
  cargo build --release --offline --quiet 2>/dev/null \
  || { rm -f Cargo.lock; cargo build --release --offline --quiet; }; })
cp -p tokio/target/release/tokio_sync "$BIN/tokio_sync"
log "building go_sync"
(cd go_sync && GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on go build -o "$BIN/go_sync" .)

BUILD
# Also: when the system headers already are Boost 1.81, run.sh passes
# `-isystem /usr/include`, which breaks libstdc++'s #include_next <stdlib.h>
# ("stdlib.h: No such file or directory"); pass -isystem only for the
# unpacked _deps/ headers.
awk -v insfile="$ins" -v bldfile="$bld" '
  /-isystem "\$BOOST_INC" asio\/asio_bench\.cpp/ {
    match($0, /^ */)
    print substr($0, 1, RLENGTH) "ASIO_INC=(); [ \"$BOOST_INC\" = /usr/include ] || ASIO_INC=(-isystem \"$BOOST_INC\")"
    sub(/-isystem "\$BOOST_INC"/, "\"${ASIO_INC[@]}\"")
  }
  index($0, "[ \"${SKIP_RUN:-0}\" = 1 ]") == 1 && !built {
    while ((getline l < bldfile) > 0) print l; built = 1
  }
  { print }
  /^BENCHES=\($/ && !done { while ((getline l < insfile) > 0) print l; done = 1 }
  END { if (!done) exit 3; if (!built) exit 4 }
' "$PEERS_SRC/run.sh" > "$DEST/run.sh.new" \
  || { log "BENCHES=( or the SKIP_RUN check not found in run.sh"; exit 1; }
mv "$DEST/run.sh.new" "$DEST/run.sh"
chmod +x "$DEST/run.sh"
grep -q '"weft\.' "$DEST/run.sh" && grep -q 'tokio_sync' "$DEST/run.sh" \
  || { log "patching run.sh failed"; exit 1; }

# ---------------------------------------------------------------- run
log "running $DEST/run.sh (REPS=$REPS ONLY=$ONLY)"
before="$(ls -1 "$DEST"/results/raw-*.txt 2>/dev/null | sort | tail -1 || true)"
"$DEST/run.sh"
raw="$(ls -1 "$DEST"/results/raw-*.txt 2>/dev/null | sort | tail -1 || true)"
if [ -z "$raw" ] || [ "$raw" = "$before" ]; then
  log "no new raw results (SKIP_RUN?)"
  exit 0
fi

# ---------------------------------------------------------------- ratios
PY="${PYTHON:-python3}"
echo
echo "== weft vs peers, same run ($raw) =="
"$PY" - "$raw" <<'EOF'
import statistics, sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) > 1 and p[0] == "RESULT":
        runs[p[1]].append(dict(kv.split("=", 1) for kv in p[2:] if "=" in kv))

def med(name, key):
    vals = [float(r[key]) for r in runs.get(name, []) if key in r]
    return statistics.median(vals) if vals else None

# workload -> (metric, higher is better, count key for bytes/task)
metrics = {
    "spawn_many": ("tasks_per_s", True, "tasks"),
    "skynet": ("time_ms", False, "spawned"),
    "yield_many": ("yields_per_s", True, None),
    "fib": ("time_ms", False, None),
    "ping_pong": ("rt_per_s", True, None),
    "mutex_contended": ("ops_per_s", True, None),
    "channel_mpmc": ("msgs_per_s", True, None),
}
def fmt(x):
    if x is None: return "-"
    if abs(x) >= 1e6: return f"{x/1e6:.2f}M"
    if abs(x) >= 1e4: return f"{x/1e3:.1f}k"
    return f"{x:.4g}"

print("| workload | metric | weft | peer | peer value | weft/peer | weft better? | weft RSS/task |")
print("|---|---|---:|---|---:|---:|---|---:|")
for wl, (m, higher, count_key) in metrics.items():
    w = med(f"weft.{wl}", m)
    if w is None:
        continue
    rss = ""
    if count_key:
        r, c = med(f"weft.{wl}", "peak_rss_kb"), med(f"weft.{wl}", count_key)
        if r and c: rss = f"{r * 1024 / c:.0f} B"
    peers = [(f"{p}.{wl}", m) for p in ("tokio", "tbb", "go", "asio")]
    if wl == "fib":
        peers.insert(2, ("tbb.fib", "time_tg1_ms"))
    for name, key in peers:
        v = med(name, key)
        if v is None:
            continue
        ratio = w / v
        better = (ratio > 1) if higher else (ratio < 1)
        label = name + (" (tg1)" if key == "time_tg1_ms" else "")
        variant = runs[name][0].get("variant")  # e.g. tokio.channel_mpmc: mpsc + shared rx
        if variant:
            label += f" ({variant})"
        print(f"| {wl} | {m} | {fmt(w)} | {label} | {fmt(v)} | {ratio:.2f} | {'yes' if better else 'no'} | {rss} |")
for wl in ("timers", "frame_alloc"):
    if runs.get(f"weft.{wl}"):
        keys = [k for k in runs[f"weft.{wl}"][0] if k not in ("load1",)]
        vals = " ".join(f"{k}={fmt(med(f'weft.{wl}', k))}" for k in keys)
        print(f"weft.{wl} (median): {vals}")
EOF
