//! Loading a model folder and running img2img on latents.

use crate::clip::ClipTextModel;
use crate::config::{read_json, ClipConfig, SchedulerConfig, TinyVaeConfig, UNetConfig, VaeConfig};
use crate::error::{DiffusionError, Result};
use crate::layout::{
    detect_architecture, find_tiny_vae, Architecture, ModelFiles, VaeFiles, VariantPreference,
    WeightDType, WeightFiles,
};
use crate::scheduler::{Sampler, SchedulerKind};
use crate::tokenizer::ClipTokenizer;
use crate::unet::{AttentionSlicing, FrameHook, UNet, UNetShape};
use crate::vae::{Autoencoder, TinyVae, Vae, VaeKind};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Where the model runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (always available).
    #[default]
    Cpu,
    /// A CUDA GPU by ordinal (needs the `cuda` cargo feature).
    Cuda(usize),
}

/// The dtype weights are held and computed in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ComputeDType {
    /// f32 on CPU, f16 on CUDA.
    #[default]
    Auto,
    /// 32-bit float (the parity reference).
    F32,
    /// IEEE half: half the memory.
    F16,
    /// bfloat16.
    Bf16,
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    /// `cpu`, `cuda` (GPU 0) or `cuda:N`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("expected cpu, cuda or cuda:N, got {s:?}")),
        }
    }
}

impl std::str::FromStr for ComputeDType {
    type Err = String;
    /// `auto`, `f32`, `f16` or `bf16`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ComputeDType::Auto),
            "f32" | "fp32" => Ok(ComputeDType::F32),
            "f16" | "fp16" => Ok(ComputeDType::F16),
            "bf16" => Ok(ComputeDType::Bf16),
            _ => Err(format!("expected auto, f32, f16 or bf16, got {s:?}")),
        }
    }
}

/// Which autoencoder encodes and decodes keyframes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum VaeChoice {
    /// The tiny autoencoder when the model folder has one, else the full VAE.
    #[default]
    Auto,
    /// The model's full VAE (`vae/`).
    Full,
    /// The model folder's tiny autoencoder; an error when it has none.
    Tiny,
    /// The autoencoder in this folder (tiny or full, as its `config.json` says).
    Folder(PathBuf),
}

impl std::str::FromStr for VaeChoice {
    type Err = String;
    /// `auto`, `full`, `tiny`, or a folder.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "" => Err("expected auto, full, tiny or an autoencoder folder, got nothing".into()),
            t if t.eq_ignore_ascii_case("auto") => Ok(VaeChoice::Auto),
            t if t.eq_ignore_ascii_case("full") => Ok(VaeChoice::Full),
            t if t.eq_ignore_ascii_case("tiny") => Ok(VaeChoice::Tiny),
            _ => Ok(VaeChoice::Folder(PathBuf::from(s))),
        }
    }
}

