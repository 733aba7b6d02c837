//! retake's diffusion keyframe engine: Stable-Diffusion-family img2img on candle, with
//! cross-frame attention to an anchor keyframe for a consistent look across a clip.
//!
//! Pure like the engine crate: it reads a diffusers model folder, and otherwise takes frames
//! in and gives frames out — no network, database or codecs.

mod blocks;
pub mod clip;
pub mod color;
pub mod compare;
pub mod config;
pub mod conv;
pub mod engine;
mod error;
pub mod image;
pub mod keyframes;
pub mod layout;
pub mod noise;
pub mod scheduler;
pub mod tiny;
pub mod tokenizer;
pub mod unet;
pub mod vae;

pub use engine::{
    ComputeDType, DeviceChoice, DiffusionEngine, EngineOptions, EngineSummary, VaeChoice,
};
pub use error::{DiffusionError, Result};
pub use keyframes::{motion_magnitudes, pick_keyframes, KeyframeParams, KeyframeRequest, Progress};
pub use layout::{list_models, Architecture, ModelInfo, WeightDType};
pub use scheduler::SchedulerKind;
pub use vae::VaeKind;
