#!/usr/bin/env python3
"""One SD-Turbo-shaped UNet step in PyTorch diffusers, random weights, for comparison with
retake's `bench --device cuda` UNet column (same shapes: batch 1, 4×64×64 latents for 512 px,
77×1024 text embeddings; same dtype). Prints the median of REPEAT timed calls after WARMUP.

    python3 bench/gpu_unet_torch.py [--dtype f16|f32] [--size 512] [--repeat 10]
"""
import argparse
import statistics
import time

import torch
from diffusers import UNet2DConditionModel

p = argparse.ArgumentParser()
p.add_argument("--dtype", default="f16", choices=["f16", "f32"])
p.add_argument("--size", type=int, default=512)
p.add_argument("--repeat", type=int, default=10)
p.add_argument("--warmup", type=int, default=3)
a = p.parse_args()
dtype = torch.float16 if a.dtype == "f16" else torch.float32
dev = "cuda"
unet = UNet2DConditionModel(
    sample_size=a.size // 8,
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    cross_attention_dim=1024,
    attention_head_dim=(5, 10, 20, 20),
    use_linear_projection=True,
).to(dev, dtype).eval()
x = torch.randn(1, 4, a.size // 8, a.size // 8, device=dev, dtype=dtype)
ctx = torch.randn(1, 77, 1024, device=dev, dtype=dtype)
t = torch.tensor([499.0], device=dev)
times = []
with torch.no_grad():
    for i in range(a.warmup + a.repeat):
        torch.cuda.synchronize()
        s = time.perf_counter()
        unet(x, t, encoder_hidden_states=ctx)
        torch.cuda.synchronize()
        if i >= a.warmup:
            times.append(time.perf_counter() - s)
print(f"| pytorch {torch.__version__} diffusers | {a.dtype} | {a.size} | "
      f"{statistics.median(times) * 1000:.1f} ms/step (median of {a.repeat}) |")
