#!/usr/bin/env bash
# The real-footage benchmark (issue 14; outside CI). For every clip in bench/footage/clips and
# both of its edits (a local one and a global restyle, made by bench/footage/edits.py), it runs
#   retake   `retake modify` (mode flex_1, quality profile: the defaults)
#   naive    the naive flow-warp baseline, through the same encoder
#   ebsynth  EbSynth on every frame from the edited first frame, when EBSYNTH names its binary
#            (build it yourself from its public repository; nothing here fetches or builds it).
#            Outputs already in $OUT ($TAG-ebsynth.mp4 with $TAG-ebsynth-first.png) are reused.
# scores each with `retake eval --json` (first-frame PSNR, flicker, edit retention along retake's
# own flow) and with a truth made without that flow: for the local edits, edit retention where
# bench/footage/tracks/CLIP.json (sparse corner tracks, see bench/footage/track.py) puts the
# edit; for the global restyles, PSNR against the restyle applied to every source frame
# (carry-through). Prints a Markdown table. Contact sheets (frames 0, 1/4, 1/2, 3/4, last) go to
# docs/footage/. Everything else lands in $OUT (default ./out/footage).
#
#   bash bench/footage.sh                      # all clips
#   CLIPS="box cup" EBSYNTH=/path/to/ebsynth bash bench/footage.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
OUT="${OUT:-$root/out/footage}"
CLIPS="${CLIPS:-carphone box cup walkers tree}"
EDITS="${EDITS:-local global}"
SHEETS="${SHEETS:-$root/docs/footage}"
mkdir -p "$OUT" "$SHEETS"

venv="$HOME/.cache/retake-bench-venv"
if ! "$venv/bin/python" -c "import numpy, PIL" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy==2.2.6 pillow==11.3.0
fi
PY="$venv/bin/python"
EDIT="$root/bench/footage/edits.py"
TRACK="$root/bench/footage/track.py"

if [ -z "${RETAKE:-}" ]; then
  cargo build --release --locked -p retake -p retake-engine --bin retake --example naive_baseline >/dev/null 2>&1 ||
    cargo build --release --locked -p retake -p retake-engine --bin retake --example naive_baseline
  RETAKE="$CARGO_TARGET_DIR/release/retake"
fi
NAIVE="${NAIVE:-$CARGO_TARGET_DIR/release/examples/naive_baseline}"

ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

run_ebsynth() { # CLIP_MP4 KEY_PNG OUT_MP4 WORKDIR
  local src=$1 key=$2 out=$3 d=$4
  rm -rf "$d" && mkdir -p "$d/src" "$d/out"
  ff -i "$src" "$d/src/%04d.png"
  local n=0
  for f in "$d"/src/*.png; do
    local name
    name=$(basename "$f")
    if [ "$n" -eq 0 ]; then
      cp "$key" "$d/out/$name"
    else
      "$EBSYNTH" -style "$key" -guide "$d/src/0001.png" "$f" -weight 2 \
        -output "$d/out/$name" >/dev/null
    fi
    n=$((n + 1))
  done
  ff -framerate 24 -i "$d/out/%04d.png" -c:v libx264 -crf 12 -pix_fmt yuv420p "$out"
}

results="$OUT/results.jsonl"
: >"$results"
for clip in $CLIPS; do
  src="$root/bench/footage/clips/$clip.mp4"
  "$RETAKE" --quiet frame "$src" -o "$OUT/$clip-frame0.png"
  for edit in $EDITS; do
    tag="$clip-$edit"
    key="$OUT/$tag-first.png"
    "$PY" "$EDIT" make "$clip" "$edit" "$OUT/$clip-frame0.png" "$key"
    methods="retake naive"
    t0=$(date +%s.%N)
    "$RETAKE" --quiet modify "$src" --first-frame "$key" -o "$OUT/$tag-retake.mp4"
    t1=$(date +%s.%N)
    "$NAIVE" "$src" "$key" "$OUT/$tag-naive.mp4"
    if [ -n "${EBSYNTH:-}" ]; then
      cp "$key" "$OUT/$tag-ebsynth-first.png"
      run_ebsynth "$src" "$key" "$OUT/$tag-ebsynth.mp4" "$OUT/$tag-ebsynth"
    fi
    # EbSynth outputs made earlier (with their own first frame) are scored again as they are.
    if [ -f "$OUT/$tag-ebsynth.mp4" ] && [ -f "$OUT/$tag-ebsynth-first.png" ]; then
      methods="$methods ebsynth"
    fi
    sheet_args=("source=$src")
    for m in $methods; do
      video="$OUT/$tag-$m.mp4"
      first="$key"
      [ "$m" = ebsynth ] && first="$OUT/$tag-ebsynth-first.png"
      scores=$("$RETAKE" --quiet eval --source "$src" --first-frame "$first" --output "$video" --json)
      if [ "$edit" = global ]; then
        truth=$("$PY" "$EDIT" truth-psnr "$clip" "$src" "$video")
      else
        truth=$("$PY" "$TRACK" retention "$clip" "$src" "$first" "$video" \
          "$root/bench/footage/tracks/$clip.json")
      fi
      secs=null
      [ "$m" = retake ] && secs=$(echo "$t1 - $t0" | bc)
      echo "{\"clip\": \"$clip\", \"edit\": \"$edit\", \"method\": \"$m\", \"seconds\": $secs, \"scores\": $scores, \"truth\": $truth}" |
        tr -d '\n' >>"$results"
      echo >>"$results"
      sheet_args+=("$m=$video")
    done
    "$PY" "$EDIT" sheet "$SHEETS/$tag.png" "${sheet_args[@]}"
    echo "done: $tag" >&2
  done
done

# One Markdown row per clip and edit; methods side by side. Carry-through: retention in the
# last quarter along the independent track (local edits), PSNR against the truth (global).
"$PY" - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault((r["clip"], r["edit"]), {})[r["method"]] = r
methods = [m for m in ("retake", "naive", "ebsynth") if any(m in v for v in by.values())]
cols = [("first-frame PSNR", lambda r: r["scores"]["first_frame_psnr"], "{:.2f}"),
        ("carry-through", lambda r: r["truth"].get("tracked_retention_last_quarter",
                                                   r["truth"].get("carry_through_psnr")), "{:.2f}"),
        ("tracked retention mean", lambda r: r["truth"].get("tracked_retention"), "{:.2f}"),
        ("flow retention last ¼", lambda r: r["scores"]["edit_retention_last_quarter"], "{:.2f}"),
        ("flicker", lambda r: r["scores"]["flicker"], "{:.2f}")]
head = ["clip", "edit"] + [f"{name} {m}" for name, _, _ in cols for m in methods] + ["retake s"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for (clip, edit), v in by.items():
    line = [clip, edit]
    for _, get, fmt in cols:
        for m in methods:
            x = get(v[m]) if m in v else None
            line.append("–" if x is None else fmt.format(x))
    secs = v.get("retake", {}).get("seconds")
    line.append("–" if secs is None else f"{secs:.1f}")
    print("| " + " | ".join(line) + " |")
EOF
