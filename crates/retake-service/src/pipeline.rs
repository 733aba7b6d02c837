//! The seam between the service and the one clip pipeline: the service hands a worker's job
//! to a [`ClipPipeline`]; [`MediaPipeline`] is the real one (media reader → engine → writer),
//! the same path the CLI runs.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use retake_engine::{EngineError, Mode, Propagator};
use retake_media::transform::FrameResizer;
use retake_media::{
    load_image, transcode, Limits, MediaError, RgbFrame, TranscodeOptions, VideoReader,
};

/// What to tell a client who sent a prompt and no first frame to a build without a model.
pub const PROMPT_ONLY_NEEDS_MODEL: &str = "prompt-only modification needs a diffusion model \
    (--model-dir); send first_frame.url with an edited first frame";

/// One clip to process, with every input already on local disk.
#[derive(Clone, Debug)]
pub struct PipelineJob {
    /// The source clip.
    pub input: PathBuf,
    /// The edited first frame, if the client sent one.
    pub first_frame: Option<PathBuf>,
    /// The prompt, if any.
    pub prompt: Option<String>,
    /// Mode name (`adhere_1` … `reimagine_3`).
    pub mode: String,
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

impl From<MediaError> for PipelineError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Cancelled => PipelineError::Cancelled,
            MediaError::Io { .. }
            | MediaError::Stream(_)
            | MediaError::Encode(_)
            | MediaError::InvalidFrame(_)
            | MediaError::InvalidArgument(_) => PipelineError::Failed(e.to_string()),
            other => PipelineError::Input(other.to_string()),
        }
    }
}

impl From<EngineError> for PipelineError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Cancelled => PipelineError::Cancelled,
            EngineError::TooSmall { .. } | EngineError::UnknownMode(_) => {
                PipelineError::Input(e.to_string())
            }
            other => PipelineError::Failed(other.to_string()),
        }
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

/// The real pipeline: `VideoReader` → propagation of the edited first frame → `transcode`.
#[derive(Clone, Debug, Default)]
pub struct MediaPipeline {
    /// Limits the clip is checked against (again) when opened.
    pub limits: Limits,
    /// Encoder and audio options.
    pub options: TranscodeOptions,
}

impl MediaPipeline {
    /// A pipeline with these limits and default encoding.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            options: TranscodeOptions::default(),
        }
    }
}

/// Checks that an edited first frame of `kw`×`kh` has the clip's shape (`width`×`height`);
/// a different crop would smear across the whole clip.
pub fn check_keyframe_shape(kw: u32, kh: u32, width: u32, height: u32) -> Result<(), String> {
    let ka = kw as f64 / kh.max(1) as f64;
    let ca = width as f64 / height.max(1) as f64;
    // Same tolerance as `retake modify`, so the CLI and the server accept the same frames.
    if (ka / ca - 1.0).abs() > 0.01 {
        return Err(format!(
            "first_frame is {kw}x{kh} but the clip's frames are {width}x{height}, a different \
             shape; edit the frame `retake frame CLIP` exports, without cropping"
        ));
    }
    Ok(())
}

/// Refuses a clip with a single frame: there is no motion to carry an edit along.
pub fn check_motion(source_frames: usize, output_frames: usize) -> Result<(), String> {
    if source_frames < 2 || output_frames < 2 {
        return Err(
            "the clip has a single frame, so there is no motion to carry the edit \
                    along; use the edited image itself"
                .into(),
        );
    }
    Ok(())
}

fn fit_keyframe(key: RgbFrame, width: u32, height: u32) -> Result<RgbFrame, PipelineError> {
    if (key.width(), key.height()) == (width, height) {
        return Ok(key);
    }
    check_keyframe_shape(key.width(), key.height(), width, height).map_err(PipelineError::Input)?;
    Ok(FrameResizer::default().resize(key, width, height)?)
}

impl ClipPipeline for MediaPipeline {
    fn run(
        &self,
        job: &PipelineJob,
        progress: &dyn Fn(u8),
        cancel: &AtomicBool,
    ) -> Result<PipelineOutput, PipelineError> {
        let Some(first_frame) = &job.first_frame else {
            return Err(PipelineError::Unavailable(PROMPT_ONLY_NEEDS_MODEL.into()));
        };
        let mode: Mode = job.mode.parse()?;
        let params = mode.params();
        let keyframe = load_image(first_frame).map_err(|e| {
            PipelineError::Input(format!(
                "first_frame cannot be read as PNG, JPEG or WebP: {e}"
            ))
        })?;
        let reader = VideoReader::open(&job.input, &self.limits)?;
        check_motion(reader.info().video.frame_count, reader.frame_count())
            .map_err(PipelineError::Input)?;
        let (width, height) = reader.output_size();
        let keyframe = fit_keyframe(keyframe, width, height)?;
        let mut propagator: Option<Propagator> = None;
        let mut report = |done: usize, total: usize| {
            progress((done * 100 / total.max(1)).min(100) as u8);
        };
        let out = transcode::<PipelineError, _>(
            reader,
            &job.output,
            self.options,
            |_, frame| {
                let p = match &mut propagator {
                    Some(p) => p,
                    None => {
                        propagator.insert(Propagator::new(&keyframe, &frame, &params, job.seed)?)
                    }
                };
                Ok(p.push(&frame)?)
            },
            &mut report,
            cancel,
        )?;
        Ok(PipelineOutput {
            frames: out.frames,
            width: out.width,
            height: out.height,
        })
    }
}
