//! The one path every clip takes, shared by `retake modify` and the server's workers:
//! `VideoReader` → keyframes → propagation between them → `VideoWriter`.
//!
//! The keyframes today are the user's edited first frame; diffusion keyframes plug in here.

mod check;
mod error;
mod modify;

pub use check::{check_first_frame_shape, check_motion, fit_first_frame, ASPECT_TOLERANCE};
pub use error::{ErrorKind, PipelineError};
pub use modify::{modify, ModifyReport, ModifyRequest, Progress, PROMPT_NEEDS_MODEL};
