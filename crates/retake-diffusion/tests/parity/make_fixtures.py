#!/usr/bin/env python3
"""Builds tiny random-weight Stable Diffusion models in the diffusers folder layout and saves
reference outputs of diffusers/transformers (CPU, fp32) for retake-diffusion's parity tests.

Usage (from the repository root, in a venv with torch, diffusers, transformers, safetensors):

    python crates/retake-diffusion/tests/parity/make_fixtures.py

Writes crates/retake-diffusion/tests/data/{tiny-sd15,tiny-sd21}/ (the model folders),
crates/retake-diffusion/tests/data/tiny-taesd/ (a tiny AutoencoderTiny, TAESD's architecture)
and crates/retake-diffusion/tests/data/*.fixtures.safetensors (the references). Everything is
seeded, so a rerun with the same library versions gives the same files.

    python crates/retake-diffusion/tests/parity/make_fixtures.py [--only tiny-taesd]

`--only NAME` rebuilds one of tiny-sd15, tiny-sd21, tiny-taesd and leaves the others alone.
"""

import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

import diffusers
import transformers
from diffusers import (
    AutoencoderKL,
    AutoencoderTiny,
    DDIMScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
    StableDiffusionImg2ImgPipeline,
    UNet2DConditionModel,
)
from diffusers.utils.torch_utils import randn_tensor
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))

PROMPTS = [
    "a film noir street, rain",
    "Neon CITY at night!!  it's 2049",
    "",
    "the yarn-doll style, thinking of things",
]

# A small corpus to learn merges from, so BPE has real work to do.
CORPUS = "the a film noir street rain neon city at night it's thinking of things yarn doll style " * 3


def byte_chars():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def make_tokenizer_files(folder):
    chars = byte_chars()
    vocab = {}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    words = [list(w[:-1]) + [w[-1] + "</w>"] for w in CORPUS.split()]
    merges = []
    for _ in range(40):
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        (a, b), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append(f"{a} {b}")
        vocab.setdefault(a + b, len(vocab))
        new_words = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words.append(out)
        words = new_words
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return len(vocab)


