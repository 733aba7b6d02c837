# Shared by the timing benchmarks (sourced, not run): installs what they need, builds the
# release `retake`, makes a scratch folder $W (removed on exit), and defines `ff` (quiet
# ffmpeg) and `measure` (median wall time and peak memory over $RUNS runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
cargo build --release --locked -p retake >/dev/null 2>&1 || cargo build --release --locked -p retake
RETAKE="$CARGO_TARGET_DIR/release/retake"
RUNS="${RUNS:-3}"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

# The benchmarks' source clip: 5 s of testsrc2 at SIZE and RATE fps with a 440 Hz tone, H.264
# High with B-frames and AAC, written to OUT.  Usage: tone_clip SIZE RATE OUT
tone_clip() {
  ff -f lavfi -i "testsrc2=size=$1:rate=$2:duration=5" \
     -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=5" \
     -c:v libx264 -profile:v high -bf 3 -crf 18 -pix_fmt yuv420p -c:a aac -b:a 128k "$3"
}

# Runs a command RUNS times; prints "median_seconds max_rss_kb".
measure() {
  local times=() rss=0 t m
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$W/t" "$@" >/dev/null 2>&1
    read -r t m <"$W/t"
    times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "$med $rss"
}
