//! The diffusers folder layout: which files a model needs, which weight variant to read, and
//! what kind of model a folder holds (for `retake models`).

use crate::config::{read_json, SchedulerConfig, UNetConfig};
use crate::error::{DiffusionError, Result};
use crate::vae::VaeKind;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The model families the engine knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Stable Diffusion 1.x (CLIP ViT-L text encoder, 768-wide cross-attention).
    Sd15,
    /// Stable Diffusion 2.x (OpenCLIP ViT-H, 1024-wide, linear projections).
    Sd21,
    /// SD-Turbo: the SD 2.1 architecture distilled for 1–4 steps.
    SdTurbo,
    /// Stable Diffusion XL (two text encoders, added time embedding): listed, not loadable yet.
    Sdxl,
    /// An SD-shaped UNet of other sizes (for example the tiny test models).
    Custom,
}

impl Architecture {
    /// The short name shown by `retake models`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Sd15 => "sd15",
            Architecture::Sd21 => "sd21",
            Architecture::SdTurbo => "sd-turbo",
            Architecture::Sdxl => "sdxl",
            Architecture::Custom => "custom",
        }
    }

    /// Whether few-step sampling without guidance is the model's intended use.
    pub fn is_few_step(self) -> bool {
        matches!(self, Architecture::SdTurbo)
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Storage type of a weights file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightDType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    Bf16,
}

impl fmt::Display for WeightDType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightDType::F32 => "fp32",
            WeightDType::F16 => "fp16",
            WeightDType::Bf16 => "bf16",
        })
    }
}

/// Which weights file to prefer when a component has both a full and an `.fp16` variant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VariantPreference {
    /// The full-precision file first.
    #[default]
    Full,
    /// The `.fp16` file first (half the memory and disk reads).
    Fp16,
}

/// The weights of one component: one file, or the shards named by an index.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightFiles {
    /// The safetensors files.
    pub files: Vec<PathBuf>,
    /// Storage type of the first tensor of the first file.
    pub dtype: WeightDType,
}

/// Every file of a complete model folder.
#[derive(Clone, Debug)]
pub struct ModelFiles {
    /// The model folder.
    pub dir: PathBuf,
    /// `unet/config.json`.
    pub unet_config: PathBuf,
    /// UNet weights.
    pub unet_weights: WeightFiles,
    /// `vae/config.json`.
    pub vae_config: PathBuf,
    /// VAE weights.
    pub vae_weights: WeightFiles,
    /// `text_encoder/config.json`.
    pub text_config: PathBuf,
    /// Text encoder weights.
    pub text_weights: WeightFiles,
    /// `tokenizer/vocab.json`.
    pub vocab: PathBuf,
    /// `tokenizer/merges.txt`.
    pub merges: PathBuf,
    /// `tokenizer/tokenizer_config.json`, when present (pad token, length).
    pub tokenizer_config: Option<PathBuf>,
    /// `scheduler/scheduler_config.json`.
    pub scheduler_config: PathBuf,
}

const MODEL_INDEX: &str = "model_index.json";

impl ModelFiles {
    /// Finds every file of the model in `dir`; the first missing one is the error.
    pub fn locate(dir: &Path, prefer: VariantPreference) -> Result<Self> {
        if !dir.is_dir() {
            return Err(DiffusionError::NoModelDir(dir.to_path_buf()));
        }
        let missing = |file: &str| DiffusionError::MissingFile {
            dir: dir.to_path_buf(),
            file: file.to_string(),
        };
        let need = |rel: &str| -> Result<PathBuf> {
            let p = dir.join(rel);
            if p.is_file() {
                Ok(p)
            } else {
                Err(missing(rel))
            }
        };
        need(MODEL_INDEX)?;
        let unet_config = need("unet/config.json")?;
        let unet_weights = weights(dir, "unet", "diffusion_pytorch_model", prefer)?;
        let vae_config = need("vae/config.json")?;
        let vae_weights = weights(dir, "vae", "diffusion_pytorch_model", prefer)?;
        let text_config = need("text_encoder/config.json")?;
        let text_weights = weights(dir, "text_encoder", "model", prefer)?;
        let vocab = need("tokenizer/vocab.json")?;
        let merges = need("tokenizer/merges.txt")?;
        let tokenizer_config =
            Some(dir.join("tokenizer/tokenizer_config.json")).filter(|p| p.is_file());
        let scheduler_config = need("scheduler/scheduler_config.json")?;
        Ok(Self {
            dir: dir.to_path_buf(),
            unet_config,
            unet_weights,
            vae_config,
            vae_weights,
            text_config,
            text_weights,
            vocab,
            merges,
            tokenizer_config,
            scheduler_config,
        })
    }
}

