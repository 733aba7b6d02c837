#!/usr/bin/env bash
# The optional `ffmpeg` feature (the x264 encoder and FFmpeg decoder): lints and tests the
# crates that have it, built with it. CI (scripts/test.sh) runs only the encoders' own tests
# with the feature; this runs everything with it (a few minutes more of building): run it after
# touching the encoders, the reader or the muxer.
set -euo pipefail
cd "$(dirname "$0")/.."
RETAKE_FFMPEG=1 bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
export PYTHON="${PYTHON:-${RETAKE_VENV:-$HOME/.cache/retake-venv}/bin/python}"
cargo clippy -p retake-media -p retake --all-targets --locked --features retake/ffmpeg -- -D warnings
# Every retake-media test with x264 as the default encoder, the encoders' own tests among them,
# and the CLI's.
cargo test -p retake-media --locked --features ffmpeg "$@"
cargo test -p retake --locked --features ffmpeg --test cli "$@"
