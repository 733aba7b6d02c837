//! Tiny random-weight models in the real diffusers layout, for tests here and in the crates
//! that use this one (the CLI and server tests). Same architecture as SD, tiny channel counts.

use crate::clip::ClipTextModel;
use crate::config::{ClipConfig, TinyVaeConfig, UNetConfig, VaeConfig};
use crate::error::{DiffusionError, Result};
use crate::unet::{UNet, UNetShape};
use crate::vae::{TinyVae, Vae};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use std::collections::HashMap;
use std::path::Path;

/// The shape of a random model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preset {
    /// Tiny channel counts (tests).
    #[default]
    Tiny,
    /// Full-size SD-Turbo / SD 2.1-base shapes (benchmarks; ~1.3 G parameters).
    SdTurbo,
}

/// How to write a tiny model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TinySpec {
    /// Model shape.
    pub preset: Preset,
    /// SD 2.x style (linear projections, gelu text encoder, Euler/trailing) instead of SD 1.x.
    pub sd2: bool,
    /// Storage type of the weight files.
    pub dtype: DType,
    /// Write `.fp16` variant file names.
    pub fp16_variant: bool,
    /// Seed of the random weights.
    pub seed: u64,
    /// Also write a tiny autoencoder (TAESD shape) in `vae_tiny/`.
    pub tiny_vae: bool,
}

impl Default for TinySpec {
    fn default() -> Self {
        Self {
            preset: Preset::Tiny,
            sd2: false,
            dtype: DType::F32,
            fp16_variant: false,
            seed: 0,
            tiny_vae: false,
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DiffusionError + '_ {
    move |source| DiffusionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(io(p))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

/// Random weights for whatever tensors `build` asks for, jiggled so no weight is a constant.
fn random_weights(
    seed: u64,
    jiggle: bool,
    build: impl FnOnce(VarBuilder) -> candle_core::Result<()>,
) -> Result<HashMap<String, Tensor>> {
    let map = VarMap::new();
    build(VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu))?;
    let mut rng = crate::noise::NoiseRng::new(seed);
    let data = map
        .data()
        .lock()
        .map_err(|_| DiffusionError::Backend("weight map poisoned".into()))?;
    let mut out = HashMap::new();
    for (name, var) in data.iter() {
        let t = var.as_tensor();
        if !jiggle {
            out.insert(name.clone(), t.clone());
            continue;
        }
        let jiggle = rng.tensor(t.dims(), DType::F32, &Device::Cpu)?;
        out.insert(name.clone(), (t + (jiggle * 0.05)?)?);
    }
    Ok(out)
}

fn save(weights: HashMap<String, Tensor>, dtype: DType, path: &Path) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(io(p))?;
    }
    let conv: HashMap<String, Tensor> = weights
        .into_iter()
        .map(|(k, v)| Ok((k, v.to_dtype(dtype)?)))
        .collect::<candle_core::Result<_>>()?;
    candle_core::safetensors::save(&conv, path)?;
    Ok(())
}

/// A byte-level vocabulary with a few merges, like CLIP's but tiny.
fn tokenizer_files(dir: &Path, sd2: bool) -> Result<usize> {
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut n = 0;
    let chars: Vec<char> = (0..256u32)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).unwrap_or('?')
            } else {
                n += 1;
                char::from_u32(255 + n).unwrap_or('?')
            }
        })
        .collect();
    let mut vocab: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
    vocab.extend(chars.iter().map(|c| format!("{c}</w>")));
    let merges = [
        ("n", "e"),
        ("ne", "o"),
        ("neo", "n</w>"),
        ("c", "i"),
        ("t", "y</w>"),
        ("ci", "ty</w>"),
    ];
    for (a, b) in merges {
        vocab.push(format!("{a}{b}"));
    }
    vocab.push("<|startoftext|>".into());
    vocab.push("<|endoftext|>".into());
    let map: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), serde_json::Value::from(i)))
        .collect();
    write(
        &dir.join("vocab.json"),
        &serde_json::Value::Object(map).to_string(),
    )?;
    let mut m = String::from("#version: 0.2\n");
    for (a, b) in merges {
        m.push_str(&format!("{a} {b}\n"));
    }
    write(&dir.join("merges.txt"), &m)?;
    let pad = if sd2 { "!" } else { "<|endoftext|>" };
    write(
        &dir.join("tokenizer_config.json"),
        &serde_json::json!({"model_max_length": 77, "pad_token": pad, "tokenizer_class": "CLIPTokenizer"}).to_string(),
    )?;
    Ok(vocab.len())
}