/// Finds the weights of a component: `{base}.safetensors`, `{base}.fp16.safetensors`, or a
/// sharded `{base}.safetensors.index.json` (also with `.fp16`).
fn weights(
    dir: &Path,
    component: &str,
    base: &str,
    prefer: VariantPreference,
) -> Result<WeightFiles> {
    let folder = dir.join(component);
    find_weights(&folder, base, prefer)?.map_or_else(
        || {
            Err(DiffusionError::MissingFile {
                dir: dir.to_path_buf(),
                file: missing_weights(&folder, &format!("{component}/"), base),
            })
        },
        Ok,
    )
}

/// The weights named `base` in `folder`, in the preferred variant first; `None` when there
/// are none.
fn find_weights(
    folder: &Path,
    base: &str,
    prefer: VariantPreference,
) -> Result<Option<WeightFiles>> {
    let full = format!("{base}.safetensors");
    let half = format!("{base}.fp16.safetensors");
    let order = match prefer {
        VariantPreference::Full => [&full, &half],
        VariantPreference::Fp16 => [&half, &full],
    };
    for name in order {
        let p = folder.join(name);
        if p.is_file() {
            let dtype = safetensors_dtype(&p)?;
            return Ok(Some(WeightFiles {
                files: vec![p],
                dtype,
            }));
        }
        let index = folder.join(format!("{name}.index.json"));
        if index.is_file() {
            return sharded(folder, &index).map(Some);
        }
    }
    Ok(None)
}

/// How to name missing weights `base` in `folder` (shown as `{prefix}{base}.safetensors`),
/// with a conversion hint when only PyTorch `.bin` weights are there.
fn missing_weights(folder: &Path, prefix: &str, base: &str) -> String {
    let rel = format!("{prefix}{base}.safetensors");
    if folder.join(format!("{base}.bin")).is_file() {
        format!("{rel} (only PyTorch .bin weights found; convert them to safetensors)")
    } else {
        rel
    }
}

const TINY_VAE_CLASS: &str = "AutoencoderTiny";
const FULL_VAE_CLASS: &str = "AutoencoderKL";

