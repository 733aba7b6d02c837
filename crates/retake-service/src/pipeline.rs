//! The seam between the service and the one clip pipeline: the service hands a worker's job
//! to a [`ClipPipeline`]; [`MediaPipeline`] is the real one (media reader → engine → writer),
//! the same path the CLI runs.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use retake_engine::{Controls, Mode, Profile};
use retake_media::{Limits, SizeCap, TranscodeOptions};
use retake_pipeline::{modify, DiffusionEngine, ErrorKind, KeyframeAt, LookRequest, ModifyRequest};

/// The input name (see `blobs::input_key`) of a look's mask.
pub const LOOK_MASK: &str = "look_mask";

/// What to tell a client who sent a prompt and no first frame (and no look) to a server
/// without a model. It lists the built-in looks, which need no model.
pub fn prompt_needs_model() -> String {
    format!(
        "prompt-only modification needs a diffusion model, and this server has no diffusion \
         model; send first_frame.url with an edited copy of the clip's first frame or a \
         built-in look, or ask the operator to set `model_dir`. {}",
        crate::domain::looks_help()
    )
}

/// What to tell a client who sent neither a prompt nor a first frame nor a look.
pub fn nothing_to_change(has_model: bool) -> String {
    format!(
        "nothing to change: send first_frame.url with an edited copy of the clip's first \
         frame{}, or a built-in look. {}",
        if has_model {
            ", a prompt saying what to change"
        } else {
            ""
        },
        crate::domain::looks_help()
    )
}

/// One clip to process, with every input already on local disk.
#[derive(Clone, Debug)]
pub struct PipelineJob {
    /// The source clip.
    pub input: PathBuf,
    /// The edited first frame, if the client sent one.
    pub first_frame: Option<PathBuf>,
    /// More edited frames, each at a source frame (counted from 0 in the source's own frame
    /// rate).
    pub keyframes: Vec<(usize, PathBuf)>,
    /// The output size rule, when the request named a resolution tier (else the pipeline's
    /// own cap).
    pub output_cap: Option<SizeCap>,
    /// How strongly structure and motion hold, on top of the mode.
    pub controls: Controls,
    /// The prompt, if any.
    pub prompt: Option<String>,
    /// A built-in look for the first frame (its mask, if any, on local disk too).
    pub look: Option<LookRequest>,
    /// Mode name (`adhere_1` … `reimagine_3`).
    pub mode: String,
    /// The engine profile of the generation's model (from the catalogue).
    pub profile: Profile,
    /// The longest clip the generation's model takes (the catalogue's limit, capped by the
    /// server's); the clip is checked against it again when opened.
    pub max_duration_s: f64,
    /// Where to write the MP4 (the pipeline writes a temporary file and renames it).
    pub output: PathBuf,
    /// Seed for deterministic synthesis.
    pub seed: u64,
}

/// What a finished run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineOutput {
    /// Frames written.
    pub frames: usize,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
}

/// Why a run did not produce an output.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// An input cannot be used; the message says what to change.
    #[error("{0}")]
    Input(String),
    /// The request needs something this build does not have (a model, an engine).
    #[error("{0}")]
    Unavailable(String),
    /// The cancel flag was set.
    #[error("cancelled")]
    Cancelled,
    /// Processing failed inside retake.
    #[error("processing failed: {0}")]
    Failed(String),
}

impl From<retake_pipeline::PipelineError> for PipelineError {
    fn from(e: retake_pipeline::PipelineError) -> Self {
        match e.kind() {
            ErrorKind::Cancelled => PipelineError::Cancelled,
            ErrorKind::Input => PipelineError::Input(e.to_string()),
            ErrorKind::Unavailable => PipelineError::Unavailable(e.to_string()),
            ErrorKind::Output | ErrorKind::Internal => PipelineError::Failed(e.to_string()),
        }
    }
}

impl From<retake_engine::EngineError> for PipelineError {
    fn from(e: retake_engine::EngineError) -> Self {
        retake_pipeline::PipelineError::Engine(e).into()
    }
}

/// Turns one clip into its modified version. Implementations block; the worker runs them on
/// a blocking thread, reads `progress` (0–100) and sets `cancel` when the job is deleted.
pub trait ClipPipeline: Send + Sync {
    /// Processes `job`.
    fn run(
        &self,
        job: &PipelineJob,
        progress: &dyn Fn(u8),
        cancel: &AtomicBool,
    ) -> Result<PipelineOutput, PipelineError>;

    /// Whether a prompt alone (no first frame) can be served (needs a diffusion model).
    fn supports_prompt_only(&self) -> bool {
        false
    }
}

/// The real pipeline: `retake_pipeline::modify`, the same path `retake modify` runs
/// (keyframes from the diffusion engine when one is loaded, propagation between them).
#[derive(Clone, Default)]
pub struct MediaPipeline {
    /// Limits the clip is checked against (again) when opened.
    pub limits: Limits,
    /// Encoder and audio options.
    pub options: TranscodeOptions,
    /// The diffusion engine, shared by all workers, when a model is configured.
    pub diffusion: Option<Arc<DiffusionEngine>>,
    /// Accept prompt-only requests without a loaded engine: an API-only node whose workers
    /// (other processes) have the model.
    pub prompts_run_elsewhere: bool,
}

impl std::fmt::Debug for MediaPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaPipeline")
            .field("limits", &self.limits)
            .field("options", &self.options)
            .field("diffusion", &self.diffusion.is_some())
            .field("prompts_run_elsewhere", &self.prompts_run_elsewhere)
            .finish()
    }
}

impl MediaPipeline {
    /// A pipeline with these limits and default encoding.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }
}

impl ClipPipeline for MediaPipeline {
    fn run(
        &self,
        job: &PipelineJob,
        progress: &dyn Fn(u8),
        cancel: &AtomicBool,
    ) -> Result<PipelineOutput, PipelineError> {
        let req = ModifyRequest {
            first_frame: job.first_frame.clone(),
            keyframes: job
                .keyframes
                .iter()
                .map(|(i, p)| (KeyframeAt::SourceFrame(*i), p.clone()))
                .collect(),
            prompt: job.prompt.clone(),
            look: job.look.clone(),
            mode: job.mode.parse::<Mode>()?,
            profile: job.profile,
            controls: job.controls,
            seed: job.seed,
            limits: Limits {
                max_duration_s: job.max_duration_s,
                output_cap: job.output_cap.unwrap_or(self.limits.output_cap),
                ..self.limits
            },
            encode: self.options.encode,
            mute: self.options.mute,
            ..ModifyRequest::new(&job.input, &job.output)
        };
        let report = modify(
            &req,
            self.diffusion.as_deref(),
            &mut |p| progress(p.percent()),
            cancel,
        )?;
        Ok(PipelineOutput {
            frames: report.media.frames,
            width: report.media.width,
            height: report.media.height,
        })
    }

    fn supports_prompt_only(&self) -> bool {
        self.diffusion.is_some() || self.prompts_run_elsewhere
    }
}
