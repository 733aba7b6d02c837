#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs, then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# With FFmpeg's development packages and libclang for the `ffmpeg` feature's tests below.
RETAKE_FFMPEG=1 bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
# The interpreter with the SDKs and schemathesis that setup.sh installed.
export PYTHON="${PYTHON:-${RETAKE_VENV:-$HOME/.cache/retake-venv}/bin/python}"
cargo test --workspace --locked "$@"
# The optional `ffmpeg` feature's own tests (x264 round trips at 40 dB, audio kept), built for
# retake-media alone so the rest of the suite keeps the default build (about 100 s of building
# here, plus the FFmpeg development packages and libclang that setup installs).
# `bash scripts/test-ffmpeg.sh` runs the whole suite of the feature (lints, CLI).
cargo test -p retake-media --locked --features ffmpeg --test encoders
