#!/usr/bin/env bash
# Output fidelity (issue 14): how close frame 0 of an output comes back to the edited first
# frame, and what it costs in bytes, at sizes from 160x120 to 1920x1080. Two real clips of
# bench/footage (box, carphone) are scaled to each size with their edited first frames
# (bench/footage/edits.py, local edits), and re-encoded exactly as `retake modify` writes its
# output, with today's quantiser cap and with OpenH264's old range (up to 42); plus ffmpeg's
# testsrc2 at 720p, the transcode benchmark's clip. Prints a Markdown table.
#
#   bash bench/fidelity.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
cargo build --release --locked -p retake-media --example encode_fidelity >/dev/null 2>&1 ||
  cargo build --release --locked -p retake-media --example encode_fidelity
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
  local old new
  old=$("$E" "${@:2}" --cap 1920x1080 --max-qp 42)
  new=$("$E" "${@:2}" --cap 1920x1080)
  "$venv/bin/python" - "$1" "$old" "$new" <<'EOF'
import json, sys
label, old, new = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {label} | {old['first_frame_psnr']:.2f} | {new['first_frame_psnr']:.2f} | "
      f"{old['mean_psnr']:.2f} | {new['mean_psnr']:.2f} | {old['kbps']} | {new['kbps']} | "
      f"{new['bytes'] / old['bytes']:.2f} |")
EOF
}

echo "| clip, size | frame 0 PSNR before | now | mean PSNR before | now | kb/s before | now | size ratio |"
echo "|---|---|---|---|---|---|---|---|"
for clip in carphone box; do
  src="$root/bench/footage/clips/$clip.mp4"
  ff -i "$src" -frames:v 1 "$W/$clip-0.png"
  "$venv/bin/python" bench/footage/edits.py make "$clip" local "$W/$clip-0.png" "$W/$clip-first.png"
  for s in 160x120 176x144 320x240 640x480 1280x720 1920x1080; do
    w=${s%x*} h=${s#*x}
    ff -i "$src" -vf "scale=$w:$h:flags=lanczos" -c:v libx264 -crf 8 -pix_fmt yuv420p "$W/$clip-$s.mp4"
    ff -i "$W/$clip-first.png" -vf "scale=$w:$h:flags=lanczos" "$W/$clip-$s.png"
    row "$clip $s" "$W/$clip-$s.mp4" "$W/$clip-$s.png"
  done
done
ff -f lavfi -i testsrc2=size=1280x720:rate=30 -t 5 -c:v libx264 -crf 8 -pix_fmt yuv420p "$W/testsrc.mp4"
row "testsrc2 1280x720 (frame 0 unedited)" "$W/testsrc.mp4"
