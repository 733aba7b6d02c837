//! The JSON configs of a diffusers model folder, with diffusers' defaults.

use crate::error::{DiffusionError, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A value diffusers allows either once for all blocks or per block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerBlock {
    /// One value for every block.
    One(usize),
    /// One value per block.
    Each(Vec<usize>),
}

impl PerBlock {
    /// The value for block `i` of `n`, or `None` when a list has the wrong length.
    pub fn get(&self, i: usize, n: usize) -> Option<usize> {
        match self {
            PerBlock::One(v) => Some(*v),
            PerBlock::Each(v) if v.len() == n => v.get(i).copied(),
            PerBlock::Each(_) => None,
        }
    }
}

fn d_4() -> usize {
    4
}
fn d_3() -> usize {
    3
}
fn d_2() -> usize {
    2
}
fn d_32() -> usize {
    32
}
fn d_true() -> bool {
    true
}
fn d_eps5() -> f64 {
    1e-5
}
fn d_one() -> PerBlock {
    PerBlock::One(1)
}
fn d_heads() -> PerBlock {
    PerBlock::One(8)
}
fn d_blocks() -> Vec<usize> {
    vec![320, 640, 1280, 1280]
}
fn d_vae_blocks() -> Vec<usize> {
    vec![64]
}
fn d_scaling() -> f64 {
    0.18215
}
fn d_silu() -> String {
    "silu".into()
}

/// `unet/config.json` (UNet2DConditionModel).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UNetConfig {
    /// Latent channels in.
    #[serde(default = "d_4")]
    pub in_channels: usize,
    /// Latent channels out.
    #[serde(default = "d_4")]
    pub out_channels: usize,
    /// Channels of each resolution level.
    #[serde(default = "d_blocks")]
    pub block_out_channels: Vec<usize>,
    /// Down block kinds (`CrossAttnDownBlock2D` / `DownBlock2D`).
    #[serde(default)]
    pub down_block_types: Vec<String>,
    /// Up block kinds (`CrossAttnUpBlock2D` / `UpBlock2D`).
    #[serde(default)]
    pub up_block_types: Vec<String>,
    /// Middle block kind.
    #[serde(default)]
    pub mid_block_type: Option<String>,
    /// Resnets per down block (up blocks have one more).
    #[serde(default = "d_2")]
    pub layers_per_block: usize,
    /// Width of the text embeddings.
    #[serde(default)]
    pub cross_attention_dim: Option<usize>,
    /// Despite its name, the number of heads per block in SD 1.x/2.x configs.
    #[serde(default = "d_heads")]
    pub attention_head_dim: PerBlock,
    /// Number of heads per block when given explicitly (overrides `attention_head_dim`).
    #[serde(default)]
    pub num_attention_heads: Option<PerBlock>,
    /// Transformer layers per attention block (SDXL uses more than one).
    #[serde(default = "d_one")]
    pub transformer_layers_per_block: PerBlock,
    /// Linear (SD 2.x) instead of 1×1 conv (SD 1.x) projections around the transformer.
    #[serde(default)]
    pub use_linear_projection: bool,
    /// Groups of the group norms.
    #[serde(default = "d_32")]
    pub norm_num_groups: usize,
    /// Epsilon of the group norms.
    #[serde(default = "d_eps5")]
    pub norm_eps: f64,
    /// Order of the sinusoidal time embedding halves.
    #[serde(default = "d_true")]
    pub flip_sin_to_cos: bool,
    /// Frequency shift of the time embedding.
    #[serde(default)]
    pub freq_shift: usize,
    /// Extra embedding (SDXL: `text_time`).
    #[serde(default)]
    pub addition_embed_type: Option<String>,
    /// SDXL: width of each time id's embedding.
    #[serde(default)]
    pub addition_time_embed_dim: Option<usize>,
    /// SDXL: input width of the added embedding.
    #[serde(default)]
    pub projection_class_embeddings_input_dim: Option<usize>,
    /// LCM-distilled UNets' guidance embedding width (unsupported when set).
    #[serde(default)]
    pub time_cond_proj_dim: Option<usize>,
    /// Class embedding kind (unsupported when set).
    #[serde(default)]
    pub class_embed_type: Option<String>,
    /// Activation (only `silu` is supported).
    #[serde(default = "d_silu")]
    pub act_fn: String,
    /// Resnet time conditioning (only `default` is supported).
    #[serde(default)]
    pub resnet_time_scale_shift: Option<String>,
    /// Nominal latent size.
    #[serde(default)]
    pub sample_size: Option<usize>,
}

