#!/usr/bin/env bash
# Device-side checks for a machine with an NVIDIA GPU (not part of CI; no GPU was lent when it
# was written, so it has not been run yet). From the repository root:
#
#   bash bench/gpu.sh [RETAKE_BIN_DIR]
#
# RETAKE_BIN_DIR holds `retake` and `bench` built with `bash scripts/cuda-build.sh -p retake
# -p retake-diffusion --example bench` (on any machine; copy the two binaries over), or, with
# cargo and a CUDA toolkit on the GPU machine, is built here. The CUDA libraries (cuBLAS,
# cuBLASLt, cuRAND, NVRTC, runtime) must be on LD_LIBRARY_PATH and the driver installed.
#  1. `bench --device cuda --dtype f16`: one 512-px SD-Turbo-shaped keyframe, per stage, tiny
#     and full autoencoder (random weights, written once to $MODEL).
#  2. One UNet step in PyTorch diffusers at the same shapes and dtype (bench/gpu_unet_torch.py),
#     when torch with CUDA and diffusers are importable. Target: retake within 1.3× per step.
#  3. A 5 s 1280×720 prompt-only `retake modify --device cuda` on the same model, end to end.
#     Target: under 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-}"
if [ -z "$BIN" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/retake-target-cuda}"
  export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}"
  cargo build --release --locked --features cuda -p retake -p retake-diffusion --bin retake --example bench
  BIN="$CARGO_TARGET_DIR/release"
  cp "$BIN/examples/bench" "$BIN/bench"
fi
MODEL="${MODEL:-$HOME/.cache/retake-bench/sd-turbo-random-f16}"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
echo
echo "## 1. keyframe (retake, CUDA, f16)"
"$BIN/bench" --device cuda --dtype f16 --steps 1,2 --size 512 --vae tiny,full --repeat 3 --model-dir "$MODEL"
echo
echo "## 2. one UNet step, PyTorch diffusers, same shapes and dtype"
if python3 -c "import torch, diffusers; assert torch.cuda.is_available()" 2>/dev/null; then
  python3 bench/gpu_unet_torch.py --dtype f16 --size 512
else
  echo "(skipped: python3 with CUDA torch and diffusers is not available on this machine)"
fi
echo
echo "## 3. 5 s 720p prompt-only clip (retake modify --device cuda)"
ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=5" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=5" \
  -c:v libx264 -profile:v high -bf 3 -crf 18 -pix_fmt yuv420p -c:a aac -b:a 128k "$W/src.mp4"
for vae in tiny full; do
  start=$(date +%s.%N)
  "$BIN/retake" modify "$W/src.mp4" --prompt "film noir, rain" --model-dir "$MODEL" \
    --device cuda --vae "$vae" -o "$W/out-$vae.mp4" --quiet --json >"$W/r-$vae.json"
  end=$(date +%s.%N)
  python3 - "$W/r-$vae.json" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); d = r["diffusion"]
print(f"| 5 s 1280x720 | {d['vae']} VAE | {len(r['keyframes'])} keyframes | {d['steps']} steps | "
      f"diffusion {d['seconds']:.1f} s | whole {float(sys.argv[3]) - float(sys.argv[2]):.1f} s |")
PY
done
