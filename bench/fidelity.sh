#!/usr/bin/env bash
# Output fidelity (issue 14): how close frame 0 of an output comes back to the edited first
# frame, and what it costs in bytes, at sizes from 160x120 to 1920x1080, for each encoder:
# OpenH264 (the default build's), x264 4:2:0 and x264 4:4:4 (the `ffmpeg` feature). Two real
# clips of bench/footage (box, carphone) are scaled to each size with their edited first
# frames (bench/footage/edits.py, local edits), and re-encoded exactly as `retake modify`
# writes its output, then read back with retake's reader; plus ffmpeg's testsrc2 at 720p, the
# transcode benchmark's clip. Prints a Markdown table. Needs the FFmpeg development packages
# (scripts/setup.sh with RETAKE_FFMPEG=1).
#
#   bash bench/fidelity.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
build=(cargo build --release --locked -p retake-media --features ffmpeg --example encode_fidelity)
"${build[@]}" >/dev/null 2>&1 || "${build[@]}"
E="$CARGO_TARGET_DIR/release/examples/encode_fidelity"
venv="$HOME/.cache/retake-bench-venv"
if ! "$venv/bin/python" -c "import numpy, PIL" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy==2.2.6 pillow==11.3.0
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

row() { # LABEL CLIP [FIRST]
  local a b c
  a=$("$E" "${@:2}" --cap 1920x1080 --encoder openh264)
  b=$("$E" "${@:2}" --cap 1920x1080 --encoder x264)
  c=$("$E" "${@:2}" --cap 1920x1080 --encoder x264-444)
  "$venv/bin/python" - "$1" "$a" "$b" "$c" <<'PY'
import json, sys
label, runs = sys.argv[1], [json.loads(r) for r in sys.argv[2:]]
db = " | ".join(f"{r['first_frame_psnr']:.2f}" for r in runs)
kb = " | ".join(f"{r['kbps']}" for r in runs)
ratio = " / ".join(f"{r['bytes'] / runs[0]['bytes']:.2f}" for r in runs[1:])
fps = " / ".join(f"{r['encode_fps']:.0f}" for r in runs)
print(f"| {label} | {db} | {kb} | {ratio} | {fps} |")
PY
}

echo "| clip, size | frame 0 dB: OpenH264 | x264 | x264-444 | kb/s: OpenH264 | x264 | x264-444 | bytes vs OpenH264: x264 / x264-444 | encode fps: OpenH264 / x264 / x264-444 |"
echo "|---|---|---|---|---|---|---|---|---|"
for clip in carphone box; do
  src="$root/bench/footage/clips/$clip.mp4"
  ff -i "$src" -frames:v 1 "$W/$clip-0.png"
  "$venv/bin/python" bench/footage/edits.py make "$clip" local "$W/$clip-0.png" "$W/$clip-first.png"
  for s in 160x120 176x144 320x240 640x480 1280x720 1920x1080; do
    w=${s%x*} h=${s#*x}
    ff -i "$src" -vf "scale=$w:$h:flags=lanczos" -t 2 -c:v libx264 -crf 8 -pix_fmt yuv420p "$W/$clip-$s.mp4"
    ff -i "$W/$clip-first.png" -vf "scale=$w:$h:flags=lanczos" "$W/$clip-$s.png"
    row "$clip $s" "$W/$clip-$s.mp4" "$W/$clip-$s.png"
  done
done
ff -i "$root/bench/footage/clips/box.mp4" -vf "scale=1280:720:flags=lanczos" -t 5 -c:v libx264 -crf 8 -pix_fmt yuv420p "$W/box-5s.mp4"
row "box 1280x720, 5 s" "$W/box-5s.mp4" "$W/box-1280x720.png"
ff -f lavfi -i testsrc2=size=1280x720:rate=30 -t 5 -c:v libx264 -crf 8 -pix_fmt yuv420p "$W/testsrc.mp4"
row "testsrc2 1280x720, 5 s (frame 0 unedited)" "$W/testsrc.mp4"
