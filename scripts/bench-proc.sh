#!/usr/bin/env bash
# weft's process pool against Python's process pools, in one interleaved run.
#
#   scripts/bench-proc.sh                # REPS=3
#   REPS=5 scripts/bench-proc.sh
#
# Builds weft's proc_* benchmarks in Release (WEFT_BUILD_DIR, default
# <repo>/build-bench; only those three targets, JOBS=2 compile jobs), then
# runs, REPS times, each rep in this order so that machine noise hits both
# sides alike:
#
#   py.ppe_tasks      ProcessPoolExecutor(2), 20,000 tasks x*x
#   weft.proc_tiny    process_pool(2), 1,000,000 pool.call(square, x) from 128 tasks
#   py.pool_map_def   multiprocessing.Pool(2).map, 200,000 items, default chunksize
#   weft.proc_tiny_map  pool.map over 1,000,000 items, default chunking
#   py.pool_map_c1    the same map with chunksize=1
#   py.ppe_latency    2,000 sequential submit(...).result()
#   weft.proc_latency 100,000 sequential co_await pool.call(...)
#   weft.proc_payload 1 MiB there and back per task, against memcpy
#
# The Python programs are the peer harness's own
# (PEERS_SRC/python/pool_bench.py, default ../shared/peers/cpu, run in
# place and never modified), invoked as its run.sh does ("$PYTHON
# python/pool_bench.py <workload>" from the peer folder); each run gets
# RUN_TIMEOUT seconds (default 300). Every RESULT line, with the 1-minute
# load average before the run (load1: how busy the machine was), goes to
# RESULTS_DIR/proc-<stamp>.txt (default <repo>/bench/results); at the end
# a table of medians (and min-max) and the targets:
#
#   proc_tiny tasks/s       >= 100 x py.ppe_tasks tasks/s
#   proc_tiny_map items/s   >=   1 x py.pool_map_def tasks/s
#   proc_latency p50        <=   5 us   (py.ppe_latency median beside it)
#   proc_payload ratio      >= 0.5 of memcpy
#
# Other knobs: PYTHON (default python3), WEFT_BUILD_DIR, JOBS, RESULTS_DIR,
# SKIP_BUILD=1 (use the binaries already built).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_SRC="${PEERS_SRC:-$ROOT/../shared/peers/cpu}"  # the shared peer harness beside the checkout
BUILD="${WEFT_BUILD_DIR:-$ROOT/build-bench}"
REPS="${REPS:-3}"
JOBS="${JOBS:-2}"
PYTHON="${PYTHON:-python3}"
RUN_TIMEOUT="${RUN_TIMEOUT:-300}"
RESULTS_DIR="${RESULTS_DIR:-$ROOT/bench/results}"

log() { printf '[bench-proc] %s\n' "$*" >&2; }

[[ $REPS =~ ^[1-9][0-9]*$ ]] || { log "REPS must be a positive integer, got '$REPS'"; exit 2; }
[ -f "$PEERS_SRC/python/pool_bench.py" ] || { log "no $PEERS_SRC/python/pool_bench.py"; exit 1; }
command -v "$PYTHON" >/dev/null || { log "no $PYTHON"; exit 1; }

# ---------------------------------------------------------------- build
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  generator=()
  command -v ninja >/dev/null 2>&1 && [ ! -f "$BUILD/Makefile" ] && generator=(-G Ninja)
  log "building the proc benchmarks (Release) in $BUILD"
  # Configured every time: bench/CMakeLists.txt reads benches.txt then.
  cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=ON >/dev/null
  cmake --build "$BUILD" --parallel "$JOBS" --target bench_proc_tiny bench_proc_latency bench_proc_payload
fi
for b in proc_tiny proc_latency proc_payload; do
  [ -x "$BUILD/bench/bench_$b" ] || { log "missing $BUILD/bench/bench_$b"; exit 1; }
done

# ---------------------------------------------------------------- run
BENCHES=(
  "py.ppe_tasks|$PYTHON python/pool_bench.py ppe_tasks"
  "weft.proc_tiny|$BUILD/bench/bench_proc_tiny"
  "py.pool_map_def|$PYTHON python/pool_bench.py pool_map_def"
  "weft.proc_tiny_map|$BUILD/bench/bench_proc_tiny map"
  "py.pool_map_c1|$PYTHON python/pool_bench.py pool_map_c1"
  "py.ppe_latency|$PYTHON python/pool_bench.py ppe_latency"
  "weft.proc_latency|$BUILD/bench/bench_proc_latency"
  "weft.proc_payload|$BUILD/bench/bench_proc_payload"
)

