#!/usr/bin/env bash
# bench/skiff-l4.sh — Skiff's sidecar pair side by side with HAProxy and nginx, through the shared harness
# (../shared/bench/run.sh and its README): wrk → A (plain in, mTLS out) → B (PERMISSIVE: sniff, terminate
# mTLS or pass plaintext) → app, the one-hop plaintext path through B, and the direct path.
#
#   bench/skiff-l4.sh [bench]     verify, then measure every VARIANT against the built-in peers (~11 min
#                                 at DURATION=10: tcp with PEERS, then http with HTTP_PEERS); a summary of
#                                 the issue's targets in $OUT/summary.md
#   bench/skiff-l4.sh verify      the harness's conformance checks only, every VARIANT (~1 min)
#   bench/skiff-l4.sh cost        Skiff alone, by hand (the harness's app, the same bootstraps): CPU time of
#                                 A and B per request for each of COST_CELLS, read from /proc/<pid>/stat around
#                                 a fixed wrk run, and RSS — a figure that holds while other work shares the
#                                 CPUs, unlike requests/s (~1 min per variant)
#   bench/skiff-l4.sh profile     `cost` with A and B under `node --cpu-prof`: top self-time functions of each
#                                 profile in $OUT/profile-top.md; PERF=1 adds `perf record -g` (native frames:
#                                 OpenSSL, V8, kernel)
#   bench/skiff-l4.sh render DIR  write skiff-a.yaml / skiff-b.yaml of VARIANT for the harness's environment
#   bench/skiff-l4.sh proxy A|B   (what A_CMD / B_CMD run) render that side's bootstrap from the harness's
#                                 MESH_* environment into $MESH_RUN_DIR and exec `node bin/skiff.js proxy`
#
# Run it from anywhere after `npm ci` (which builds dist/; this script builds nothing). Needs the harness, which
# is not part of this repository (HARNESS below; checked first), and root: apt-get installs haproxy, nginx-light,
# libnginx-mod-stream, wrk, curl, openssl and tcpdump when one is missing.
#
# Variants (the bootstraps are bench/skiff-{a,b}.yaml.tmpl; the network filter comes from
# bench/skiff-filter-$VARIANT.yaml.tmpl, and the HTTP filters from bench/skiff-http-filters.yaml.tmpl):
#   tcp   tcp_proxy on both proxies — the L4 relay the harness's HAProxy and nginx are;
#   http  http_connection_manager + router on both (HTTP/1.1 parsed, routed, XFCC added by B).
#
# Environment (defaults):
#   VARIANTS="tcp http"            variants that bench / verify / cost / profile run, in order
#   VARIANT=tcp                    the variant of `render` and `proxy` (bench sets it for the harness)
#   PEERS="custom haproxy nginx"   harness peers in the tcp run (custom = Skiff)
#   HTTP_PEERS="custom haproxy"    harness peers in the http run (HAProxy again: the same-run L4 reference);
#                                  the http run sets FORCE=1 unless FORCE is given (see run_harness)
#   CERTS=/tmp/skiff-bench-certs   harness certificates (made by the harness's gen-certs.sh when missing)
#   OUT=/tmp/skiff-bench-results/<UTC stamp>   results (one folder per variant, summary.md, rss.md)
#   HARNESS=<repo>/../shared/bench the harness
#   DURATION=10 and the harness's other knobs (MODES, PATHS, CONNS, DIRECT, …) pass through to run.sh;
#                                  the http run sets DIRECT=0 unless DIRECT is given (the tcp run has it)
#   SKIFF_TLS_MAX=TLSv1_3          A's maximum TLS version (Envoy's client default is TLS 1.2; the harness's
#                                  HAProxy and nginx negotiate TLS 1.3)
#   SKIFF_LOG_LEVEL=warn  SKIFF_DRAIN_TIME=1s  SKIFF_A_ADMIN_PORT=15100  SKIFF_B_ADMIN_PORT=15101
#   SKIFF_NODE_FLAGS="--max-semi-space-size=2 --max-old-space-size=128"   node flags of both proxies
#                                  (profile adds --cpu-prof …). The 2 MB young generation keeps each proxy
#                                  ~30 MB smaller under load; the 128 MB old-generation cap (16× the live heap)
#                                  makes V8 collect before it grows, which keeps RSS under connection churn at
#                                  ~75 MB instead of 100–135 (docs/performance.md); run the sidecar with them too
#   COST_CELLS="mesh/ka mesh/close plain1/ka plain1/close"  COST_SECONDS=10  WARMUP_SECONDS=2   (cost, profile)
#   CHURN_SECONDS=0                (cost, profile) seconds of plaintext Connection: close load through B before
#                                  each cell, as the harness's sequence does before its mesh cells
#   PROF=/tmp/skiff-prof           .cpuprofile and perf.data files (profile)
#
# Memory: while the harness runs, a sampler reads VmRSS/VmHWM of each Skiff proxy from /proc/<pid>/status every
# 0.5 s and labels each sample with the wrk cell running then (the port says the path, -c and "Connection:
# close" the mode): $OUT/<variant>/rss.md.
#
# Only processes this script started are ever signalled (by PID); run.sh does the same for its own.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CMD="${1:-bench}"