/// The tiny autoencoder's folder inside a model folder: the first subfolder, by name, whose
/// `config.json` names `AutoencoderTiny` (`vae_tiny/` or `taesd/`, say).
pub fn find_tiny_vae(model_dir: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(model_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().find(|d| {
        read_json::<serde_json::Value>(&d.join("config.json"))
            .ok()
            .is_some_and(|v| v.get("_class_name").and_then(|c| c.as_str()) == Some(TINY_VAE_CLASS))
    })
}

/// An autoencoder folder on its own: `config.json` and `diffusion_pytorch_model` weights.
#[derive(Clone, Debug)]
pub struct VaeFiles {
    /// Full (`AutoencoderKL`) or tiny (`AutoencoderTiny`), from the config's `_class_name`.
    pub kind: VaeKind,
    /// The folder.
    pub dir: PathBuf,
    /// `config.json`.
    pub config: PathBuf,
    /// The weights.
    pub weights: WeightFiles,
}

impl VaeFiles {
    /// Finds the config and weights in `dir`; errors name the folder and the missing file.
    pub fn locate(dir: &Path, prefer: VariantPreference) -> Result<Self> {
        if !dir.is_dir() {
            return Err(DiffusionError::NoVaeDir(dir.to_path_buf()));
        }
        let missing = |file: String| DiffusionError::MissingVaeFile {
            dir: dir.to_path_buf(),
            file,
        };
        let config = dir.join("config.json");
        if !config.is_file() {
            return Err(missing("config.json".into()));
        }
        let v: serde_json::Value = read_json(&config)?;
        let kind = match v.get("_class_name").and_then(|c| c.as_str()) {
            Some(TINY_VAE_CLASS) => VaeKind::Tiny,
            Some(FULL_VAE_CLASS) => VaeKind::Full,
            other => {
                return Err(DiffusionError::BadConfig {
                    path: config,
                    reason: format!(
                        "_class_name is {} — expected AutoencoderTiny (a tiny autoencoder such as TAESD) or AutoencoderKL",
                        other.map_or("missing".to_string(), |c| format!("{c:?}"))
                    ),
                })
            }
        };
        let base = "diffusion_pytorch_model";
        let weights = find_weights(dir, base, prefer)?
            .ok_or_else(|| missing(missing_weights(dir, "", base)))?;
        Ok(Self {
            kind,
            dir: dir.to_path_buf(),
            config,
            weights,
        })
    }
}

fn sharded(folder: &Path, index: &Path) -> Result<WeightFiles> {
    let v: serde_json::Value = read_json(index)?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| DiffusionError::BadConfig {
            path: index.to_path_buf(),
            reason: "no weight_map object".into(),
        })?;
    let names: BTreeSet<&str> = map.values().filter_map(|f| f.as_str()).collect();
    let mut files = Vec::new();
    for n in names {
        let p = folder.join(n);
        if !p.is_file() {
            return Err(DiffusionError::MissingFile {
                dir: folder.to_path_buf(),
                file: n.to_string(),
            });
        }
        files.push(p);
    }
    let first = files.first().ok_or_else(|| DiffusionError::BadConfig {
        path: index.to_path_buf(),
        reason: "weight_map names no files".into(),
    })?;
    let dtype = safetensors_dtype(first)?;
    Ok(WeightFiles { files, dtype })
}

/// Reads the storage type of a safetensors file from its header, without reading tensors.
pub fn safetensors_dtype(path: &Path) -> Result<WeightDType> {
    let bad = |reason: String| DiffusionError::BadWeights {
        path: path.to_path_buf(),
        reason,
    };
    let mut f = std::fs::File::open(path).map_err(|source| DiffusionError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
    let len = u64::from_le_bytes(len);
    if len > 100 << 20 {
        return Err(bad(format!("header of {len} bytes is implausible")));
    }
    let mut header = vec![0u8; len as usize];
    f.read_exact(&mut header)
        .map_err(|e| bad(format!("truncated header ({e})")))?;
    let v: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| bad(format!("header is not JSON ({e})")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("header is not an object".into()))?;
    let mut seen = BTreeSet::new();
    for (k, t) in obj {
        if k == "__metadata__" {
            continue;
        }
        if let Some(d) = t.get("dtype").and_then(|d| d.as_str()) {
            seen.insert(d.to_string());
        }
    }
    // A file is as wide as its widest float tensor (some fp16 files keep a few f32 buffers).
    if seen.contains("F32") {
        Ok(WeightDType::F32)
    } else if seen.contains("BF16") {
        Ok(WeightDType::Bf16)
    } else if seen.contains("F16") {
        Ok(WeightDType::F16)
    } else {
        Err(bad(format!("no float tensors (dtypes {seen:?})")))
    }
}

/// Guesses the architecture from the UNet and scheduler configs (and the folder name).
pub fn detect_architecture(
    unet: &UNetConfig,
    scheduler: &SchedulerConfig,
    name: &str,
) -> Architecture {
    let lname = name.to_ascii_lowercase();
    if unet.addition_embed_type.as_deref() == Some("text_time")
        || unet.cross_attention_dim == Some(2048)
    {
        return Architecture::Sdxl;
    }
    let sd_blocks = unet.block_out_channels == [320, 640, 1280, 1280];
    match unet.cross_attention_dim {
        Some(768) if sd_blocks => Architecture::Sd15,
        Some(1024) if sd_blocks => {
            if lname.contains("turbo") || scheduler.timestep_spacing == "trailing" {
                Architecture::SdTurbo
            } else {
                Architecture::Sd21
            }
        }
        _ => Architecture::Custom,
    }
}

/// What `retake models` shows for one folder.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// Folder name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// Detected family, when the configs could be read.
    pub architecture: Option<Architecture>,
    /// Storage type of the UNet weights, when found.
    pub dtype: Option<WeightDType>,
    /// Files the folder lacks (empty when complete).
    pub missing: Vec<String>,
    /// Another reason the model cannot be loaded (bad config, unsupported family).
    pub problem: Option<String>,
    /// The subfolder holding a tiny autoencoder (TAESD), used instead of `vae/` by default.
    pub tiny_vae: Option<String>,
}

