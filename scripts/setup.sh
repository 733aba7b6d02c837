#!/usr/bin/env bash
# Installs what building and testing retake needs on a fresh Debian/Ubuntu machine:
# nasm (OpenH264's fast assembly paths), ffmpeg (the independent encoder/decoder the
# tests compare against), curl (the service tests run the hosted APIs' documented curl
# lines), PostgreSQL's server and client (the storage tests start a throwaway cluster; the
# package's own cluster is not used), iproute2 (network namespaces for the multi-machine
# test), Chromium and its WebDriver (the studio's browser test drives the real page headless),
# and a Python virtual environment with the official lumaai, luma-agents and segmind SDKs,
# requests (what Segmind's sample code uses), pytest, schemathesis (the service's client and
# API-fuzzing tests), selenium (the studio's browser test) and moto (an S3-compatible server
# the blob tests run against).
# With RETAKE_FFMPEG=1 it also installs what the optional `ffmpeg` feature (the x264
# encoder) builds against: Debian's FFmpeg development packages, pkg-config and libclang.
# Safe to run again: it installs only what is missing.
set -euo pipefail
need=()
command -v nasm >/dev/null 2>&1 || need+=(nasm)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# Debian's python3 makes virtual environments only with python3-venv (it brings ensurepip).
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ "${RETAKE_FFMPEG:-0}" = 1 ]; then
  for pkg in libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
    libavfilter-dev libavdevice-dev pkg-config clang libclang-dev; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
  done
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install Rust from your distribution or rustup first" >&2
  exit 1
fi

# The Python test packages, pinned to the versions the tests were written against, in their
# own virtual environment (scripts/test.sh points $PYTHON at it). Reinstalled only when the
# list below changes.
py_packages="lumaai==1.21.0 luma-agents==0.5.0 segmind==1.3.0 requests==2.34.2 pytest==9.2.0 schemathesis==4.32.5 moto[server]==5.2.5 selenium==4.51.0"
venv="${RETAKE_VENV:-$HOME/.cache/retake-venv}"
stamp="$venv/.retake-packages"
if [ "$(cat "$stamp" 2>/dev/null)" != "$py_packages" ]; then
  echo "setup: installing Python test packages into $venv" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # shellcheck disable=SC2086 # the list is words on purpose
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $py_packages
  echo "$py_packages" > "$stamp"
fi
