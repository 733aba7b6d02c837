#!/usr/bin/env bash
# Builds `retake` with the `cuda` feature on a machine without a GPU or a system CUDA toolkit
# (not part of CI). The CUDA compiler, headers and libraries come from PyPI's NVIDIA wheels,
# installed in a virtual environment under $RETAKE_CUDA (default ~/.cache/retake-cuda) and
# arranged there as one toolkit folder (bin/, include/, lib64/, nvvm/) that candle's build
# scripts understand:
#   - candle-kernels compiles its .cu kernels to PTX with nvcc (cudaforge), for
#     CUDA_COMPUTE_CAP (default 80: Ampere and newer run it; H100/H200 are 90);
#   - cudarc links the CUDA libraries dynamically: cuBLAS, cuBLASLt, cuRAND, NVRTC and the
#     runtime come from the wheels; the driver's libcuda.so only exists where an NVIDIA driver
#     is installed, so without one this script writes a link-time stub with the same soname
#     (libcuda.so.1) — the binary then loads the real driver library on the GPU machine.
# At run time the GPU machine needs the NVIDIA driver and, on the library path, the same
# libraries (e.g. this venv's nvidia/*/lib folders; see README "GPU build").
#
# Usage: bash scripts/cuda-build.sh [extra cargo args, e.g. -p retake-diffusion --example bench]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${RETAKE_CUDA:-$HOME/.cache/retake-cuda}"
VENV="$ROOT/venv"
CUDA="$ROOT/toolkit"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target-cuda}"

# 1. The wheels (pinned; the CUDA 12.9 line, which cudarc 0.19 supports).
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check \
  nvidia-cuda-nvcc-cu12==12.9.86 \
  nvidia-cuda-runtime-cu12==12.9.79 \
  nvidia-cuda-nvrtc-cu12==12.9.86 \
  nvidia-cuda-cccl-cu12==12.9.27 \
  nvidia-cublas-cu12==12.9.1.4 \
  nvidia-curand-cu12==10.3.10.19
NV=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nvidia

# 2. One toolkit folder: nvcc's own package as the root (nvcc finds nvvm/ and include/ next
#    to its bin/), the other packages' headers and libraries linked in.
rm -rf "$CUDA"
mkdir -p "$CUDA"
cp -r "$NV/cuda_nvcc/." "$CUDA/"
mkdir -p "$CUDA/include" "$CUDA/lib64/stubs"
for pkg in cuda_runtime cuda_nvrtc cuda_cccl cublas curand; do
  if [ -d "$NV/$pkg/include" ]; then cp -rs "$NV/$pkg/include/." "$CUDA/include/"; fi
  if [ -d "$NV/$pkg/lib" ]; then
    for f in "$NV/$pkg/lib/"*; do ln -sf "$f" "$CUDA/lib64/"; done
  fi
done
# The linker wants unversioned names; the wheels ship libX.so.N only.
for lib in cudart cublas cublasLt curand nvrtc; do
  f=$(cd "$CUDA/lib64" && ls "lib$lib.so."* 2>/dev/null | sort | head -1)
  [ -n "$f" ] || { echo "error: lib$lib.so.* is missing from the wheels" >&2; exit 1; }
  ln -sf "$f" "$CUDA/lib64/lib$lib.so"
done

# 3. The driver library: the real one when a driver is installed, else a link-time stub
#    exporting the driver API's names (read from cudarc's bindings) under soname libcuda.so.1.
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\b'; then
  CUDARC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* 2>/dev/null | sort | tail -1)
  if [ -z "$CUDARC" ]; then cargo fetch --locked >/dev/null; CUDARC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* | sort | tail -1); fi
  grep -rhoE '\bfn cu[A-Za-z0-9_]+\(' "$CUDARC/src/driver/sys" | sed -E 's/fn ([A-Za-z0-9_]+)\(/\1/' |
    sort -u | awk '{print "void " $1 "(void) {}"}' >"$ROOT/libcuda-stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CUDA/lib64/stubs/libcuda.so" "$ROOT/libcuda-stub.c"
  echo "note: no NVIDIA driver here; linking against a stub libcuda.so ($(wc -l <"$ROOT/libcuda-stub.c") symbols)"
fi

# 4. Build.
export PATH="$CUDA/bin:$PATH" CUDA_HOME="$CUDA" CUDA_PATH="$CUDA" CUDA_ROOT="$CUDA" NVCC="$CUDA/bin/nvcc"
nvcc --version | tail -2
if [ $# -eq 0 ]; then set -- -p retake; fi
cargo build --release --locked --features cuda "$@"
echo "built with CUDA (compute capability $CUDA_COMPUTE_CAP) in $CARGO_TARGET_DIR/release"
echo "run it with: LD_LIBRARY_PATH=$(ls -d "$NV"/*/lib | tr '\n' ':')\$LD_LIBRARY_PATH"