def perturb(module, seed):
    """Default inits leave norms at 1/0 and some biases at 0; jiggle everything so every
    weight matters to the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)


def build(name, sd2):
    folder = os.path.join(DATA, name)
    shutil.rmtree(folder, ignore_errors=True)
    tok_dir = os.path.join(folder, "tokenizer")
    vocab_size = make_tokenizer_files(tok_dir)
    pad = "!" if sd2 else "<|endoftext|>"
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir, pad_token=pad, model_max_length=77)

    torch.manual_seed(1 if sd2 else 0)
    text_cfg = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        hidden_act="gelu" if sd2 else "quick_gelu",
        projection_dim=32,
    )
    text = CLIPTextModel(text_cfg).eval()
    perturb(text, 10)
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        norm_num_groups=8,
        use_linear_projection=sd2,
    ).eval()
    perturb(unet, 11)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=32,
    ).eval()
    perturb(vae, 12)
    if sd2:
        # Stored as fp16 (exercising the `.fp16` variant and the f16→f32 path); the references
        # run in fp32 on the same fp16-representable values.
        with torch.no_grad():
            for m in (text, unet, vae):
                for p in m.parameters():
                    p.copy_(p.half().float())
    if sd2:
        scheduler = EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
            prediction_type="v_prediction", timestep_spacing="trailing",
        )
    else:
        scheduler = DDIMScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
            clip_sample=False, set_alpha_to_one=False, steps_offset=1,
        )
    pipe = StableDiffusionImg2ImgPipeline(
        vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    # The layout the loader reads is vocab.json + merges.txt; keep ours, drop the bulky rest.
    for extra in ["tokenizer.json"]:
        p = os.path.join(tok_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    make_tokenizer_files(tok_dir)

    fx = {}
    g = torch.Generator().manual_seed(42)
    with torch.no_grad():
        for i, p in enumerate(PROMPTS):
            ids = tokenizer(p, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
            fx[f"ids_{i}"] = ids.to(torch.int64)
        emb = text(fx["ids_0"])[0]
        fx["text_emb"] = emb
        fx["uncond_emb"] = text(fx["ids_2"])[0]

        # One UNet step on random latents, at an integer and a fractional timestep.
        x = torch.randn((1, 4, 16, 16), generator=g)
        fx["unet_x"] = x
        fx["unet_out_t500"] = unet(x, 500, encoder_hidden_states=emb).sample
        fx["unet_out_t249_5"] = unet(x, torch.tensor(249.5), encoder_hidden_states=emb).sample

        # VAE: a smooth random image, encoded to the posterior mean, and decoded back.
        img = torch.nn.functional.interpolate(torch.rand((1, 3, 8, 8), generator=g) * 2 - 1, size=(32, 32), mode="bilinear")
        fx["vae_image"] = img
        mean = vae.encode(img).latent_dist.mean
        fx["vae_mean"] = mean
        fx["vae_decoded"] = vae.decode(mean).sample

        # Full img2img: 4 scheduled steps at strength 0.5 (2 run), guidance 7.5.
        init = mean * vae.config.scaling_factor
        sched_dir = os.path.join(folder, "scheduler")
        for sname, sch in [("ddim", DDIMScheduler.from_pretrained(sched_dir)),
                           ("euler", EulerDiscreteScheduler.from_pretrained(sched_dir))]:
            pipe.scheduler = sch
            gen = torch.Generator().manual_seed(7)
            lat = pipe(prompt=PROMPTS[0], image=init, strength=0.5, num_inference_steps=4,
                       guidance_scale=7.5, generator=gen, output_type="latent").images
            noise = randn_tensor(init.shape, generator=torch.Generator().manual_seed(7), dtype=init.dtype)
            fx[f"i2i_{sname}_noise"] = noise
            fx[f"i2i_{sname}_latents"] = lat
            fx[f"i2i_{sname}_image"] = vae.decode(lat / vae.config.scaling_factor).sample
            fx[f"i2i_{sname}_timesteps"] = sch.timesteps[2:].to(torch.float32)
        fx["i2i_init"] = init

        # LCM few-step sampling, written out by hand (the SD img2img pipeline would trim LCM's
        # schedule like DDIM's): 2 steps at strength 0.5, no guidance; the noise LCM injects
        # between steps is drawn from generators we can replay.
        lcm = LCMScheduler.from_pretrained(sched_dir)
        lcm.set_timesteps(2, strength=0.5)
        noise = randn_tensor(init.shape, generator=torch.Generator().manual_seed(9), dtype=init.dtype)
        lat = lcm.add_noise(init, noise, lcm.timesteps[:1])
        for i, t in enumerate(lcm.timesteps):
            out = unet(lat, t, encoder_hidden_states=emb).sample
            lat = lcm.step(out, t, lat, generator=torch.Generator().manual_seed(100 + i)).prev_sample
        fx["i2i_lcm_noise"] = noise
        fx["i2i_lcm_step_noise"] = randn_tensor(init.shape, generator=torch.Generator().manual_seed(100), dtype=init.dtype)
        fx["i2i_lcm_latents"] = lat
        fx["i2i_lcm_timesteps"] = lcm.timesteps.to(torch.float32)
    if sd2:
        # Replace the fp32 files by fp16 variants of the same (fp16-representable) weights.
        for comp, base in [("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                           ("text_encoder", "model")]:
            os.remove(os.path.join(folder, comp, base + ".safetensors"))
        pipe.to(torch.float16)
        pipe.save_pretrained(folder, safe_serialization=True, variant="fp16")
        for extra in ["tokenizer.json"]:
            p = os.path.join(tok_dir, extra)
            if os.path.exists(p):
                os.remove(p)
        make_tokenizer_files(tok_dir)
    save_file({k: v.contiguous() for k, v in fx.items()}, os.path.join(DATA, f"{name}.fixtures.safetensors"),
              metadata={"prompts": json.dumps(PROMPTS), "torch": torch.__version__,
                        "diffusers": diffusers.__version__, "transformers": transformers.__version__})


def build_taesd(name):
    """A tiny AutoencoderTiny: 2 levels of 8 channels (2x scale, like the tiny models' VAE, so
    it can stand in for tiny-sd15's), with references for encode and decode."""
    folder = os.path.join(DATA, name)
    shutil.rmtree(folder, ignore_errors=True)
    torch.manual_seed(3)
    vae = AutoencoderTiny(
        in_channels=3,
        out_channels=3,
        encoder_block_out_channels=(8, 8),
        decoder_block_out_channels=(8, 8),
        num_encoder_blocks=(1, 2),
        num_decoder_blocks=(2, 1),
        latent_channels=4,
    ).eval()
    perturb(vae, 13)
    vae.save_pretrained(folder, safe_serialization=True)
    fx = {}
    g = torch.Generator().manual_seed(43)
    with torch.no_grad():
        # A smooth random image, not square (so height and width cannot be swapped unnoticed).
        img = torch.nn.functional.interpolate(torch.rand((1, 3, 6, 8), generator=g) * 2 - 1, size=(24, 32), mode="bilinear")
        fx["image"] = img
        lat = vae.encode(img).latents
        fx["latents"] = lat
        fx["decoded"] = vae.decode(lat).sample
        # Latents beyond TAESD's soft clamp (|z| > 3) exercise the decoder's tanh.
        wide = torch.randn((1, 4, 12, 16), generator=g) * 4
        fx["wide_latents"] = wide
        fx["wide_decoded"] = vae.decode(wide).sample
    save_file({k: v.contiguous() for k, v in fx.items()}, os.path.join(DATA, f"{name}.fixtures.safetensors"),
              metadata={"torch": torch.__version__, "diffusers": diffusers.__version__})


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if only in (None, "tiny-sd15"):
        build("tiny-sd15", sd2=False)
    if only in (None, "tiny-sd21"):
        build("tiny-sd21", sd2=True)
    if only in (None, "tiny-taesd"):
        build_taesd("tiny-taesd")
    total = 0
    for root, _, files in os.walk(DATA):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print(f"wrote {DATA} ({total / 1024:.0f} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