HARNESS="${HARNESS:-$REPO/../shared/bench}"
CERTS="${CERTS:-/tmp/skiff-bench-certs}"
OUT="${OUT:-/tmp/skiff-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"
VARIANTS="${VARIANTS:-tcp http}"
export VARIANT="${VARIANT:-tcp}"
PEERS="${PEERS:-custom haproxy nginx}"
HTTP_PEERS="${HTTP_PEERS:-custom haproxy}"
export SKIFF_TLS_MAX="${SKIFF_TLS_MAX:-TLSv1_3}"
export SKIFF_LOG_LEVEL="${SKIFF_LOG_LEVEL:-warn}"
export SKIFF_DRAIN_TIME="${SKIFF_DRAIN_TIME:-1s}"
export SKIFF_A_ADMIN_PORT="${SKIFF_A_ADMIN_PORT:-15100}"
export SKIFF_B_ADMIN_PORT="${SKIFF_B_ADMIN_PORT:-15101}"
export SKIFF_NODE_FLAGS="${SKIFF_NODE_FLAGS---max-semi-space-size=2 --max-old-space-size=128}"
COST_CELLS="${COST_CELLS:-mesh/ka mesh/close plain1/ka plain1/close}"
COST_SECONDS="${COST_SECONDS:-10}"
WARMUP_SECONDS="${WARMUP_SECONDS:-2}"
PROF="${PROF:-/tmp/skiff-prof}"

