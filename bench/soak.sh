#!/usr/bin/env bash
# Soak test (not in CI): 30 minutes of mixed traffic against one `retake serve` — Luma and
# Segmind creates, polls, downloads (whole and ranged), cancels, deletes, uploads, bad
# requests, stalled sockets, webhooks to a receiver that refuses 30 % of deliveries — then
# checks that every generation reached a final state, credits add up to the cent, no
# descriptor, connection, blob or row leaked and memory stayed flat (bench/soak.py).
# Prints a Markdown table for BENCHMARKS.md. Knobs: DURATION (s, 1800), CLIENTS (4),
# PROFILE (release, or debug), SKIP_BUILD (use the binary already built), PORT (18795).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
PROFILE="${PROFILE:-release}"
if [ -n "${SKIP_BUILD:-}" ]; then
  :
elif [ "$PROFILE" = release ]; then
  cargo build --release --locked -p retake >/dev/null 2>&1 || cargo build --release --locked -p retake
else
  cargo build --workspace --locked >/dev/null 2>&1 || cargo build --workspace --locked
fi
export RETAKE="$CARGO_TARGET_DIR/$PROFILE/retake"
PYTHON="${PYTHON:-${RETAKE_VENV:-$HOME/.cache/retake-venv}/bin/python}"
PORT="${PORT:-18795}"
export BASE="http://127.0.0.1:$PORT"
W=$(mktemp -d)
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

export MEDIA="$W/media" DATA="$W/data"
mkdir -p "$MEDIA"
ff -f lavfi -i "testsrc2=size=128x96:rate=24:duration=1" -c:v libx264 -pix_fmt yuv420p "$MEDIA/clip.mp4"
"$RETAKE" -q frame "$MEDIA/clip.mp4" -o "$W/frame.png"
ff -i "$W/frame.png" -vf hue=h=120 "$MEDIA/first.png"

export RETAKE_DATA_DIR="$DATA"
KEYS="["
for i in 1 2 3; do
  k=$("$RETAKE" keys create --name "soak$i" --credits 500 --json)
  KEYS="$KEYS$k,"
done
export KEYS="${KEYS%,}]"
KEYS=$(echo "$KEYS" | "$PYTHON" -c 'import json,sys; print(json.dumps([dict(k, credits=500.0) for k in json.load(sys.stdin)]))')
export KEYS

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RETAKE_BIND="127.0.0.1:$PORT" RETAKE_LOG=warn RETAKE_FETCH_ALLOW=127.0.0.0/8 \
  RETAKE_RATE_LIMIT_PER_S=1000 RETAKE_RATE_LIMIT_BURST=2000 \
  RETAKE_SUBMIT_LIMIT_PER_MIN=10000 RETAKE_SUBMIT_LIMIT_BURST=1000 \
  RETAKE_WEBHOOK_ATTEMPTS=4 RETAKE_WEBHOOK_BACKOFF=500ms RETAKE_WEBHOOK_TIMEOUT=2s \
  RETAKE_HEADER_TIMEOUT=5s \
  "$RETAKE" serve 2>"$W/serve.log" &
SERVER=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
export SERVER_PID=$SERVER OUT="${OUT:-soak.json}"
echo "soak: $(date -u +%FT%TZ), $(nproc) cores, load before ${LOAD_BEFORE}, ${DURATION:-1800} s, ${CLIENTS:-4} clients, $PROFILE build"
"$PYTHON" bench/soak.py
