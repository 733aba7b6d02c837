#!/usr/bin/env bash
# The main job on built-in defaults: builds retake, makes a sample clip, probes it, exports
# the frame to edit, and writes the result to ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
cargo build --release --locked -p retake
retake="$CARGO_TARGET_DIR/release/retake"
mkdir -p out
# A sample clip with sound, made by ffmpeg (installed by setup.sh).
ffmpeg -hide_banner -loglevel error -nostdin -y \
  -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=5" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=5" \
  -c:v libx264 -pix_fmt yuv420p -bf 2 -c:a aac -shortest out/sample.mp4
"$retake" probe out/sample.mp4
"$retake" frame out/sample.mp4 --at 0 -o out/first-frame.png
"$retake" convert out/sample.mp4 -o out/converted.mp4
echo "demo: outputs are in ./out (sample.mp4, first-frame.png, converted.mp4)"