log() { printf '[skiff-l4] %s\n' "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
# The harness is not part of this repository: it sits beside it (../shared/bench) where the benchmark was set up.
# Checked before anything is installed or started.
need_harness() {
  [ -x "$HARNESS/run.sh" ] && [ -x "$HARNESS/gen-certs.sh" ] && return 0
  die "no benchmark harness at $HARNESS (run.sh and gen-certs.sh): it is not part of this repository, so a" \
    "clone does not have it; set HARNESS=DIR to a copy of it. Nothing was installed or started."
}

# ------------------------------------------------------------------ bootstraps
split_env() { # the host and port halves of the harness's HOST:PORT variables, for the templates
  local v hp
  for v in A_LISTEN A_UPSTREAM B_LISTEN B_UPSTREAM; do
    hp="MESH_$v"
    [ -n "${!hp:-}" ] || die "$hp is not set (run through the harness, or: eval \"\$(run.sh env)\")"
    export "${v}_HOST=${!hp%:*}" "${v}_PORT=${!hp##*:}"
  done
}
render_side() { # a|b dir — $dir/skiff-<side>.yaml for $VARIANT
  [ -f "$HERE/skiff-filter-$VARIANT.yaml.tmpl" ] || die "VARIANT=$VARIANT? (tcp|http)"
  # The harness's TLS_REUSE=0 (no resumption; its HAProxy binds with no-tls-tickets, its nginx has
  # ssl_session_tickets off): B issues no session tickets either.
  local no_tickets=true
  [ "${MESH_TLS_SESSION_REUSE:-0}" = 1 ] && no_tickets=false
  SKIFF_B_NO_TICKETS=$no_tickets node "$HERE/render.mjs" "$HERE/skiff-$1.yaml.tmpl" "$2/skiff-$1.yaml"
}
harness_env() { # the MESH_* variables run.sh hands its peers, as shell (MESH_RUN_DIR excepted: run.sh makes one)
  CERTS="$CERTS" "$HARNESS/run.sh" env | grep -v '^MESH_RUN_DIR=' | sed 's/^/export /'
}

if [ "$CMD" = proxy ]; then
  case "${2:-}" in A | a) side=a ;; B | b) side=b ;; *) die "usage: skiff-l4.sh proxy A|B" ;; esac
  dir="${MESH_RUN_DIR:-$(mktemp -d /tmp/skiff-bench.XXXXXX)}"
  split_env
  render_side "$side" "$dir"
  # exec keeps this PID, so the PID file names node itself (the RSS sampler and `cost` read it).
  [ -n "${SKIFF_PID_DIR:-}" ] && echo $$ >"$SKIFF_PID_DIR/skiff-${side^^}.pid"
  cd "$REPO"
  # shellcheck disable=SC2086
  exec node $SKIFF_NODE_FLAGS bin/skiff.js proxy --config "$dir/skiff-$side.yaml" \
    --log-level "$SKIFF_LOG_LEVEL" --log-format text --drain-time "$SKIFF_DRAIN_TIME"
fi

if [ "$CMD" = render ]; then
  [ -n "${2:-}" ] || die "usage: skiff-l4.sh render DIR"
  [ -n "${MESH_A_LISTEN:-}" ] || { need_harness && eval "$(harness_env)"; }
  split_env
  mkdir -p "$2"
  render_side a "$2" && render_side b "$2"
  log "wrote $2/skiff-a.yaml $2/skiff-b.yaml (VARIANT=$VARIANT)"
  exit 0
fi

# ------------------------------------------------------------------ prerequisites
case "$CMD" in
  bench | verify | cost | profile) ;;
  *) die "unknown command '$CMD' (bench|verify|cost|profile|render DIR|proxy A|B)" ;;
