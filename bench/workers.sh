#!/usr/bin/env bash
# Jobs per minute with one and with two worker processes, scaled out: a throwaway
# PostgreSQL cluster and moto's S3 server on loopback (see pg.sh), one API node
# (`retake serve --no-workers`) and N `retake worker` processes, each with its own data folder.
# JOBS (24) small clips (SIZE 320x240, CLIP_S 2) are queued at once; the time from the
# first create to the last completion gives jobs/min. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
# RETAKE_BIN runs an already built binary instead (e.g. a dev build, for a quick comparison).
if [ -n "${RETAKE_BIN:-}" ]; then
  RETAKE="$RETAKE_BIN"
else
  cargo build --release -p retake --locked >/dev/null
  RETAKE="$CARGO_TARGET_DIR/release/retake"
fi
PY="${PYTHON:-${RETAKE_VENV:-$HOME/.cache/retake-venv}/bin/python}"
JOBS="${JOBS:-24}"
SIZE="${SIZE:-320x240}"
CLIP_S="${CLIP_S:-2}"
PORT="${PORT:-18791}"
BASE="http://127.0.0.1:$PORT"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
source bench/pg.sh
W=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  s3_cleanup
  pg_cleanup
  rm -rf "$W"
}
trap cleanup EXIT
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi \
  -i "testsrc2=size=$SIZE:rate=24:duration=$CLIP_S" -c:v libx264 -pix_fmt yuv420p "$W/clip.mp4"
"$RETAKE" -q frame "$W/clip.mp4" -o "$W/clip.png"
s3_start "$PY"

run() { # workers → jobs/min
  local n=$1 db="bench$1"
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $db" postgres
  export RETAKE_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$db"
  export RETAKE_BLOB_STORE="s3://bench/run$n" RETAKE_S3_ENDPOINT="$S3_ENDPOINT"
  export RETAKE_S3_ACCESS_KEY_ID=bench RETAKE_S3_SECRET_ACCESS_KEY=bench
  export RETAKE_LINK_SECRET="bench-link-secret-0123456789abcdef0123" RETAKE_LOG=warn
  export RETAKE_SUBMIT_LIMIT_PER_MIN=0 RETAKE_RATE_LIMIT_PER_S=0 RETAKE_ADMIN_CREDITS=100000
  "$RETAKE" serve --no-workers --bind "127.0.0.1:$PORT" --data-dir "$W/api$n" 2>"$W/api$n.log" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
  local token auth media frame start ids=() done_count=0
  token=$(json '["token"]' <"$W/api$n/admin-key.json")
  auth="Authorization: Bearer $token"
  media=$(curl -sf -H "$auth" --data-binary "@$W/clip.mp4" "$BASE/v1/uploads" | json '["url"]')
  frame=$(curl -sf -H "$auth" --data-binary "@$W/clip.png" "$BASE/v1/uploads" | json '["url"]')
  for i in $(seq "$n"); do
    "$RETAKE" worker --workers 1 --data-dir "$W/worker$n-$i" 2>"$W/worker$n-$i.log" &
    PIDS+=($!)
  done
  sleep 1
  start=$(date +%s.%N)
  for _ in $(seq "$JOBS"); do
    ids+=("$(curl -sf -H "$auth" -H 'Content-Type: application/json' \
      -d "{\"media\":{\"url\":\"$media\"},\"first_frame\":{\"url\":\"$frame\"},\"mode\":\"flex_1\",\"model\":\"ray-2\"}" \
      "$BASE/dream-machine/v1/generations/video/modify" | json '["id"]')")
  done
  while [ "$done_count" -lt "$JOBS" ]; do
    sleep 0.2
    done_count=$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atqc \
      "SELECT COUNT(*) FROM generations WHERE state = 'completed'" "$db")
  done
  python3 -c "import sys; s=float(sys.argv[1]); e=float(sys.argv[2]); print(f'{int(sys.argv[3])*60/(e-s):.1f} {e-s:.1f}')" \
    "$start" "$(date +%s.%N)" "$JOBS"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  PIDS=()
}

pg_start "$W/pg"
ONE=$(run 1)
TWO=$(run 2)
echo
echo "Date: $(date -u +%Y-%m-%d) · machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)) · load average before the run: $LOAD_BEFORE"
echo "Command: \`${RETAKE_BIN:+RETAKE_BIN=$RETAKE_BIN }bash bench/workers.sh\` (JOBS=$JOBS, SIZE=$SIZE, CLIP_S=$CLIP_S; PostgreSQL + moto S3 on loopback)"
echo
echo "| worker processes | jobs/min | wall time for $JOBS jobs (s) |"
echo "|---|---|---|"
set -- $ONE; echo "| 1 | $1 | $2 |"
set -- $TWO; echo "| 2 | $1 | $2 |"
