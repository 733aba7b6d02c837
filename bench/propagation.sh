#!/usr/bin/env bash
# Benchmark: first-frame propagation end to end (decode → engine → encode with audio) on a
# 1280×720, 5 s clip (120 output frames), per profile, beside `retake convert` on the same clip
# (the codec's share), then the engine's per-stage split on a synthetic 720p clip.
# Prints Markdown for BENCHMARKS.md: frames per second (120 / median wall time of RUNS runs)
# and peak resident memory. Run it on an otherwise idle machine; it prints the load first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
cargo build --release --locked -p retake -p retake-engine --example bench_engine >/dev/null 2>&1 ||
  cargo build --release --locked -p retake -p retake-engine --example bench_engine
RETAKE="$CARGO_TARGET_DIR/release/retake"
RUNS="${RUNS:-3}"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
ff -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=5" \
   -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=5" \
   -c:v libx264 -profile:v high -bf 3 -crf 18 -pix_fmt yuv420p -c:a aac -b:a 128k "$W/src.mp4"
"$RETAKE" frame "$W/src.mp4" -o "$W/first.png" --quiet
ff -i "$W/first.png" -vf "hue=h=150:s=1.3,drawbox=x=40:y=40:w=300:h=160:color=orange@0.85:t=fill" \
   "$W/edited.png"
FRAMES=120

# Runs a command RUNS times; prints "median_seconds max_rss_kb".
measure() {
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$W/t" "$@" >/dev/null 2>&1
    read -r t m <"$W/t"
    times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  local med
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "$med $rss"
}
row() { # name, seconds, rss_kb
  awk -v n="$1" -v s="$2" -v m="$3" -v f="$FRAMES" \
    'BEGIN{printf "| %s | %.2f | %.1f | %d |\n", n, f/s, s, m/1024}'
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo
echo "| run | frames/s | seconds | peak RSS (MB) |"
echo "|---|---|---|---|"
for model in ray-2 ray-flash-2; do
  read -r t m < <(measure "$RETAKE" modify "$W/src.mp4" --first-frame "$W/edited.png" \
    --model "$model" -o "$W/out-$model.mp4" --quiet)
  row "retake modify --model $model" "$t" "$m"
done
read -r t m < <(measure "$RETAKE" convert "$W/src.mp4" -o "$W/convert.mp4" --quiet)
row "retake convert (decode + encode only)" "$t" "$m"
echo
"$CARGO_TARGET_DIR/release/examples/bench_engine" 1280 720 48 quality
echo
"$CARGO_TARGET_DIR/release/examples/bench_engine" 1280 720 48 fast