impl std::fmt::Display for VaeChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaeChoice::Auto => f.write_str("auto"),
            VaeChoice::Full => f.write_str("full"),
            VaeChoice::Tiny => f.write_str("tiny"),
            VaeChoice::Folder(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What a loaded engine is, for reports (`retake modify --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EngineSummary {
    /// The model folder.
    pub model: PathBuf,
    /// The detected family.
    pub architecture: Architecture,
    /// The autoencoder used: full or tiny.
    pub vae: VaeKind,
    /// Its folder.
    pub vae_dir: PathBuf,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Compute dtype: `f32`, `f16` or `bf16`.
    pub dtype: String,
    /// Denoising steps run per keyframe.
    pub steps: usize,
    /// Longer side of the working resolution, pixels.
    pub resolution: u32,
}

/// How to load and run a model.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// CPU by default.
    pub device: DeviceChoice,
    /// Weight and compute dtype.
    pub dtype: ComputeDType,
    /// Sampler; `Auto` takes the model's own.
    pub scheduler: SchedulerKind,
    /// Denoising steps actually run per keyframe (`None`: 2 for few-step models, 20 otherwise).
    pub steps: Option<usize>,
    /// Classifier-free guidance scale (`None`: 0 for few-step models, 7.5 otherwise; ≤ 1 = off).
    pub guidance_scale: Option<f64>,
    /// Longer side of the working resolution (`None`: the model's native size).
    pub resolution: Option<u32>,
    /// Cap on one attention score block, in bytes.
    pub attention_slice_bytes: usize,
    /// VAE tile size in pixels (0: never tile). 768 keeps every native working size (512 and
    /// 768 px) in one tile: tiles cost overlap work and, for the full VAE, change its group
    /// norms' statistics.
    pub vae_tile: usize,
    /// Full or tiny autoencoder.
    pub vae: VaeChoice,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            device: DeviceChoice::Cpu,
            dtype: ComputeDType::Auto,
            scheduler: SchedulerKind::Auto,
            steps: None,
            guidance_scale: None,
            resolution: None,
            attention_slice_bytes: AttentionSlicing::default().max_bytes,
            vae_tile: 768,
            vae: VaeChoice::Auto,
        }
    }
}

/// How many prompts' text embeddings an engine keeps.
pub const PROMPT_CACHE: usize = 8;

/// A loaded diffusion model: tokenizer, text encoder, UNet, VAE and noise schedule.
pub struct DiffusionEngine {
    pub(crate) tokenizer: ClipTokenizer,
    pub(crate) text: ClipTextModel,
    pub(crate) unet: UNet,
    pub(crate) vae: Autoencoder,
    pub(crate) vae_dir: PathBuf,
    /// Text embeddings of the last few prompts (a server sees the same prompt again).
    pub(crate) prompt_cache: std::sync::Mutex<Vec<(String, Tensor)>>,
    pub(crate) model_dir: PathBuf,
    pub(crate) scheduler_cfg: SchedulerConfig,
    pub(crate) options: EngineOptions,
    pub(crate) architecture: Architecture,
    pub(crate) device: Device,
    pub(crate) dtype: DType,
    pub(crate) native: u32,
    pub(crate) weights_dtype: WeightDType,
}

impl std::fmt::Debug for DiffusionEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DiffusionEngine({}, {:?}, {:?})",
            self.architecture, self.device, self.dtype
        )
    }
}

fn device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda(i) => Device::new_cuda(i)
            .map_err(|e| DiffusionError::Backend(format!("CUDA device {i}: {e}"))),
        #[cfg(not(feature = "cuda"))]
        DeviceChoice::Cuda(_) => Err(DiffusionError::Unsupported(
            "this build has no CUDA support — rebuild with `--features cuda` or use the CPU".into(),
        )),
    }
}

/// Maps a weight mmap, converting tensors to `dtype` as they are read.
fn var_builder(w: &WeightFiles, dtype: DType, dev: &Device) -> Result<VarBuilder<'static>> {
    // SAFETY: the files are memory-mapped read-only; like every safetensors loader we rely on
    // nobody truncating them while the model loads (tensors are copied out during loading).
    unsafe { VarBuilder::from_mmaped_safetensors(&w.files, dtype, dev) }.map_err(|e| {
        DiffusionError::BadWeights {
            path: w.files.first().cloned().unwrap_or_default(),
            reason: crate::error::first_line(&e),
        }
    })
}

fn bad_weights(w: &WeightFiles) -> impl Fn(candle_core::Error) -> DiffusionError + '_ {
    move |e| DiffusionError::BadWeights {
        path: w.files.first().cloned().unwrap_or_default(),
        reason: crate::error::first_line(&e),
    }
}

/// The config of the autoencoder to load.
enum PlannedVae {
    Full(VaeConfig),
    Tiny(TinyVaeConfig),
}

/// The autoencoder the options ask for: located and its config checked, no weights read.
struct VaePlan {
    dir: PathBuf,
    weights: WeightFiles,
    config: PlannedVae,
}

fn plan_vae(
    files: &ModelFiles,
    own: &VaeConfig,
    choice: &VaeChoice,
    prefer: VariantPreference,
) -> Result<VaePlan> {
    let located = match choice {
        VaeChoice::Full => None,
        VaeChoice::Auto => find_tiny_vae(&files.dir)
            .map(|d| VaeFiles::locate(&d, prefer))
            .transpose()?,
        VaeChoice::Tiny => {
            let d = find_tiny_vae(&files.dir)
                .ok_or_else(|| DiffusionError::NoTinyVae(files.dir.clone()))?;
            Some(VaeFiles::locate(&d, prefer)?)
        }
        VaeChoice::Folder(d) => Some(VaeFiles::locate(d, prefer)?),
    };
    let Some(v) = located else {
        return Ok(VaePlan {
            dir: files.dir.join("vae"),
            weights: files.vae_weights.clone(),
            config: PlannedVae::Full(own.clone()),
        });
    };
    let bad = |reason: String| DiffusionError::BadConfig {
        path: v.config.clone(),
        reason,
    };
    let (config, latent, levels) = match v.kind {
        VaeKind::Full => {
            let c: VaeConfig = read_json(&v.config)?;
            let (l, n) = (c.latent_channels, c.block_out_channels.len());
            (PlannedVae::Full(c), l, n)
        }
        VaeKind::Tiny => {
            let c: TinyVaeConfig = read_json(&v.config)?;
            crate::vae::tiny::check_config(&c).map_err(bad)?;
            let (l, n) = (c.latent_channels, c.encoder_block_out_channels.len());
            (PlannedVae::Tiny(c), l, n)
        }
    };
    let own_levels = own.block_out_channels.len();
    if latent != own.latent_channels || levels != own_levels {
        return Err(bad(format!(
            "this autoencoder has {latent} latent channels at 1/{} scale, the model's own VAE {} at 1/{} — it belongs to another model family (SD 1.x, 2.x and SD-Turbo use TAESD, not TAESDXL or TAESD3)",
            1usize << levels.saturating_sub(1),
            own.latent_channels,
            1usize << own_levels.saturating_sub(1)
        )));
    }
    Ok(VaePlan {
        dir: v.dir,
        weights: v.weights,
        config,
    })
}

impl DiffusionEngine {
    /// Loads the diffusers folder `model_dir`. A missing or incomplete folder gives an error
    /// naming the missing file; configs are checked before any weight is read.
    pub fn load(model_dir: &Path, options: EngineOptions) -> Result<Self> {
        let dev = device(options.device)?;
        let dtype = match (options.dtype, &dev) {
            (ComputeDType::F32, _) => DType::F32,
            (ComputeDType::F16, _) => DType::F16,
            (ComputeDType::Bf16, _) => DType::BF16,
            (ComputeDType::Auto, Device::Cpu) => DType::F32,
            (ComputeDType::Auto, _) => DType::F16,
        };
        if dtype == DType::BF16 && dev.is_cpu() {
            return Err(DiffusionError::Unsupported(
                "bf16 compute is not supported on the CPU — use f32 or f16 (bf16 weight files load fine and are converted)".into(),
            ));
        }
        let prefer = if dtype == DType::F32 {
            VariantPreference::Full
        } else {
            VariantPreference::Fp16
        };
        let files = ModelFiles::locate(model_dir, prefer)?;
        let unet_cfg: UNetConfig = read_json(&files.unet_config)?;
        let vae_cfg: VaeConfig = read_json(&files.vae_config)?;
        let clip_cfg: ClipConfig = read_json(&files.text_config)?;
        let sched_cfg: SchedulerConfig = read_json(&files.scheduler_config)?;
        let name = model_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let architecture = detect_architecture(&unet_cfg, &sched_cfg, &name);
        let shape =
            UNetShape::from_config(&unet_cfg).map_err(|reason| DiffusionError::BadConfig {
                path: files.unet_config.clone(),
                reason,
            })?;
        if vae_cfg.latent_channels != unet_cfg.in_channels
            || unet_cfg.in_channels != unet_cfg.out_channels
        {
            return Err(DiffusionError::BadConfig {
                path: files.unet_config.clone(),
                reason: format!(
                    "UNet in/out channels {}/{} do not match the VAE's {} latent channels (inpainting UNets are not supported)",
                    unet_cfg.in_channels, unet_cfg.out_channels, vae_cfg.latent_channels
                ),
            });
        }
        if unet_cfg.cross_attention_dim.unwrap_or(1280) != clip_cfg.hidden_size {
            return Err(DiffusionError::BadConfig {
                path: files.text_config.clone(),
                reason: format!(
                    "text encoder width {} does not match the UNet's cross_attention_dim {:?}",
                    clip_cfg.hidden_size, unet_cfg.cross_attention_dim
                ),
            });
        }
        // Validate the scheduler config once, up front.
        Sampler::img2img(options.scheduler, &sched_cfg, 2, 1.0).map_err(|e| {
            DiffusionError::BadConfig {
                path: files.scheduler_config.clone(),
                reason: e.to_string(),
            }
        })?;
        let vae_plan = plan_vae(&files, &vae_cfg, &options.vae, prefer)?;
        let mut tokenizer = ClipTokenizer::load(
            &files.vocab,
            &files.merges,
            files.tokenizer_config.as_deref(),
        )?;
        tokenizer.set_max_len(tokenizer.max_len().min(clip_cfg.max_position_embeddings));

        let vb = var_builder(&files.text_weights, dtype, &dev)?;
        let text = ClipTextModel::new(&clip_cfg, vb).map_err(bad_weights(&files.text_weights))?;
        let vb = var_builder(&files.unet_weights, dtype, &dev)?;
        let mut unet = UNet::new(&unet_cfg, shape, vb).map_err(bad_weights(&files.unet_weights))?;
        unet.set_slicing(AttentionSlicing {
            max_bytes: options.attention_slice_bytes.max(1 << 20),
        });
        let vb = var_builder(&vae_plan.weights, dtype, &dev)?;
        let bad = bad_weights(&vae_plan.weights);
        let mut vae = match &vae_plan.config {
            PlannedVae::Full(c) => Autoencoder::full(
                Vae::new(c, vb).map_err(bad)?,
                c.scaling_factor,
                c.shift_factor.unwrap_or(0.0),
            ),
            PlannedVae::Tiny(c) => Autoencoder::tiny(
                TinyVae::new(c, vb).map_err(bad)?,
                c.scaling_factor,
                c.shift_factor.unwrap_or(0.0),
            ),
        };
        // Tiles below 4 latent cells per side (×8 for overlap maths) make no sense; round up.
        let unit = vae.factor() * 8;
        vae.tile = match options.vae_tile {
            0 => 0,
            t => t.max(4 * unit).div_ceil(unit) * unit,
        };
        let native = unet_cfg
            .sample_size
            .map(|s| (s * vae.factor()) as u32)
            .unwrap_or(512);
        Ok(Self {
            tokenizer,
            text,
            unet,
            vae,
            vae_dir: vae_plan.dir,
            prompt_cache: std::sync::Mutex::new(Vec::new()),
            model_dir: model_dir.to_path_buf(),
            scheduler_cfg: sched_cfg,
            options,
            architecture,
            device: dev,
            dtype,
            native,
            weights_dtype: files.unet_weights.dtype,
        })
    }

    /// The UNet.
    pub fn unet(&self) -> &UNet {
        &self.unet
    }

    /// The autoencoder in use (full or tiny).
    pub fn vae(&self) -> &Autoencoder {
        &self.vae
    }

    /// The folder the autoencoder was loaded from.
    pub fn vae_dir(&self) -> &Path {
        &self.vae_dir
    }

    /// The model folder.
    pub fn model_dir(&self) -> &Path {
        &self.model_dir
    }

    /// What this engine is, for reports.
    pub fn summary(&self) -> EngineSummary {
        let device = match self.options.device {
            DeviceChoice::Cpu => "cpu".to_string(),
            DeviceChoice::Cuda(i) => format!("cuda:{i}"),
        };
        let dtype = match self.dtype {
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            _ => "f32",
        };
        EngineSummary {
            model: self.model_dir.clone(),
            architecture: self.architecture,
            vae: self.vae.kind(),
            vae_dir: self.vae_dir.clone(),
            device,
            dtype: dtype.to_string(),
            steps: self.steps(),
            resolution: self.options.resolution.unwrap_or(self.native),
        }
    }

    /// The detected model family.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// The compute dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Storage type of the UNet weights on disk.
    pub fn weights_dtype(&self) -> WeightDType {
        self.weights_dtype
    }

    /// The model's native resolution (longer side, pixels).
    pub fn native_resolution(&self) -> u32 {
        self.native
    }

    /// Frame sides must be multiples of this (VAE factor × UNet halvings).
    pub fn size_multiple(&self) -> u32 {
        (self.vae.factor() * self.unet.shape().latent_multiple()) as u32
    }

    /// The scheduler config in use.
    pub fn scheduler_config(&self) -> &SchedulerConfig {
        &self.scheduler_cfg
    }

    /// Denoising steps run per keyframe.
    pub fn steps(&self) -> usize {
        self.options
            .steps
            .unwrap_or(if self.architecture.is_few_step() {
                2
            } else {
                20
            })
            .max(1)
    }

    /// Sets the denoising steps per keyframe (`None`: the model's default).
    pub fn set_steps(&mut self, steps: Option<usize>) {
        self.options.steps = steps;
    }

    /// Guidance scale in use.
    pub fn guidance_scale(&self) -> f64 {
        self.options
            .guidance_scale
            .unwrap_or(if self.architecture.is_few_step() {
                0.0
            } else {
                7.5
            })
    }

    /// Token ids for a prompt (start, tokens, end, padding).
    pub fn tokenize(&self, prompt: &str) -> Vec<u32> {
        self.tokenizer.encode(prompt)
    }

    /// Text embeddings `(1, 77, dim)` of a prompt; the last [`PROMPT_CACHE`] prompts' are
    /// kept, so a repeated prompt costs nothing.
    pub fn encode_prompt(&self, prompt: &str) -> Result<Tensor> {
        let cached =
            |c: &Vec<(String, Tensor)>| c.iter().find(|(p, _)| p == prompt).map(|(_, t)| t.clone());
        if let Some(t) = self.prompt_cache.lock().ok().and_then(|c| cached(&c)) {
            return Ok(t);
        }
        let ids = self.tokenize(prompt);
        let n = ids.len();
        let ids = Tensor::from_vec(ids, (1, n), &self.device)?;
        let emb = self.text.forward(&ids)?;
        if let Ok(mut c) = self.prompt_cache.lock() {
            if c.len() >= PROMPT_CACHE {
                c.remove(0);
            }
            c.push((prompt.to_string(), emb.clone()));
        }
        Ok(emb)
    }

    /// The conditioning batch: `[uncond, cond]` when guidance is on, else `cond`.
    pub fn conditioning(&self, prompt: &str, negative: &str, guidance: f64) -> Result<Tensor> {
        let cond = self.encode_prompt(prompt)?;
        if guidance > 1.0 {
            Ok(Tensor::cat(&[&self.encode_prompt(negative)?, &cond], 0)?)
        } else {
            Ok(cond)
        }
    }

    /// Image `(1, 3, h, w)` in [-1, 1] → scaled latents (mean of the posterior; tiled if large).
    pub fn encode_image(&self, img: &Tensor) -> Result<Tensor> {
        Ok(self.vae.encode(&img.to_dtype(self.dtype)?)?)
    }

    /// Scaled latents → image in about [-1, 1] (tiled if large).
    pub fn decode_latents(&self, z: &Tensor) -> Result<Tensor> {
        Ok(self.vae.decode(&z.to_dtype(self.dtype)?)?)
    }

    /// One UNet call: the model output for latents `x` at timestep `t`.
    pub fn unet_forward(
        &self,
        x: &Tensor,
        t: f64,
        ctx: &Tensor,
        hook: Option<&FrameHook>,
    ) -> Result<Tensor> {
        Ok(self.unet.forward(
            &x.to_dtype(self.dtype)?,
            t,
            &ctx.to_dtype(self.dtype)?,
            hook,
        )?)
    }

    /// Model output with classifier-free guidance (`ctx` from [`Self::conditioning`]).
    pub fn guided(
        &self,
        x: &Tensor,
        t: f64,
        ctx: &Tensor,
        guidance: f64,
        hook: Option<&FrameHook>,
    ) -> Result<Tensor> {
        if ctx.dim(0)? == 2 {
            let out = self
                .unet_forward(&Tensor::cat(&[x, x], 0)?, t, ctx, hook)?
                .to_dtype(DType::F32)?;
            let (u, c) = (out.get(0)?.unsqueeze(0)?, out.get(1)?.unsqueeze(0)?);
            Ok((&u + ((c - &u)? * guidance)?)?)
        } else {
            Ok(self.unet_forward(x, t, ctx, hook)?.to_dtype(DType::F32)?)
        }
    }

    /// Plans img2img sampling with this engine's scheduler.
    pub fn sampler(&self, num_inference_steps: usize, strength: f64) -> Result<Sampler> {
        Sampler::img2img(
            self.options.scheduler,
            &self.scheduler_cfg,
            num_inference_steps,
            strength,
        )
    }

    /// diffusers-faithful img2img on latents: noise `init` to the start step with `noise`, then
    /// denoise. `step_noise` feeds samplers that re-noise between steps (LCM). Latents stay f32
    /// between steps, like diffusers' schedulers.
    #[allow(clippy::too_many_arguments)]
    pub fn img2img_latents(
        &self,
        init: &Tensor,
        noise: &Tensor,
        ctx: &Tensor,
        guidance: f64,
        sampler: &Sampler,
        hook: Option<&FrameHook>,
        step_noise: &mut dyn FnMut() -> Result<Tensor>,
        cancel: &AtomicBool,
        mut per_step: impl FnMut(StepState<'_>) -> Result<Option<Tensor>>,
    ) -> Result<Tensor> {
        let init = init.to_dtype(DType::F32)?;
        let mut x = sampler.add_noise(&init, &noise.to_dtype(DType::F32)?, 0)?;
        for (i, &t) in sampler.timesteps().iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(DiffusionError::Cancelled);
            }
            let input = sampler.scale_model_input(&x, i)?;
            let out = self.guided(&input, t, ctx, guidance, hook)?;
            let (prev, x0) = sampler.step(&out, i, &x, step_noise)?;
            x = match per_step(StepState {
                index: i,
                sample: &prev,
                x0: &x0,
            })? {
                Some(replaced) => replaced,
                None => prev,
            };
        }
        Ok(x)
    }
}

/// What a step callback sees after each denoising step.
#[derive(Debug)]
pub struct StepState<'a> {
    /// Run step index.
    pub index: usize,
    /// The next latent sample.
    pub sample: &'a Tensor,
    /// The predicted clean latents.
    pub x0: &'a Tensor,
}

#[cfg(test)]
mod tests {
    use super::{ComputeDType, DeviceChoice};

    #[test]
    fn devices_and_dtypes_parse_from_what_users_type() {
        assert_eq!("cpu".parse::<DeviceChoice>(), Ok(DeviceChoice::Cpu));
        assert_eq!("CUDA".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cuda:2".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(2)));
        assert!("tpu"
            .parse::<DeviceChoice>()
            .unwrap_err()
            .contains("cuda:N"));
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
        assert_eq!("fp16".parse::<ComputeDType>(), Ok(ComputeDType::F16));
        assert_eq!("bf16".parse::<ComputeDType>(), Ok(ComputeDType::Bf16));
        assert_eq!(" auto ".parse::<ComputeDType>(), Ok(ComputeDType::Auto));
        assert!("f64".parse::<ComputeDType>().unwrap_err().contains("bf16"));
    }

    /// The server shares one loaded engine between worker threads.
    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::DiffusionEngine>();
    }
}
