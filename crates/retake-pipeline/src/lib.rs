//! The one path every clip takes, shared by `retake modify` and the server's workers:
//! `VideoReader` → keyframes → propagation between them → `VideoWriter`.
//!
//! Keyframes are the user's edited frames, or frames the diffusion engine restyled from a
//! prompt (then the user's first frame, if given, anchors their look). A built-in look is
//! applied to the first frame (the user's, or the clip's own) and every keyframe before
//! propagation; a colour-grade look alone is applied to every frame directly.

mod check;
mod error;
mod look;
mod modify;
mod prompt;

pub use check::{
    check_first_frame_shape, check_mask_shape, check_motion, fit_first_frame, ASPECT_TOLERANCE,
};
pub use error::{ErrorKind, PipelineError};
pub use look::{apply_look, load_mask, LookRequest};
pub use modify::{
    modify, place_keyframes, DiffusionReport, KeyframeAt, ModifyReport, ModifyRequest, Progress,
    Stage, MAX_KEYFRAMES, PROMPT_NEEDS_MODEL,
};
pub use prompt::resolve_model;
pub use retake_diffusion::{
    ComputeDType, DeviceChoice, DiffusionEngine, EngineOptions, EngineSummary, VaeChoice, VaeKind,
};
pub use retake_looks as looks;
