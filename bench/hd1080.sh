#!/usr/bin/env bash
# Benchmark (issue 12): `retake modify` at 1920×1080 end to end — a 5 s, 24 fps clip with a
# tone, an edited first frame, `--resolution 1080p` — per profile (ray-2: quality,
# ray-flash-2: fast). Prints Markdown for BENCHMARKS.md: frames per second (120 / median wall
# time of RUNS runs) and peak resident memory. Target: ≥ 1.5 frames/s and ≤ 600 MB peak with
# the quality profile on 2 cores. Run it on an otherwise idle machine; it prints the load.
source "$(dirname "$0")/common.sh"
tone_clip 1920x1080 24 "$W/src.mp4"
"$RETAKE" frame "$W/src.mp4" -o "$W/first.png" --quiet
ff -i "$W/first.png" -vf "hue=h=150:s=1.3,drawbox=x=60:y=60:w=450:h=240:color=orange@0.85:t=fill" \
   "$W/edited.png"
FRAMES=120
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo
echo "| run | frames/s | seconds | peak RSS (MB) |"
echo "|---|---|---|---|"
for model in ray-2 ray-flash-2; do
  read -r t m < <(measure "$RETAKE" modify "$W/src.mp4" --first-frame "$W/edited.png" \
    --resolution 1080p --model "$model" -o "$W/out-$model.mp4" --quiet)
  awk -v n="retake modify --resolution 1080p --model $model" -v s="$t" -v m="$m" -v f="$FRAMES" \
    'BEGIN{printf "| %s | %.2f | %.1f | %d |\n", n, f/s, s, m/1024}'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