impl ModelInfo {
    /// Whether the engine can load this folder.
    pub fn is_usable(&self) -> bool {
        self.missing.is_empty() && self.problem.is_none()
    }
}

/// Lists the models in `dir`: the folder itself when it holds `model_index.json`, else each
/// subfolder that looks like a diffusers model. Sorted by name; never fails.
pub fn list_models(dir: &Path) -> Vec<ModelInfo> {
    if dir.join(MODEL_INDEX).is_file() {
        return vec![inspect(dir)];
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<ModelInfo> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && (p.join(MODEL_INDEX).is_file() || p.join("unet").is_dir()))
        .map(|p| inspect(&p))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Inspects one model folder without loading weights.
pub fn inspect(dir: &Path) -> ModelInfo {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let mut info = ModelInfo {
        name: name.clone(),
        dir: dir.to_path_buf(),
        architecture: None,
        dtype: None,
        missing: Vec::new(),
        problem: None,
        tiny_vae: None,
    };
    // Collect every missing file, not just the first, so one listing says all to copy.
    for rel in [
        MODEL_INDEX,
        "unet/config.json",
        "vae/config.json",
        "text_encoder/config.json",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
        "scheduler/scheduler_config.json",
    ] {
        if !dir.join(rel).is_file() {
            info.missing.push(rel.to_string());
        }
    }
    for (component, base) in [
        ("unet", "diffusion_pytorch_model"),
        ("vae", "diffusion_pytorch_model"),
        ("text_encoder", "model"),
    ] {
        match weights(dir, component, base, VariantPreference::Full) {
            Ok(w) if component == "unet" => info.dtype = Some(w.dtype),
            Ok(_) => {}
            Err(DiffusionError::MissingFile { file, .. }) => info.missing.push(file),
            Err(e) => info.problem = Some(e.to_string()),
        }
    }
    if let Some(tiny) = find_tiny_vae(dir) {
        let name = tiny
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Err(e) = VaeFiles::locate(&tiny, VariantPreference::Full) {
            info.problem.get_or_insert(e.to_string());
        }
        info.tiny_vae = Some(name);
    }
    let unet: Option<UNetConfig> = read_json(&dir.join("unet/config.json"))
        .map_err(|e| {
            if dir.join("unet/config.json").is_file() {
                info.problem = Some(e.to_string());
            }
        })
        .ok();
    let sched: SchedulerConfig =
        read_json(&dir.join("scheduler/scheduler_config.json")).unwrap_or_default();
    if let Some(u) = unet {
        let arch = detect_architecture(&u, &sched, &name);
        info.architecture = Some(arch);
        if arch == Architecture::Sdxl && info.problem.is_none() {
            info.problem =
                Some("SDXL is not supported yet — use an SD 1.5, SD 2.1 or SD-Turbo model".into());
        }
    }
    info
}