/// `vae/config.json` (AutoencoderKL).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Image channels in.
    #[serde(default = "d_3")]
    pub in_channels: usize,
    /// Image channels out.
    #[serde(default = "d_3")]
    pub out_channels: usize,
    /// Latent channels.
    #[serde(default = "d_4")]
    pub latent_channels: usize,
    /// Channels of each resolution level.
    #[serde(default = "d_vae_blocks")]
    pub block_out_channels: Vec<usize>,
    /// Resnets per encoder block (decoder blocks have one more).
    #[serde(default = "d_2")]
    pub layers_per_block: usize,
    /// Groups of the group norms.
    #[serde(default = "d_32")]
    pub norm_num_groups: usize,
    /// Latents are multiplied by this after encoding.
    #[serde(default = "d_scaling")]
    pub scaling_factor: f64,
    /// Subtracted before scaling (SD3/Flux; absent for SD).
    #[serde(default)]
    pub shift_factor: Option<f64>,
    /// Whether the middle blocks have attention.
    #[serde(default = "d_true")]
    pub mid_block_add_attention: bool,
    /// Whether `quant_conv` exists.
    #[serde(default = "d_true")]
    pub use_quant_conv: bool,
    /// Whether `post_quant_conv` exists.
    #[serde(default = "d_true")]
    pub use_post_quant_conv: bool,
    /// Nominal image size (tiling uses it as the tile size).
    #[serde(default)]
    pub sample_size: Option<PerBlock>,
}

fn d_taesd_channels() -> Vec<usize> {
    vec![64; 4]
}
fn d_taesd_enc_blocks() -> Vec<usize> {
    vec![1, 3, 3, 3]
}
fn d_taesd_dec_blocks() -> Vec<usize> {
    vec![3, 3, 3, 1]
}
fn d_relu() -> String {
    "relu".into()
}
fn d_nearest() -> String {
    "nearest".into()
}
fn d_one_scale() -> f64 {
    1.0
}

/// `config.json` of a tiny autoencoder (diffusers' `AutoencoderTiny`, the TAESD architecture).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TinyVaeConfig {
    /// The class the folder was saved as (`AutoencoderTiny`).
    #[serde(rename = "_class_name", default)]
    pub class_name: Option<String>,
    /// Image channels in.
    #[serde(default = "d_3")]
    pub in_channels: usize,
    /// Image channels out.
    #[serde(default = "d_3")]
    pub out_channels: usize,
    /// Latent channels.
    #[serde(default = "d_4")]
    pub latent_channels: usize,
    /// Channels of each encoder level.
    #[serde(default = "d_taesd_channels")]
    pub encoder_block_out_channels: Vec<usize>,
    /// Channels of each decoder level.
    #[serde(default = "d_taesd_channels")]
    pub decoder_block_out_channels: Vec<usize>,
    /// Residual blocks per encoder level.
    #[serde(default = "d_taesd_enc_blocks")]
    pub num_encoder_blocks: Vec<usize>,
    /// Residual blocks per decoder level.
    #[serde(default = "d_taesd_dec_blocks")]
    pub num_decoder_blocks: Vec<usize>,
    /// Activation (only `relu`, TAESD's, is supported).
    #[serde(default = "d_relu")]
    pub act_fn: String,
    /// Decoder upsampling (only `nearest` is supported).
    #[serde(default = "d_nearest")]
    pub upsample_fn: String,
    /// Decoder upsampling factor per level.
    #[serde(default = "d_2")]
    pub upsampling_scaling_factor: usize,
    /// Latents are multiplied by this after encoding (1 for TAESD: its latents are already scaled).
    #[serde(default = "d_one_scale")]
    pub scaling_factor: f64,
    /// Subtracted before scaling (absent for TAESD).
    #[serde(default)]
    pub shift_factor: Option<f64>,
}

fn d_act() -> String {
    "quick_gelu".into()
}
fn d_77() -> usize {
    77
}