mkdir -p "$RESULTS_DIR"
RAW="$RESULTS_DIR/proc-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "# $(date -Is) $(uname -r), $(nproc) CPUs, $("$PYTHON" --version 2>&1), weft $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
} > "$RAW"
log "REPS=$REPS, results in $RAW"
failed=0
for rep in $(seq 1 "$REPS"); do
  for entry in "${BENCHES[@]}"; do
    name="${entry%%|*}" cmd="${entry#*|}"
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    # From the peer folder, as its run.sh runs the Python programs.
    # shellcheck disable=SC2086 # cmd is a word list on purpose
    if ! out="$(cd "$PEERS_SRC" && timeout "$RUN_TIMEOUT" $cmd 2>&1)"; then
      log "rep $rep: $name FAILED:"; printf '%s\n' "$out" | tail -5 >&2
      failed=1
      continue
    fi
    line="$(printf '%s\n' "$out" | grep -m1 '^RESULT ' || true)"
    [ -n "$line" ] || { log "rep $rep: $name printed no RESULT line"; failed=1; continue; }
    printf '%s load1=%s\n' "$line" "$load1" | tee -a "$RAW"
  done
done

# ---------------------------------------------------------------- table
echo
echo "== weft process pool vs Python pools: medians of $REPS runs ($RAW) =="
"$PYTHON" - "$RAW" <<'EOF'
import statistics, sys
from collections import defaultdict

runs = defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) > 1 and p[0] == "RESULT":
        runs[p[1]].append(dict(kv.split("=", 1) for kv in p[2:] if "=" in kv))

def vals(name, key):
    return [float(r[key]) for r in runs.get(name, []) if key in r]

def med(name, key):
    v = vals(name, key)
    return statistics.median(v) if v else None

def fmt(x):
    if x is None: return "-"
    if abs(x) >= 1e6: return f"{x/1e6:.2f}M"
    if abs(x) >= 1e4: return f"{x/1e3:.1f}k"
    if abs(x) >= 100: return f"{x:.0f}"
    return f"{x:.3g}"

print("| benchmark | metric | median | min-max | load1 (median) |")
print("|---|---|---:|---:|---:|")
rows = [("py.ppe_tasks", "tasks_per_s"), ("weft.proc_tiny", "tasks_per_s"),
        ("py.pool_map_def", "tasks_per_s"), ("weft.proc_tiny_map", "items_per_s"),
        ("py.pool_map_c1", "tasks_per_s"),
        ("py.ppe_latency", "median_us"), ("py.ppe_latency", "p99_us"),
        ("weft.proc_latency", "p50_us"), ("weft.proc_latency", "p99_us"), ("weft.proc_latency", "max_us"),
        ("weft.proc_payload", "gbps"), ("weft.proc_payload", "memcpy_gbps"), ("weft.proc_payload", "ratio")]
for name, key in rows:
    v = vals(name, key)
    if not v: continue
    print(f"| {name} | {key} | {fmt(statistics.median(v))} | {fmt(min(v))}-{fmt(max(v))} | {fmt(med(name, 'load1'))} |")

print()
print("| target | weft | Python | value | target | met? |")
print("|---|---:|---:|---:|---:|---|")
def target(label, w, p, value, goal, higher, unit=""):
    if value is None:
        print(f"| {label} | {fmt(w)} | {fmt(p)} | - | {goal}{unit} | n/a |")
        return
    ok = value >= goal if higher else value <= goal
    sign = ">=" if higher else "<="
    print(f"| {label} | {fmt(w)} | {fmt(p)} | {value:.3g}{unit} | {sign} {goal}{unit} | {'yes' if ok else 'NO'} |")

def ratio(a, b):
    return a / b if a is not None and b else None

w, p = med("weft.proc_tiny", "tasks_per_s"), med("py.ppe_tasks", "tasks_per_s")
target("proc_tiny / py.ppe_tasks (tasks/s)", w, p, ratio(w, p), 100, True, "x")
w, p = med("weft.proc_tiny_map", "items_per_s"), med("py.pool_map_def", "tasks_per_s")
target("proc_tiny map / py.pool_map_def (items/s)", w, p, ratio(w, p), 1, True, "x")
w, p = med("weft.proc_latency", "p50_us"), med("py.ppe_latency", "median_us")
target("proc_latency p50 (us; Python: median)", w, p, w, 5, False, " us")
if w is not None and p:
    print(f"| (proc_latency p50 vs py.ppe_latency median) | {fmt(w)} | {fmt(p)} | {p / w:.3g}x faster | - | - |")
w = med("weft.proc_payload", "gbps")
target("proc_payload GB/s vs memcpy (ratio)", w, med("weft.proc_payload", "memcpy_gbps"), med("weft.proc_payload", "ratio"), 0.5, True)
EOF
exit "$failed"
