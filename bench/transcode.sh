#!/usr/bin/env bash
# Benchmark: decode → retime → encode of a 1280×720, 10 s, 30 fps H.264 clip with AAC audio,
# retake against ffmpeg on the same machine. Prints a Markdown table for BENCHMARKS.md:
# frames per second (output frames / wall time, median of RUNS), peak resident memory,
# output bit rate, and PSNR against the source. Throughput is measured on a 30 fps source (so
# the retiming to 24 fps is part of the work); quality on a 24 fps copy of the same content,
# where every tool encodes exactly the same frames and PSNR compares like with like.
source "$(dirname "$0")/common.sh"
# Sources are converted and tagged as BT.709, as HD cameras and editors write them (untagged,
# ffmpeg would convert with BT.601 while retake, like browsers, reads untagged HD as BT.709).
TAG=(-vf "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p" -colorspace bt709
     -color_primaries bt709 -color_trc bt709)
ff -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=10" \
   -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=10" "${TAG[@]}" \
   -c:v libx264 -profile:v high -bf 3 -crf 18 -pix_fmt yuv420p -c:a aac -b:a 128k "$W/src.mp4"
ff -f lavfi -i "testsrc2=size=1280x720:rate=24:duration=10" "${TAG[@]}" \
   -c:v libx264 -profile:v high -bf 3 -crf 18 -pix_fmt yuv420p "$W/src24.mp4"
FRAMES=240

psnr() { # output, reference
  ffmpeg -hide_banner -nostdin -i "$1" -i "$2" -lavfi "[0:v][1:v]psnr" -f null - 2>&1 |
    sed -n 's/.*average:\([0-9.inf]*\).*/\1/p' | tail -1
}
kbps() {
  ffprobe -v error -select_streams v -show_entries stream=bit_rate -of csv=p=0 "$1" |
    awk '{printf "%d", $1/1000}'
}
row() { # name, file, seconds, rss, 24 fps file for quality
  awk -v n="$1" -v s="$3" -v m="$4" -v f="$FRAMES" -v b="$(kbps "$5")" \
    -v p="$(psnr "$5" "$W/src24.mp4")" \
    'BEGIN{printf "| %s | %.1f | %.2f | %d | %s | %.2f |\n", n, f/s, s, m/1024, b, p}'
}
LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
read -r t m < <(measure "$RETAKE" convert "$W/src.mp4" -o "$W/retake.mp4" --quiet)
RT="$t $m"
OURS_KBPS=$(kbps "$W/retake.mp4")
read -r t2 m2 < <(measure ffmpeg -hide_banner -loglevel error -nostdin -y -i "$W/src.mp4" \
  -r 24 -c:v libx264 -preset veryfast -b:v "${OURS_KBPS}k" -c:a copy "$W/ff-veryfast.mp4")
read -r t3 m3 < <(measure ffmpeg -hide_banner -loglevel error -nostdin -y -i "$W/src.mp4" \
  -r 24 -c:v libx264 -c:a copy "$W/ff-default.mp4")
# The same three transcodes of the 24 fps copy, for quality.
"$RETAKE" convert "$W/src24.mp4" -o "$W/q-retake.mp4" --quiet
OURS24=$(kbps "$W/q-retake.mp4")
ff -i "$W/src24.mp4" -c:v libx264 -preset veryfast -b:v "${OURS24}k" "$W/q-veryfast.mp4"
ff -i "$W/src24.mp4" -c:v libx264 "$W/q-default.mp4"
# x264 veryfast at retake's quality: the highest CRF whose PSNR still reaches retake's, so
# the throughputs compare at a comparable quality (x264 needs fewer bits for it).
OURS_PSNR=$(psnr "$W/q-retake.mp4" "$W/src24.mp4")
CRF=""
for c in $(seq 18 40); do
  ff -i "$W/src24.mp4" -c:v libx264 -preset veryfast -crf "$c" "$W/q-try.mp4"
  awk -v a="$(psnr "$W/q-try.mp4" "$W/src24.mp4")" -v b="$OURS_PSNR" 'BEGIN{exit !(a>=b)}' ||
    break
  CRF=$c
  mv "$W/q-try.mp4" "$W/q-matched.mp4"
done
[ -n "$CRF" ] || { echo "x264 veryfast at CRF 18 is below retake's PSNR; widen the search" >&2; exit 1; }
read -r t4 m4 < <(measure ffmpeg -hide_banner -loglevel error -nostdin -y -i "$W/src.mp4" \
  -r 24 -c:v libx264 -preset veryfast -crf "$CRF" -c:a copy "$W/ff-matched.mp4")
echo "load average before: $LOAD; $(nproc) cores"
echo
echo "| tool | fps | seconds | peak RSS (MB) | video kb/s | PSNR vs source (dB) |"
echo "|---|---|---|---|---|---|"
row "retake convert" "$W/retake.mp4" $RT "$W/q-retake.mp4"
row "ffmpeg libx264 veryfast, same bit rate" "$W/ff-veryfast.mp4" "$t2" "$m2" "$W/q-veryfast.mp4"
row "ffmpeg libx264 defaults (medium, crf 23)" "$W/ff-default.mp4" "$t3" "$m3" "$W/q-default.mp4"
row "ffmpeg libx264 veryfast, crf $CRF (retake's quality)" "$W/ff-matched.mp4" "$t4" "$m4" \
  "$W/q-matched.mp4"
