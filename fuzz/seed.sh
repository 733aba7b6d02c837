#!/usr/bin/env bash
# Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/, made the way the
# test fixtures are made (ffmpeg/x264 clips, images, the API's request bodies), plus the
# committed crash regressions. Idempotent; the corpus folder is not committed.
set -euo pipefail
cd "$(dirname "$0")"
c=corpus
mkdir -p $c/mp4 $c/h264_params $c/image $c/luma_create $c/segmind_json $c/segmind_multipart
ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }
pat() { echo "testsrc2=size=$1:rate=24:duration=$2"; }

ff -f lavfi -i "$(pat 160x120 1)" -c:v libx264 -pix_fmt yuv420p -movflags +faststart $c/mp4/good.mp4
ff -f lavfi -i "$(pat 64x48 0.5)" -c:v libx264 -pix_fmt yuv420p -bf 2 -g 6 $c/mp4/bframes.mp4
ff -f lavfi -i "$(pat 64x48 0.5)" -c:v libx264 -pix_fmt yuv420p -metadata:s:v rotate=90 $c/mp4/rotated.mp4
ff -f lavfi -i "$(pat 64x48 0.5)" -c:v libx264 -pix_fmt yuv420p -f mov $c/mp4/clip.mov
ff -f lavfi -i "$(pat 64x48 0.5)" -f lavfi -i "sine=frequency=440:duration=0.5" \
   -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest $c/mp4/audio.mp4
ff -f lavfi -i "$(pat 64x48 0.5)" -c:v libx264 -profile:v baseline -pix_fmt yuv420p $c/mp4/baseline.mp4

# avcC records (first byte 0) and bare SPS units (first byte 1), cut from the clips.
python3 - "$c" <<'PY'
import pathlib, struct, sys
c = pathlib.Path(sys.argv[1])
for clip in sorted((c / "mp4").iterdir()):
    b = clip.read_bytes()
    at = b.find(b"avcC") - 4
    if at < 0:
        continue
    size = struct.unpack(">I", b[at:at + 4])[0]
    avcc = b[at + 8:at + size]
    (c / "h264_params" / f"{clip.stem}-avcc").write_bytes(b"\0" + avcc)
    n = struct.unpack(">H", avcc[6:8])[0]
    (c / "h264_params" / f"{clip.stem}-sps").write_bytes(b"\1" + avcc[8:8 + n])
PY

ff -f lavfi -i "$(pat 64x48 0.04)" -frames:v 1 $c/image/frame.png
ff -f lavfi -i "$(pat 64x48 0.04)" -frames:v 1 $c/image/frame.jpg
ff -f lavfi -i "$(pat 64x48 0.04)" -frames:v 1 -c:v libwebp $c/image/frame.webp 2>/dev/null \
  || ff -f lavfi -i "$(pat 64x48 0.04)" -frames:v 1 $c/image/frame.webp

printf '%s' '{"generation_type":"modify_video","media":{"url":"https://x.example/c.mp4"},"first_frame":{"url":"https://x.example/f.png"},"mode":"flex_1","model":"ray-2"}' > $c/luma_create/full.json
printf '%s' '{"media":{"url":"http://1.2.3.4/a"},"prompt":"noir","mode":"reimagine_3","model":"ray-flash-2","callback_url":"https://hook.example/x"}' > $c/luma_create/prompt.json
printf '%s' '{"video_url":"https://x.example/c.mp4","first_frame_url":"https://x.example/f.png","mode":"flex_2","model":"ray-2"}' > $c/segmind_json/full.json
printf '%s' '{"video_url":"https://x.example/c.mp4","prompt":"a watercolour"}' > $c/segmind_json/prompt.json

form() { # form OUT NAME=VALUE|NAME@FILE ...
  local out=$1; shift
  : > "$out"
  for part in "$@"; do
    printf -- '--retakefuzzboundary\r\n' >> "$out"
    if [[ $part == *@* ]]; then
      printf 'Content-Disposition: form-data; name="%s"; filename="f"\r\n\r\n' "${part%%@*}" >> "$out"
      cat "${part#*@}" >> "$out"
    else
      printf 'Content-Disposition: form-data; name="%s"\r\n\r\n%s' "${part%%=*}" "${part#*=}" >> "$out"
    fi
    printf '\r\n' >> "$out"
  done
  printf -- '--retakefuzzboundary--\r\n' >> "$out"
}
form $c/segmind_multipart/files "video@$c/mp4/bframes.mp4" "first_frame@$c/image/frame.png" mode=adhere_2
form $c/segmind_multipart/urls video_url=https://x.example/c.mp4 prompt=snow model=ray-flash-2

for t in mp4 h264_params image luma_create segmind_json segmind_multipart; do
  if [ -d regressions/$t ]; then cp -n regressions/$t/* $c/$t/ 2>/dev/null || true; fi
done
echo "seeds in fuzz/$c: $(find $c -type f | wc -l) files"