esac
need_harness
need_packages() {
  local missing=0 t
  for t in haproxy nginx wrk curl openssl tcpdump; do command -v "$t" >/dev/null || missing=1; done
  [ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || missing=1
  if [ $missing = 1 ]; then
    log "installing the harness's packages (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy nginx-light libnginx-mod-stream wrk curl \
      openssl tcpdump >/dev/null
  fi
}
need_packages
[ -f "$REPO/dist/src/cli/main.js" ] || die "dist/ is missing: run npm ci (this script builds nothing)"
port_busy() { ss -ltnH "sport = :$1" | grep -q .; }
for p in "$SKIFF_A_ADMIN_PORT" "$SKIFF_B_ADMIN_PORT"; do
  ! port_busy "$p" || die "admin port $p is in use (set SKIFF_A_ADMIN_PORT/SKIFF_B_ADMIN_PORT)"
done
[ -f "$CERTS/ca.crt" ] || "$HARNESS/gen-certs.sh" "$CERTS" >/dev/null
mkdir -p "$OUT"

# Every variant's bootstraps are rendered and checked once, with the harness's environment, before anything runs.
(
  eval "$(harness_env)"
  split_env
  for VARIANT in $VARIANTS; do
    mkdir -p "$OUT/$VARIANT"
    for side in a b; do
      render_side "$side" "$OUT/$VARIANT"
      node "$REPO/bin/skiff.js" proxy --config "$OUT/$VARIANT/skiff-$side.yaml" --check \
        >"$OUT/$VARIANT/check-$side.txt" 2>&1 ||
        die "$VARIANT bootstrap $side refused by skiff proxy --check: $(cat "$OUT/$VARIANT/check-$side.txt")"
    done
  done
)

describe_machine() {
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "node=$(node -v) node_openssl=$(node -p process.versions.openssl) system_openssl=$(openssl version | awk '{print $2}')"
  echo "skiff_commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo '+local-changes') dist_built=$(date -u -r "$REPO/dist/src/cli/main.js" +%Y-%m-%dT%H:%M:%SZ)"
  echo "VARIANTS=$VARIANTS SKIFF_TLS_MAX=$SKIFF_TLS_MAX SKIFF_LOG_LEVEL=$SKIFF_LOG_LEVEL SKIFF_NODE_FLAGS=$SKIFF_NODE_FLAGS"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
}

# ------------------------------------------------------------------ RSS sampler (bench, verify)
current_cell() { # path/mode of the wrk running now (read from its /proc cmdline), or "idle"
  local p args path mode
  for p in $(pgrep -x wrk 2>/dev/null); do
    args="$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" || continue
    path=other mode=ka
    case "$args" in *":15001/"*) path=mesh ;; *":15006/"*) path=plain1 ;; *":18080/"*) path=direct ;; esac
    case "$args" in
      *"Connection: close"*) mode=close; [[ "$args" == *" -c1 "* ]] && mode=close1 ;;
      *) [[ "$args" == *" -c1 "* ]] && mode=lat ;;
    esac
    echo "$path/$mode"
    return
  done
  echo idle
}
rss_sampler() { # dir: one line per Skiff proxy every 0.5 s into dir/rss-samples.tsv, until killed
  local dir=$1 cell role pid t
  printf 'epoch\tcell\trole\tpid\tvmrss_kb\tvmhwm_kb\n' >"$dir/rss-samples.tsv"
  while :; do
    cell="$(current_cell)"
    t="$(date +%s.%N)"
    for role in A B; do
      pid="$(cat "$dir/skiff-$role.pid" 2>/dev/null || true)"
      [ -n "$pid" ] && grep -qa skiff.js "/proc/$pid/cmdline" 2>/dev/null || continue
      awk -v t="$t" -v c="$cell" -v r="$role" -v p="$pid" \
        '/^VmRSS:/ {rss = $2} /^VmHWM:/ {hwm = $2} END {if (rss) printf "%s\t%s\t%s\t%s\t%s\t%s\n", t, c, r, p, rss, hwm}' \
        "/proc/$pid/status" 2>/dev/null >>"$dir/rss-samples.tsv" || true
    done
    sleep 0.5
  done
}
rss_summary() { # samples file -> markdown
  echo "| cell (Skiff running) | A VmRSS MB max | B VmRSS MB max | A+B MB max | samples |"
  echo "|---|---:|---:|---:|---:|"
  awk -F'\t' 'NR > 1 {
      k = $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      if ($3 == "A" && $5 > a[k]) a[k] = $5
      if ($3 == "B" && $5 > b[k]) b[k] = $5
      cnt[k]++
      s[k, $1] += $5; if (s[k, $1] > ab[k]) ab[k] = s[k, $1]
      if ($6 > hwm[$3]) hwm[$3] = $6
    }
    END {
      for (i = 1; i <= n; i++) { k = order[i]
        printf "| %s | %.1f | %.1f | %.1f | %d |\n", k, a[k] / 1024, b[k] / 1024, ab[k] / 1024, cnt[k] }
      printf "\nPeak (VmHWM) over the whole run: A %.1f MB, B %.1f MB.\n", hwm["A"] / 1024, hwm["B"] / 1024
    }' "$1"
}