/// `text_encoder/config.json` (transformers CLIPTextModel).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClipConfig {
    /// Token vocabulary size.
    pub vocab_size: usize,
    /// Embedding width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Sequence length.
    #[serde(default = "d_77")]
    pub max_position_embeddings: usize,
    /// `quick_gelu` (SD 1.x) or `gelu` (SD 2.x).
    #[serde(default = "d_act")]
    pub hidden_act: String,
    /// Layer norm epsilon.
    #[serde(default = "d_eps5")]
    pub layer_norm_eps: f64,
}

fn d_1000() -> usize {
    1000
}
fn d_bstart() -> f64 {
    0.00085
}
fn d_bend() -> f64 {
    0.012
}
fn d_sl() -> String {
    "scaled_linear".into()
}
fn d_eps() -> String {
    "epsilon".into()
}
fn d_leading() -> String {
    "leading".into()
}
fn d_linear() -> String {
    "linear".into()
}
fn d_50() -> usize {
    50
}
fn d_one_f() -> f64 {
    1.0
}
fn d_ten() -> f64 {
    10.0
}

/// `scheduler/scheduler_config.json`: the training noise schedule and sampling conventions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchedulerConfig {
    /// The scheduler class the model was published with.
    #[serde(rename = "_class_name", default)]
    pub class_name: Option<String>,
    /// Training timesteps.
    #[serde(default = "d_1000")]
    pub num_train_timesteps: usize,
    /// First beta.
    #[serde(default = "d_bstart")]
    pub beta_start: f64,
    /// Last beta.
    #[serde(default = "d_bend")]
    pub beta_end: f64,
    /// `scaled_linear`, `linear` or `squaredcos_cap_v2`.
    #[serde(default = "d_sl")]
    pub beta_schedule: String,
    /// `epsilon`, `v_prediction` or `sample`.
    #[serde(default = "d_eps")]
    pub prediction_type: String,
    /// `leading`, `trailing` or `linspace`.
    #[serde(default = "d_leading")]
    pub timestep_spacing: String,
    /// Added to `leading` timesteps.
    #[serde(default)]
    pub steps_offset: usize,
    /// DDIM: whether the final step's "previous" alpha is 1.
    #[serde(default = "d_true")]
    pub set_alpha_to_one: bool,
    /// DDIM/LCM: clamp the predicted x0 (`None`: the scheduler's own default — on for DDIM,
    /// off for LCM, as in diffusers).
    #[serde(default)]
    pub clip_sample: Option<bool>,
    /// Clamp range for `clip_sample`.
    #[serde(default = "d_one_f")]
    pub clip_sample_range: f64,
    /// Euler: sigma interpolation (`linear` only).
    #[serde(default = "d_linear")]
    pub interpolation_type: String,
    /// Euler: Karras sigmas.
    #[serde(default)]
    pub use_karras_sigmas: bool,
    /// LCM: the step count the model was distilled with.
    #[serde(default = "d_50")]
    pub original_inference_steps: usize,
    /// LCM: boundary-condition timestep scaling.
    #[serde(default = "d_ten")]
    pub timestep_scaling: f64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        serde_json::from_str("{}").unwrap_or_else(|_| unreachable!("all fields have defaults"))
    }
}

/// Reads and parses a JSON config, naming the file in any error.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| DiffusionError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| DiffusionError::BadConfig {
        path: path.to_path_buf(),
        reason: format!("{e} — the file is not a valid diffusers config"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_diffusers() {
        let s = SchedulerConfig::default();
        assert_eq!(s.num_train_timesteps, 1000);
        assert_eq!(s.beta_schedule, "scaled_linear");
        let u: UNetConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(u.block_out_channels, vec![320, 640, 1280, 1280]);
        assert_eq!(u.attention_head_dim, PerBlock::One(8));
        let v: VaeConfig = serde_json::from_str(r#"{"attention_head_dim": [5, 10]}"#).unwrap();
        assert_eq!(v.scaling_factor, 0.18215);
    }

    #[test]
    fn per_block_lists_must_have_the_right_length() {
        let p: PerBlock = serde_json::from_str("[5, 10, 20, 20]").unwrap();
        assert_eq!(p.get(2, 4), Some(20));
        assert_eq!(p.get(2, 3), None);
        assert_eq!(PerBlock::One(8).get(3, 4), Some(8));
    }
}
