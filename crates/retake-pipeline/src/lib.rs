//! The one path every clip takes, shared by `retake modify` and the server's workers:
//! `VideoReader` → keyframes → propagation between them → `VideoWriter`.
//!
//! Keyframes are the user's edited frames, or frames the diffusion engine restyled from a
//! prompt (then the user's first frame, if given, anchors their look).

mod check;
mod error;
mod modify;
mod prompt;

pub use check::{check_first_frame_shape, check_motion, fit_first_frame, ASPECT_TOLERANCE};
pub use error::{ErrorKind, PipelineError};
pub use modify::{
    modify, place_keyframes, DiffusionReport, KeyframeAt, ModifyReport, ModifyRequest, Progress,
    Stage, MAX_KEYFRAMES, PROMPT_NEEDS_MODEL,
};
pub use prompt::resolve_model;
pub use retake_diffusion::{
    ComputeDType, DeviceChoice, DiffusionEngine, EngineOptions, EngineSummary, VaeChoice, VaeKind,
};
