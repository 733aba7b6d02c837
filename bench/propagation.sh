#!/usr/bin/env bash
# Benchmark: first-frame propagation end to end (decode → engine → encode with audio) on a
# 1280×720, 5 s clip (120 output frames), per profile, beside `retake convert` on the same clip
# (the codec's share), then the engine's per-stage split on a synthetic 720p clip.
# Prints Markdown for BENCHMARKS.md: frames per second (120 / median wall time of RUNS runs)
# and peak resident memory. Run it on an otherwise idle machine; it prints the load first.
source "$(dirname "$0")/common.sh"
# The engine's per-stage timer (an example: `--example` builds only the example, so `retake`
# itself comes from common.sh).
cargo build --release --locked -p retake -p retake-engine --example bench_engine >/dev/null 2>&1 ||
  cargo build --release --locked -p retake -p retake-engine --example bench_engine
tone_clip 1280x720 30 "$W/src.mp4"
"$RETAKE" frame "$W/src.mp4" -o "$W/first.png" --quiet
ff -i "$W/first.png" -vf "hue=h=150:s=1.3,drawbox=x=40:y=40:w=300:h=160:color=orange@0.85:t=fill" \
   "$W/edited.png"
FRAMES=120

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
