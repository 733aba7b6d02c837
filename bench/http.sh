#!/usr/bin/env bash
# Load benchmark of the HTTP service with wrk (Debian package): requests per second and
# latency of
#   1. GET /dream-machine/v1/generations/{id} with no job running,
#   2. the same GET while a long job is being processed (the issue's target: >= 10,000 req/s,
#      p99 < 20 ms),
#   3. POST /dream-machine/v1/generations/video/modify (a real create: the clip is an upload
#      of the same key, copied and probed, credits reserved, job queued) while that job runs.
# Rate limiting stays on, with limits no run reaches, so its cost is in the numbers.
# Prints a Markdown table for BENCHMARKS.md. Knobs: DURATION (20s), CONNS (64), THREADS (2),
# STORE (sqlite, the default; or postgres: a throwaway local PostgreSQL cluster, see pg.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v wrk >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq wrk >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
# RETAKE_BIN runs an already built binary instead (e.g. a dev build, for a quick comparison).
if [ -n "${RETAKE_BIN:-}" ]; then
  RETAKE="$RETAKE_BIN"
else
  cargo build --release --workspace --locked >/dev/null
  RETAKE="$CARGO_TARGET_DIR/release/retake"
fi
DURATION="${DURATION:-20s}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
STORE="${STORE:-sqlite}"
source bench/pg.sh
PORT="${PORT:-18790}"
BASE="http://127.0.0.1:$PORT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
W=$(mktemp -d)
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  pg_cleanup
  rm -rf "$W"
}
trap cleanup EXIT
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# A small clip to read and submit, and a long 720p one that keeps the worker busy throughout.
ff -f lavfi -i "testsrc2=size=128x96:rate=24:duration=1" -c:v libx264 -pix_fmt yuv420p "$W/small.mp4"
ff -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=30" -c:v libx264 -pix_fmt yuv420p "$W/busy.mp4"
"$RETAKE" -q frame "$W/small.mp4" -o "$W/small.png"
"$RETAKE" -q frame "$W/busy.mp4" --max-duration 60 -o "$W/busy.png"

if [ "$STORE" = postgres ]; then
  pg_start "$W/pg"
  export RETAKE_DATABASE_URL="$PG_URL" RETAKE_LINK_SECRET="bench-link-secret-0123456789abcdef0123"
fi
# The busy clip is longer than ray-2's default limit in the model catalogue.
printf '[catalogue.ray-2]\nmax_duration_s = 60\n' >"$W/retake.toml"
RETAKE_CONFIG="$W/retake.toml" RETAKE_DATA_DIR="$W/data" RETAKE_BIND="127.0.0.1:$PORT" RETAKE_LOG=warn \
  RETAKE_RATE_LIMIT_PER_S=1000000 RETAKE_RATE_LIMIT_BURST=1000000 \
  RETAKE_SUBMIT_LIMIT_PER_MIN=100000000 RETAKE_SUBMIT_LIMIT_BURST=1000000 \
  RETAKE_ADMIN_CREDITS=1000000000 \
  RETAKE_MAX_DURATION_S=60 "$RETAKE" serve 2>"$W/serve.log" &
SERVER=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(json '["token"]' <"$W/data/admin-key.json")
AUTH="Authorization: Bearer $TOKEN"
upload() { curl -sf -H "$AUTH" --data-binary "@$1" "$BASE/v1/uploads" | json '["url"]'; }
body() {
  printf '{"generation_type":"modify_video","media":{"url":"%s"},"first_frame":{"url":"%s"},"mode":"flex_1","model":"ray-2"}' "$1" "$2"
}
create() {
  curl -sf -H "$AUTH" -H "Content-Type: application/json" -d "$(body "$1" "$2")" \
    "$BASE/dream-machine/v1/generations/video/modify" | json '["id"]'
}
state() { curl -sf -H "$AUTH" "$BASE/dream-machine/v1/generations/$1" | json '["state"]'; }
wait_state() {
  for _ in $(seq 1200); do [ "$(state "$1")" = "$2" ] && return 0; sleep 0.1; done
  echo "generation $1 never reached $2" >&2; exit 1
}

SMALL=$(upload "$W/small.mp4"); SMALL_FRAME=$(upload "$W/small.png")
READ_ID=$(create "$SMALL" "$SMALL_FRAME")
wait_state "$READ_ID" completed
READ_URL="$BASE/dream-machine/v1/generations/$READ_ID"

run_wrk() { # name, then wrk arguments; prints "req/s p50 p99 errors"
  local name=$1; shift
  wrk -t"$THREADS" --latency "$@" >"$W/$name.txt"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$W/$name.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$W/$name.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$W/$name.txt")
  errors=$(awk '/Non-2xx/ {print $5}' "$W/$name.txt")
  echo "$rps $p50 $p99 ${errors:-0}"
}

IDLE=$(run_wrk idle -c"$CONNS" -d"$DURATION" -H "$AUTH" "$READ_URL")

BUSY_ID=$(create "$(upload "$W/busy.mp4")" "$(upload "$W/busy.png")")
wait_state "$BUSY_ID" dreaming
READS=$(run_wrk reads -c"$CONNS" -d"$DURATION" -H "$AUTH" "$READ_URL")
[ "$(state "$BUSY_ID")" = dreaming ] || { echo "the busy job ended during the read run" >&2; exit 1; }

cat >"$W/submit.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '$(body "$SMALL" "$SMALL_FRAME")'
EOF
SUBMITS=$(run_wrk submits -c8 -d"$DURATION" -s "$W/submit.lua" "$BASE/dream-machine/v1/generations/video/modify")
[ "$(state "$BUSY_ID")" = dreaming ] || { echo "the busy job ended during the submit run" >&2; exit 1; }

row() { # label, connections, "rps p50 p99 errors"
  set -- "$1" "$2" $3
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$6"
}
echo
echo "Date: $(date -u +%Y-%m-%d) · machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GB", $2/1e6}' /proc/meminfo) RAM · load average before the run: $LOAD_BEFORE"
echo "Command: \`${RETAKE_BIN:+RETAKE_BIN=$RETAKE_BIN }STORE=$STORE bash bench/http.sh\` (DURATION=$DURATION, wrk -t$THREADS)"
echo
echo "| request | connections | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
row "GET generation, idle server" "$CONNS" "$IDLE"
row "GET generation, job processing" "$CONNS" "$READS"
row "POST create, job processing" 8 "$SUBMITS"
