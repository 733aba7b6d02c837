#!/usr/bin/env bash
# Benchmark: prompt-only diffusion on the CPU, on a full-size SD-Turbo-shaped model with random
# weights (nothing is downloaded; the numbers measure compute, not looks), written once to
# $MODEL (default ~/.cache/retake-bench/sd-turbo-random, about 7 GB) with a TAESD-shaped tiny
# autoencoder beside its full VAE.
#  1. One 512×512 keyframe, 1 step, with the tiny and with the full autoencoder: per stage and
#     whole (RUNS repeats of each row).
#  2. A 5 s 1280×720 clip, prompt only, keyframes as the mode table chooses (flex_1), tiny
#     autoencoder, SD-Turbo's default steps: end to end (median of RUNS), with the JSON report's
#     keyframe count and diffusion seconds.
# Prints Markdown for BENCHMARKS.md. Run on an otherwise idle machine; it prints the load.
source "$(dirname "$0")/common.sh"
cargo build --release --locked -p retake-diffusion --example bench >/dev/null 2>&1 ||
  cargo build --release --locked -p retake-diffusion --example bench
BENCH="$CARGO_TARGET_DIR/release/examples/bench"
MODEL="${MODEL:-$HOME/.cache/retake-bench/sd-turbo-random}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo
"$BENCH" --dtype f32 --steps 1 --size 512 --vae tiny,full --repeat "$RUNS" --model-dir "$MODEL"
echo
tone_clip 1280x720 30 "$W/src.mp4"
read -r t m < <(measure "$RETAKE" modify "$W/src.mp4" --prompt "film noir, rain" \
  --model-dir "$MODEL" --vae tiny -o "$W/out.mp4" --quiet)
"$RETAKE" modify "$W/src.mp4" --prompt "film noir, rain" --model-dir "$MODEL" --vae tiny \
  -o "$W/out.mp4" --quiet --json >"$W/report.json"
python3 - "$W/report.json" "$t" "$m" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = r["diffusion"]
print("| clip | keyframes | steps | VAE | diffusion s | whole s (median) | peak RSS MB |")
print("|---|---|---|---|---|---|---|")
print(f"| 5 s 1280x720, flex_1 | {len(r['keyframes'])} | {d['steps']} | {d['vae']} | "
      f"{d['seconds']:.1f} | {float(sys.argv[2]):.1f} | {int(sys.argv[3]) // 1024} |")
PY
