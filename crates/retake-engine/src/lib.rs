//! retake's engine: optical flow, guided patch synthesis and propagation of an edited keyframe
//! through a clip. Pure: frames in, frames out — no files, network or codecs.

pub mod baseline;
pub mod controls;
pub mod cut;
pub mod edits;
pub mod error;
pub mod eval;
pub mod flow;
pub mod keyframes;
pub mod metrics;
pub mod mode;
pub mod patchmatch;
pub mod plane;
pub mod profile;
pub mod propagate;
mod region;
pub mod retention;
pub mod scene;
mod spool;
mod synth;

pub use controls::Controls;
pub use error::EngineError;
pub use flow::{bidirectional_flow, dense_flow, occlusion_mask, FlowField, FlowParams};
pub use keyframes::{propagate_between, Keyframe, KeyframeSequencer};
pub use mode::{Mode, ModeParams};
pub use plane::{ColorImage, Plane};
pub use profile::Profile;
pub use propagate::{Propagator, StageTimes, SynthSettings};
pub use scene::{Scene, SceneKind};
pub use spool::DEFAULT_SPOOL_MEMORY;
