#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs, then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target}"
# The interpreter with the SDKs and schemathesis that setup.sh installed.
export PYTHON="${PYTHON:-${RETAKE_VENV:-$HOME/.cache/retake-venv}/bin/python}"
cargo test --workspace --locked "$@"
