#!/usr/bin/env bash
# weft's http::server against nginx on the same "Hello, World!" workload,
# in one run so that machine noise hits both alike: a Release build
# (build-bench), then per repetition bench_http_hello and nginx the way the
# peer harness runs it (../shared/peers/net/run.sh, its http group:
# worker_processes 1, access_log off, keepalive_requests 100000000, its conf
# in a temp dir, pinned to CPU 0; `taskset -c 1 wrk -t1 -c100 -dDUR s
# --latency`, a 2 s warm-up first; server CPU from /proc/<pid>/stat of the
# master and worker). Prints each run, the medians and the ratio weft/nginx
# of server CPU microseconds per request (lower is better).
#
#   scripts/bench-http.sh                 # REPS=3 DUR=10
#   REPS=1 DUR=5 IO=epoll scripts/bench-http.sh
#
# Needs wrk and nginx (apt-get install wrk nginx); exits 2 without them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${WEFT_BUILD_DIR:-$ROOT/build-bench}"
REPS="${REPS:-3}"
DUR="${DUR:-10}"
IO="${IO:-uring}"
PORT="${NGINX_PORT:-19181}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"

log() { printf '[bench-http] %s\n' "$*" >&2; }
for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is not installed (apt-get install wrk nginx util-linux)"; exit 2; }
done

log "building bench_http_hello (Release, $BUILD)"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF \
  -DWEFT_BUILD_EXAMPLES=OFF >/dev/null
ninja -C "$BUILD" -j2 bench_http_hello >/dev/null

TMP="$(mktemp -d /tmp/weft-bench-http.XXXXXX)"
NGINX_PID=""
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP/tmp"
cat >"$TMP/nginx.conf" <<EOF
# nginx: 1 worker, fixed 13-byte body, keep-alive (practically unlimited requests/connection)
worker_processes 1;
daemon off;
master_process on;
user root;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 4096; use epoll; }
http {
  access_log off;
  server_tokens on;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  client_body_temp_path $TMP/tmp/body;
  proxy_temp_path $TMP/tmp/proxy;
  fastcgi_temp_path $TMP/tmp/fastcgi;
  uwsgi_temp_path $TMP/tmp/uwsgi;
  scgi_temp_path $TMP/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    location / {
      default_type text/plain;
      return 200 "Hello, World!";
    }
  }
}
EOF

HZ=$(getconf CLK_TCK)
ticks() {  # utime+stime of the given pids, in clock ticks
  local t=0 p f
  for p in "$@"; do
    f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
    set -- $f
    t=$((t + ${12} + ${13}))
  done
  echo "$t"
}
to_us() {  # 812.00us / 1.23ms / 2.00s -> microseconds
  awk -v x="$1" 'BEGIN{ if (x ~ /us$/) {sub(/us$/,"",x); print x+0}
                         else if (x ~ /ms$/) {sub(/ms$/,"",x); print x*1000}
                         else if (x ~ /s$/) {sub(/s$/,"",x); print x*1000000} }'
}

run_nginx() {  # -> "rps p99_us us_per_req cpu_pct"
  taskset -c "$SERVER_CPU" nginx -p "$TMP" -e "$TMP/error.log" -c "$TMP/nginx.conf" &
  NGINX_PID=$!
  local url=http://127.0.0.1:$PORT/ i
  for i in $(seq 100); do curl -s --noproxy '*' -m 1 -o /dev/null "$url" 2>/dev/null && break; sleep 0.05; done
  local pids="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
  taskset -c "$CLIENT_CPU" wrk -t1 -c100 -d2s "$url" >/dev/null 2>&1
  local t0 t1 s e out
  t0=$(ticks $pids); s=$(date +%s.%N)
  out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c100 -d"${DUR}s" --latency "$url")
  t1=$(ticks $pids); e=$(date +%s.%N)
  kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true; NGINX_PID=""
  local rps reqs p99
  rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
  reqs=$(awk '/requests in/{print $1}' <<<"$out")
  p99=$(to_us "$(awk '$1=="99%"{print $2}' <<<"$out")")
  awk -v r="$rps" -v n="$reqs" -v p="$p99" -v d=$((t1 - t0)) -v hz="$HZ" -v s="$s" -v e="$e" \
    'BEGIN{printf "%.0f %.1f %.2f %.0f\n", r, p, d/hz*1e6/n, 100*d/hz/(e-s)}'
}

run_weft() {
  local out
  out=$(taskset -c "$SERVER_CPU,$CLIENT_CPU" "$BUILD/bench/bench_http_hello" "$IO" "$DUR")
  grep -o 'rps=[^ ]*\|p99_us=[^ ]*\|server_us_per_req=[^ ]*\|server_cpu_pct=[^ ]*' <<<"$out" | cut -d= -f2 | tr '\n' ' '
  echo
}

W=() N=()
for rep in $(seq "$REPS"); do
  w=$(run_weft); n=$(run_nginx)
  log "rep $rep  weft($IO): rps p99_us us/req cpu% = $w"
  log "rep $rep  nginx:      rps p99_us us/req cpu% = $n"
  W+=("$w"); N+=("$n")
done
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
col() { local i=$1; shift; for l in "$@"; do echo "$l" | awk -v i="$i" '{print $i}'; done; }
wu=$(col 3 "${W[@]}" | median); nu=$(col 3 "${N[@]}" | median)
wr=$(col 1 "${W[@]}" | median); nr=$(col 1 "${N[@]}" | median)
wp=$(col 2 "${W[@]}" | median); np=$(col 2 "${N[@]}" | median)
echo "RESULT http_hello weft io=$IO rps=$wr p99_us=$wp server_us_per_req=$wu (median of $REPS, ${DUR}s)"
echo "RESULT http_hello nginx rps=$nr p99_us=$np server_us_per_req=$nu (median of $REPS, ${DUR}s)"
awk -v w="$wu" -v n="$nu" 'BEGIN{printf "RESULT http_hello ratio weft/nginx server_us_per_req=%.2f (target <= 0.7)\n", w/n}'