# ------------------------------------------------------------------ bench / verify (through the harness)
run_harness() { # run.sh-mode variant
  local mode=$1 variant=$2 dir="$OUT/$2" peers=$PEERS direct=${DIRECT:-1} rc=0 sampler
  local force=${FORCE:-0}
  # The http run measures even when checks 3 and 8 fail: they expect a new upstream connection (a SYN to the
  # app, a handshake on A->B) per request, which an HTTP proxy's keep-alive upstream pool does not open.
  if [ "$variant" != tcp ]; then peers=$HTTP_PEERS direct=${DIRECT:-0} force=${FORCE:-1}; fi
  log "$mode, VARIANT=$variant, PEERS=\"$peers\""
  rss_sampler "$dir" &
  sampler=$!
  VARIANT=$variant SKIFF_PID_DIR="$dir" CERTS="$CERTS" OUT="$dir" PEERS="$peers" DIRECT="$direct" FORCE="$force" \
    CUSTOM_NAME="skiff-$variant" CUSTOM_CWD="$REPO" \
    A_CMD="bench/skiff-l4.sh proxy A" B_CMD="bench/skiff-l4.sh proxy B" \
    "$HARNESS/run.sh" "$mode" || rc=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  rss_summary "$dir/rss-samples.tsv" >"$dir/rss.md"
  log "$variant: harness exit $rc, results in $dir"
  return $rc
}

