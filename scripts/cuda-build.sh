#!/usr/bin/env bash
# Builds `retake` with the `cuda` feature on a machine without a GPU or a system CUDA toolkit
# (not part of CI). The CUDA compiler, headers and libraries come from PyPI's NVIDIA wheels,
# installed in a virtual environment under $RETAKE_CUDA (default ~/.cache/retake-cuda), whose
# nvidia/cu13 folder is a toolkit (bin/, include/, lib/, nvvm/) candle's build scripts use:
#   - candle-kernels compiles its .cu kernels to PTX with nvcc (cudaforge), for
#     CUDA_COMPUTE_CAP (default 80: Ampere and newer run it; H100/H200 are 90);
#   - cudarc links the CUDA libraries dynamically: cuBLAS, cuBLASLt, cuRAND, NVRTC and the
#     runtime come from the wheels; the driver's libcuda.so only exists where an NVIDIA driver
#     is installed, so without one this script writes a link-time stub with the same soname
#     (libcuda.so.1) — the binary then loads the real driver library on the GPU machine.
# At run time the GPU machine needs the NVIDIA driver and, on the library path, the same
# libraries (the venv's nvidia/cu13/lib; see README "GPU build").
#
# Usage: bash scripts/cuda-build.sh [extra cargo args, e.g. -p retake-diffusion --example bench]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${RETAKE_CUDA:-$HOME/.cache/retake-cuda}"
VENV="$ROOT/venv"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target-cuda}"

# 1. The wheels (pinned: the CUDA 13.2 line, as NVIDIA's cuda-toolkit 13.2.2 metapackage pins
#    it; cudarc 0.19 supports 13.2). CUDA 13's wheels install into one folder, nvidia/cu13,
#    laid out like a toolkit (bin/ with nvcc, include/, lib/, nvvm/). The CUDA 12 nvcc wheel
#    has no nvcc driver (only ptxas), so CUDA 12 cannot be had this way.
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check \
  nvidia-cuda-nvcc==13.2.86 \
  nvidia-nvvm==13.2.86 \
  nvidia-cuda-crt==13.2.86 \
  nvidia-cuda-runtime==13.2.86 \
  nvidia-cuda-nvrtc==13.2.86 \
  nvidia-cuda-cccl==13.2.86 \
  nvidia-cublas==13.4.1.3 \
  nvidia-curand==10.4.2.66
NV=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nvidia
CUDA="$NV/cu13"
[ -x "$CUDA/bin/nvcc" ] || { echo "error: $CUDA/bin/nvcc is missing from the wheels" >&2; exit 1; }

# 2. The linker wants unversioned names; the wheels ship libX.so.N only.
mkdir -p "$CUDA/lib/stubs"
for lib in cudart cublas cublasLt curand nvrtc; do
  f=$(cd "$CUDA/lib" && ls "lib$lib.so."* 2>/dev/null | sort | head -1)
  [ -n "$f" ] || { echo "error: lib$lib.so.* is missing from the wheels" >&2; exit 1; }
  ln -sf "$f" "$CUDA/lib/lib$lib.so"
done

# 3. The driver library: the real one when a driver is installed, else a link-time stub
#    exporting the driver API's names (read from cudarc's bindings) under soname libcuda.so.1.
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\b'; then
  CUDARC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* 2>/dev/null | sort | tail -1)
  if [ -z "$CUDARC" ]; then cargo fetch --locked >/dev/null; CUDARC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* | sort | tail -1); fi
  grep -rhoE '\bfn cu[A-Za-z0-9_]+\(' "$CUDARC/src/driver/sys" | sed -E 's/fn ([A-Za-z0-9_]+)\(/\1/' |
    sort -u | awk '{print "void " $1 "(void) {}"}' >"$ROOT/libcuda-stub.c"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CUDA/lib/stubs/libcuda.so" "$ROOT/libcuda-stub.c"
  echo "note: no NVIDIA driver here; linking against a stub libcuda.so ($(wc -l <"$ROOT/libcuda-stub.c") symbols)"
fi

# 4. Build.
export PATH="$CUDA/bin:$PATH" CUDA_HOME="$CUDA" CUDA_PATH="$CUDA" CUDA_ROOT="$CUDA" NVCC="$CUDA/bin/nvcc"
nvcc --version | tail -2
if [ $# -eq 0 ]; then set -- -p retake; fi
cargo build --release --locked --features cuda "$@"
echo "built with CUDA (compute capability $CUDA_COMPUTE_CAP) in $CARGO_TARGET_DIR/release"
echo "run it (where the NVIDIA driver is) with: LD_LIBRARY_PATH=$CUDA/lib:\$LD_LIBRARY_PATH"
