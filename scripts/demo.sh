#!/usr/bin/env bash
# The main job on built-in defaults: builds retake, makes a sample clip with sound, exports the
# frame to edit, edits it (a hue shift and a painted-in panel, made with ffmpeg as a stand-in
# for a person with an image editor), carries the edit through the clip, and scores the
# result. Everything lands in ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
cargo build --release --locked -p retake
retake="$CARGO_TARGET_DIR/release/retake"
mkdir -p out
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
# A sample clip with sound and motion, made by ffmpeg (installed by setup.sh).
ff -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=5" \
   -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=5" \
   -c:v libx264 -pix_fmt yuv420p -bf 2 -c:a aac -shortest out/sample.mp4
"$retake" probe out/sample.mp4
"$retake" frame out/sample.mp4 --at 0 -o out/first-frame.png
# The "edit": shift every hue and paint a panel in the top-left corner.
ff -i out/first-frame.png \
   -vf "hue=h=150:s=1.3,drawbox=x=40:y=40:w=300:h=160:color=orange@0.85:t=fill" \
   out/first-frame-edited.png
"$retake" modify out/sample.mp4 --first-frame out/first-frame-edited.png --mode flex_1 \
  -o out/modified.mp4
"$retake" eval --source out/sample.mp4 --first-frame out/first-frame-edited.png \
  --output out/modified.mp4
echo "demo: outputs are in ./out (sample.mp4, first-frame.png, first-frame-edited.png, modified.mp4)"
