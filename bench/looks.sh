#!/usr/bin/env bash
# Benchmark: every built-in look on one 1280×720 frame (ms per frame: the median of RUNS_LOOK
# runs inside one process, no file I/O — what a live preview pays), then `retake modify
# --look` end to end on a 1280×720, 5 s clip (120 output frames): a colour grade, applied to
# every frame, and a painted look, applied to the first frame and propagated.
# Prints Markdown for BENCHMARKS.md. Run it on an otherwise idle machine; it prints the load
# first.
source "$(dirname "$0")/common.sh"
cargo build --release --locked -p retake-looks --example bench_looks >/dev/null 2>&1 ||
  cargo build --release --locked -p retake-looks --example bench_looks
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo
"$CARGO_TARGET_DIR/release/examples/bench_looks" 1280 720 "${RUNS_LOOK:-15}"
echo
tone_clip 1280x720 30 "$W/src.mp4"
FRAMES=120
echo "| run | frames/s | seconds | peak RSS (MB) |"
echo "|---|---|---|---|"
for look in film_noir oil_paint; do
  read -r t m < <(measure "$RETAKE" modify "$W/src.mp4" --look "$look" --model ray-flash-2 \
    -o "$W/out-$look.mp4" --quiet)
  awk -v n="retake modify --look $look --model ray-flash-2" -v s="$t" -v m="$m" -v f="$FRAMES" \
    'BEGIN{printf "| %s | %.2f | %.1f | %d |\n", n, f/s, s, m/1024}'
done