/// Writes a complete tiny model folder at `dir` (created if needed).
pub fn write_tiny_model(dir: &Path, spec: TinySpec) -> Result<()> {
    let vocab_size = tokenizer_files(&dir.join("tokenizer"), spec.sd2)?;
    let ext = if spec.fp16_variant {
        "fp16.safetensors"
    } else {
        "safetensors"
    };
    let full = spec.preset == Preset::SdTurbo;
    let mut unet_json = serde_json::json!({
        "_class_name": "UNet2DConditionModel",
        "sample_size": 16, "in_channels": 4, "out_channels": 4,
        "block_out_channels": [16, 32], "layers_per_block": 1,
        "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
        "cross_attention_dim": 32, "attention_head_dim": [2, 4], "norm_num_groups": 8,
        "use_linear_projection": spec.sd2
    });
    let mut vae_json = serde_json::json!({
        "_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3,
        "block_out_channels": [8, 16], "layers_per_block": 1, "latent_channels": 4,
        "norm_num_groups": 4, "sample_size": 32,
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]
    });
    let mut clip_json = serde_json::json!({
        "vocab_size": vocab_size, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 77,
        "hidden_act": if spec.sd2 { "gelu" } else { "quick_gelu" }
    });
    if full {
        unet_json = serde_json::json!({
            "_class_name": "UNet2DConditionModel", "sample_size": 64,
            "block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2,
            "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
            "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
            "cross_attention_dim": 1024, "attention_head_dim": [5, 10, 20, 20], "use_linear_projection": true
        });
        vae_json = serde_json::json!({
            "_class_name": "AutoencoderKL", "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
            "latent_channels": 4, "sample_size": 768
        });
        clip_json = serde_json::json!({
            "vocab_size": 49408, "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 23,
            "num_attention_heads": 16, "max_position_embeddings": 77, "hidden_act": "gelu"
        });
    }
    let sched_json = if spec.sd2 || full {
        serde_json::json!({"_class_name": "EulerDiscreteScheduler", "beta_schedule": "scaled_linear",
            "beta_start": 0.00085, "beta_end": 0.012, "prediction_type": "epsilon", "timestep_spacing": "trailing"})
    } else {
        serde_json::json!({"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear",
            "beta_start": 0.00085, "beta_end": 0.012, "set_alpha_to_one": false, "steps_offset": 1})
    };
    let index = serde_json::json!({
        "_class_name": "StableDiffusionImg2ImgPipeline",
        "scheduler": ["diffusers", sched_json["_class_name"]],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]
    });
    write(&dir.join("model_index.json"), &index.to_string())?;
    write(&dir.join("unet/config.json"), &unet_json.to_string())?;
    write(&dir.join("vae/config.json"), &vae_json.to_string())?;
    write(
        &dir.join("text_encoder/config.json"),
        &clip_json.to_string(),
    )?;
    write(
        &dir.join("scheduler/scheduler_config.json"),
        &sched_json.to_string(),
    )?;

    let parse = |v: &serde_json::Value| {
        serde_json::to_string(v).map_err(|e| DiffusionError::Backend(e.to_string()))
    };
    let unet_cfg: UNetConfig = serde_json::from_str(&parse(&unet_json)?)
        .map_err(|e| DiffusionError::Backend(e.to_string()))?;
    let vae_cfg: VaeConfig = serde_json::from_str(&parse(&vae_json)?)
        .map_err(|e| DiffusionError::Backend(e.to_string()))?;
    let clip_cfg: ClipConfig = serde_json::from_str(&parse(&clip_json)?)
        .map_err(|e| DiffusionError::Backend(e.to_string()))?;
    let shape = UNetShape::from_config(&unet_cfg).map_err(DiffusionError::Backend)?;
    let w = random_weights(spec.seed, !full, |vb| {
        UNet::new(&unet_cfg, shape, vb).map(|_| ())
    })?;
    save(
        w,
        spec.dtype,
        &dir.join(format!("unet/diffusion_pytorch_model.{ext}")),
    )?;
    let w = random_weights(spec.seed + 1, !full, |vb| {
        Vae::new(&vae_cfg, vb).map(|_| ())
    })?;
    save(
        w,
        spec.dtype,
        &dir.join(format!("vae/diffusion_pytorch_model.{ext}")),
    )?;
    let w = random_weights(spec.seed + 2, !full, |vb| {
        ClipTextModel::new(&clip_cfg, vb).map(|_| ())
    })?;
    save(
        w,
        spec.dtype,
        &dir.join(format!("text_encoder/model.{ext}")),
    )?;
    if spec.tiny_vae {
        write_tiny_vae(&dir.join("vae_tiny"), spec)?;
    }
    Ok(())
}

/// Writes a tiny autoencoder folder (diffusers' `AutoencoderTiny` layout) at `dir`: TAESD's
/// own shape for [`Preset::SdTurbo`], 2 levels of 8 channels (matching the tiny VAE's 2×
/// scale) otherwise.
pub fn write_tiny_vae(dir: &Path, spec: TinySpec) -> Result<()> {
    let json = if spec.preset == Preset::SdTurbo {
        serde_json::json!({"_class_name": "AutoencoderTiny", "latent_channels": 4})
    } else {
        serde_json::json!({
            "_class_name": "AutoencoderTiny", "latent_channels": 4,
            "encoder_block_out_channels": [8, 8], "decoder_block_out_channels": [8, 8],
            "num_encoder_blocks": [1, 1], "num_decoder_blocks": [1, 1]
        })
    };
    write(&dir.join("config.json"), &json.to_string())?;
    let cfg: TinyVaeConfig =
        serde_json::from_value(json).map_err(|e| DiffusionError::Backend(e.to_string()))?;
    let jiggle = spec.preset != Preset::SdTurbo;
    let w = random_weights(spec.seed + 3, jiggle, |vb| {
        TinyVae::new(&cfg, vb).map(|_| ())
    })?;
    let ext = if spec.fp16_variant {
        "fp16.safetensors"
    } else {
        "safetensors"
    };
    save(
        w,
        spec.dtype,
        &dir.join(format!("diffusion_pytorch_model.{ext}")),
    )
}