summary() { # the issue's targets from the runs' results.tsv files -> markdown
  echo "# Skiff side by side ($(date -u +%Y-%m-%d), $(nproc) CPUs, one worker each)"
  echo
  sed 's/^/    /' "$OUT/machine.txt"
  for v in $VARIANTS; do
    [ -f "$OUT/$v/table.md" ] || continue
    echo
    echo "## VARIANT=$v"
    echo
    cat "$OUT/$v/table.md"
    echo
    cat "$OUT/$v/rss.md"
  done
  echo
  echo "## Targets (ratios within one harness run)"
  echo
  echo "| target | Skiff | reference | result |"
  echo "|---|---:|---:|---|"
  local f
  for f in "$OUT"/*/results.tsv; do awk -F'\t' -v run="$(basename "$(dirname "$f")")" 'NR > 1 { print run "\t" $0 }' "$f"; done |
    awk -F'\t' '
      { k = $1 "|" $2 "|" $3 "|" $4; rps[k] = $6; p50[k] = $7; rss[k] = $14 }
      function row(name, a, b, ok) { printf "| %s | %s | %s | %s |\n", name, a, b, ok ? "met" : "NOT met" }
      END {
        t = "tcp|skiff-tcp"; h = "http|skiff-http"
        if ((t "|mesh|ka") in rps && ("tcp|haproxy|mesh|ka") in rps) {
          r = rps[t "|mesh|ka"] / rps["tcp|haproxy|mesh|ka"]
          row(sprintf("mesh ka rps, tcp_proxy >= 0.75x HAProxy: %.2fx", r), rps[t "|mesh|ka"], rps["tcp|haproxy|mesh|ka"], r >= 0.75)
        }
        if ((h "|mesh|ka") in rps && ("http|haproxy|mesh|ka") in rps) {
          r = rps[h "|mesh|ka"] / rps["http|haproxy|mesh|ka"]
          row(sprintf("mesh ka rps, HCM >= 0.5x HAProxy (L4): %.2fx", r), rps[h "|mesh|ka"], rps["http|haproxy|mesh|ka"], r >= 0.5)
        }
        if ((t "|mesh|close") in rps && ("tcp|haproxy|mesh|close") in rps) {
          r = rps[t "|mesh|close"] / rps["tcp|haproxy|mesh|close"]
          row(sprintf("new mTLS connections/s >= 0.75x HAProxy: %.2fx", r), rps[t "|mesh|close"], rps["tcp|haproxy|mesh|close"], r >= 0.75)
        }
        if ((t "|mesh|lat") in p50 && ("tcp|direct|direct|lat") in p50) {
          d = p50[t "|mesh|lat"] - p50["tcp|direct|direct|lat"]
          row(sprintf("two hops add <= 0.15 ms p50 at 1 connection: +%.3f ms", d), p50[t "|mesh|lat"] " ms", p50["tcp|direct|direct|lat"] " ms (direct)", d <= 0.15)
        }
      }'
  echo
  echo "RSS target (<= 80 MB per proxy under load): see the VmRSS columns above."
}

# ------------------------------------------------------------------ cost / profile (Skiff alone, by hand)
RIG_PIDS=()
RIG_DIR=""
rig_cleanup() {
  local p
  for p in "${RIG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${RIG_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  [ -n "$RIG_DIR" ] && rm -rf "$RIG_DIR"
}
wait_port() { # port pid
  local i
  for ((i = 0; i < 150; i++)); do
    kill -0 "$2" 2>/dev/null || return 1
    port_busy "$1" && return 0
    sleep 0.1
  done
  return 1
}
stop_pid() { # pid: SIGTERM, wait (node writes --cpu-prof profiles at exit), SIGKILL after 10 s
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
start_app() { # the harness's app: nginx `return 200` with a 1 KiB body, one worker
  mkdir -p "$RIG_DIR/app-tmp"
  cat >"$RIG_DIR/app.conf" <<EOF
user root;
worker_processes 1;
pid $RIG_DIR/app.pid;
error_log $RIG_DIR/app-error.log warn;
daemon off;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $RIG_DIR/app-tmp; proxy_temp_path $RIG_DIR/app-tmp; fastcgi_temp_path $RIG_DIR/app-tmp;
  uwsgi_temp_path $RIG_DIR/app-tmp; scgi_temp_path $RIG_DIR/app-tmp;
  keepalive_requests 10000000; keepalive_timeout 75s; default_type text/plain;
  server {
    listen ${MESH_B_UPSTREAM} backlog=4096;
    location / { add_header X-Bench-App 1; return 200 "$(head -c 1023 /dev/zero | tr '\0' 'x')
"; }
  }
}
EOF
  nginx -p "$RIG_DIR" -c "$RIG_DIR/app.conf" >"$RIG_DIR/app.log" 2>&1 &
  RIG_PIDS+=($!)
  wait_port "${MESH_B_UPSTREAM##*:}" $! || die "app did not start: $(cat "$RIG_DIR/app.log")"
}
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; } # utime+stime of one process
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }  # pid VmRSS|VmHWM

cost_cell() { # variant path/mode profile(0|1) — one line of cost.tsv
  local variant=$1 path=${2%/*} mode=${2#*/} profile=$3 dir="$OUT/$1"
  local target=$MESH_A_LISTEN conns=32 threads=2 hdr=()
  [ "$path" = plain1 ] && target=$MESH_B_LISTEN
  case "$path/$mode" in mesh/* | plain1/*) ;; *) die "COST_CELLS: $2? (mesh|plain1)/(ka|close|lat|close1)" ;; esac
  case "$mode" in
    ka) ;; close) hdr=(-H "Connection: close") ;; lat) conns=1 threads=1 ;;
    close1) conns=1 threads=1 hdr=(-H "Connection: close") ;; *) die "COST_CELLS: $2?" ;;
  esac
  local pdir="$PROF/$variant-$path-$mode" side pid flags
  declare -A pids=()
  for side in B A; do
    flags=$SKIFF_NODE_FLAGS
    if [ "$profile" = 1 ]; then
      mkdir -p "$pdir" && rm -f "$pdir/$side.cpuprofile"
      flags="$flags --cpu-prof --cpu-prof-dir=$pdir --cpu-prof-name=$side.cpuprofile"
    fi
    VARIANT=$variant SKIFF_NODE_FLAGS=$flags "$HERE/skiff-l4.sh" proxy "$side" >"$dir/cost-$path-$mode-$side.log" 2>&1 &
    pid=$!
    RIG_PIDS+=("$pid")
    pids[$side]=$pid
    local lv="MESH_${side}_LISTEN"
    wait_port "${!lv##*:}" "$pid" || die "$side did not start: $(cat "$dir/cost-$path-$mode-$side.log")"
  done
  curl -fsS -m 5 -o /dev/null "http://$target/" || die "$variant: the $path path does not work"
  local wlog="$dir/cost-$path-$mode-wrk.txt"
  if [ "${CHURN_SECONDS:-0}" -gt 0 ]; then # the harness's sequence: plaintext connection churn through B first
    timeout $((CHURN_SECONDS + 10)) wrk -t2 -c32 -d"${CHURN_SECONDS}s" -H "Connection: close" "http://$MESH_B_LISTEN/" >/dev/null 2>&1 || true
  fi
  if [ "$WARMUP_SECONDS" -gt 0 ]; then # JIT and pools warm, not counted
    timeout $((WARMUP_SECONDS + 10)) wrk -t"$threads" -c"$conns" -d"${WARMUP_SECONDS}s" "${hdr[@]}" "http://$target/" >/dev/null 2>&1 || true
  fi
  local a0 b0 a1 b1 wpid
  a0=$(ticks "${pids[A]}") b0=$(ticks "${pids[B]}")
  timeout $((COST_SECONDS + 10)) wrk -t"$threads" -c"$conns" -d"${COST_SECONDS}s" --latency "${hdr[@]}" "http://$target/" >"$wlog" 2>&1 &
  wpid=$!
  RIG_PIDS+=("$wpid")
  if [ "$profile" = 1 ] && [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    sleep 1
    perf record -q -F 499 -g -p "${pids[A]},${pids[B]}" -o "$pdir/perf.data" -- sleep $((COST_SECONDS - 2)) >/dev/null 2>&1 || true
  fi
  wait "$wpid" || true
  a1=$(ticks "${pids[A]}") b1=$(ticks "${pids[B]}")
  local rssA rssB hwmA hwmB
  rssA=$(status_kb "${pids[A]}" VmRSS) rssB=$(status_kb "${pids[B]}" VmRSS)
  hwmA=$(status_kb "${pids[A]}" VmHWM) hwmB=$(status_kb "${pids[B]}" VmHWM)
  stop_pid "${pids[A]}"
  stop_pid "${pids[B]}"
  # In plain1, A is idle: its line says what an idle proxy costs.
  awk -v V="$variant" -v C="$path/$mode" -v hz="$(getconf CLK_TCK)" -v a="$((a1 - a0))" -v b="$((b1 - b0))" \
    -v ra="$rssA" -v rb="$rssB" -v ha="$hwmA" -v hb="$hwmB" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
    /requests in/ { n = $1 } /^Requests\/sec:/ { rps = $2 } /Socket errors|Non-2xx/ { err = err " " $0 }
    $1 == "50%" { p50 = $2 }
    END {
      us = 1e6 / hz
      printf "%s\t%s\t%d\t%.0f\t%s\t%.0f\t%.0f\t%.1f\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%s\n", V, C, n, rps, p50, a * us / 1000,
        b * us / 1000, n ? a * us / n : 0, n ? b * us / n : 0, ra / 1024, rb / 1024, ha / 1024, hb / 1024, load, (err == "" ? "-" : err)
    }' "$wlog" | tee -a "$OUT/cost.tsv" |
    awk -F'\t' '{ printf "  %-5s %-13s %8s req %7s rps  cpu/req A %6s us  B %6s us  RSS A %s MB B %s MB  %s\n", $1, $2, $3, $4, $8, $9, $10, $11, $15 }' >&2
  if [ "$profile" = 1 ]; then
    local sides="A B"
    [ "$path" = plain1 ] && sides=B
    for side in $sides; do
      [ -s "$pdir/$side.cpuprofile" ] || die "no profile written for $side ($variant $path/$mode)"
      echo "## $variant $path/$mode, proxy $side ($(grep Requests/sec "$wlog"))"
      echo
      echo '```'
      node "$HERE/cpuprofile-top.mjs" "$pdir/$side.cpuprofile" 25
      echo '```'
      echo
    done >>"$OUT/profile-top.md"
    [ -s "$pdir/perf.data" ] && perf_summary "$variant $path/$mode" "$pdir/perf.data" >>"$OUT/profile-top.md"
  fi
}

perf_summary() { # title perf.data -> markdown: by process and object, top symbols, by family
  echo "## $1, perf (A and B, native): by process and shared object, then top symbols"
  echo
  echo '```'
  perf report -i "$2" --no-children --sort comm,dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -12 || true
  echo
  perf report -i "$2" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' |
    head -30 | cut -c1-150 || true
  echo
  echo "by family (symbol-name heuristics; OpenSSL is linked into the node binary):"
  perf report -i "$2" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
    awk '/^ +[0-9.]+%/ { p = $1; sub(/%/, "", p); dso = $2; sym = $0; sub(/^.*\] /, "", sym)
      f = "node/V8/libuv (other)"
      if (dso ~ /kernel/) f = "kernel"
      else if (dso ~ /JIT|perf-/) f = "JIT-compiled JS"
      else if (sym ~ /pthread_rwlock/) f = "libc rwlocks (OpenSSL 3 name/decoder lookups)"
      else if (dso ~ /libc/) f = "libc (malloc, memcpy, syscall wrappers)"
      else if (sym ~ /^(ossl_|OSSL_|EVP_|evp_|X509|x509|SSL_|ssl|tls|TLS|ecp_|EC_|ec_|BN_|bn_|ASN1|asn1|CRYPTO_|OPENSSL|PEM|pem|d2i|i2d|OBJ_|ERR_|RAND|rand|DECODER|decoder|namemap|sha|SHA|aes|gcm|x25519|X25519|lh_|sk_|construct_|provider|property|BIO|bio|HMAC|hmac|kdf|KDF|p256|ecdsa|ECDSA)/) f = "OpenSSL (libcrypto/libssl)"
      else if (sym ~ /^(Builtins_|v8::|V8|Runtime_)/) f = "V8 (builtins, runtime, GC)"
      else if (sym ~ /^node::crypto/) f = "node::crypto (TLS glue)"
      t[f] += p }
      END { for (f in t) printf "  %6.2f%%  %s\n", t[f], f }' | sort -rn || true
  echo '```'
  echo
}

cost() { # profile(0|1)
  local profile=$1 variant cell
  eval "$(harness_env)"
  RIG_DIR="$(mktemp -d /tmp/skiff-rig.XXXXXX)"
  export MESH_RUN_DIR="$RIG_DIR"
  trap rig_cleanup EXIT
  trap 'exit 130' INT TERM
  local p
  for p in "${MESH_B_UPSTREAM##*:}" "${MESH_A_LISTEN##*:}" "${MESH_B_LISTEN##*:}"; do
    ! port_busy "$p" || die "port $p is in use (a harness run still going?)"
  done
  describe_machine | tee "$OUT/machine.txt" >&2
  start_app
  [ -f "$OUT/cost.tsv" ] ||
    printf 'variant\tcell\trequests\trps\tp50\tcpuA_ms\tcpuB_ms\tcpuA_us_per_req\tcpuB_us_per_req\trssA_MB\trssB_MB\thwmA_MB\thwmB_MB\tload1\terrors\n' >"$OUT/cost.tsv"
  for variant in $VARIANTS; do
    for cell in $COST_CELLS; do cost_cell "$variant" "$cell" "$profile"; done
  done
  column -t -s$'\t' "$OUT/cost.tsv"
  [ "$profile" = 1 ] && log "profiles in $PROF, summaries in $OUT/profile-top.md"
  log "results in $OUT/cost.tsv"
}

case "$CMD" in
  bench | verify)
    describe_machine | tee "$OUT/machine.txt" >&2
    rc=0
    for v in $VARIANTS; do run_harness "$CMD" "$v" || rc=1; done
    if [ "$CMD" = bench ]; then
      summary >"$OUT/summary.md"
      cat "$OUT/summary.md"
    fi
    log "results in $OUT"
    exit $rc
    ;;
  cost) cost 0 ;;
  profile) cost 1 ;;
  *) die "unknown command '$CMD' (bench|verify|cost|profile|render DIR|proxy A|B)" ;;
esac
