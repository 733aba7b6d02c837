#!/usr/bin/env bash
# The main job on built-in defaults: builds retake, makes a sample clip with sound, exports the
# frame to edit, edits it with a built-in look (no model, no image editor), carries the edit
# through the clip, and scores the result; then a colour-grade look on the whole clip.
# Everything lands in ./out/.
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
# The "edit": a built-in look (`retake looks` lists them all). Any image editor would do too.
"$retake" looks
"$retake" look out/first-frame.png --look watercolour --strength 0.9 -o out/first-frame-edited.png
"$retake" modify out/sample.mp4 --first-frame out/first-frame-edited.png --mode flex_1 \
  -o out/modified.mp4
"$retake" eval --source out/sample.mp4 --first-frame out/first-frame-edited.png \
  --output out/modified.mp4
# A colour grade straight on the clip: applied to every frame, nothing to propagate.
"$retake" modify out/sample.mp4 --look film_noir -o out/noir.mp4
echo "demo: outputs are in ./out (sample.mp4, first-frame.png, first-frame-edited.png," \
  "modified.mp4, noir.mp4)"
