//! `modify`: an edited first frame (and later prompt keyframes) carried through a clip.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use retake_engine::{KeyframeSequencer, Mode, Profile};
use retake_media::{
    load_image, transcode_with, EncodeSettings, FrameProcessor, Limits, MediaError, RgbFrame,
    TranscodeOptions, TranscodeReport, VideoReader, OUTPUT_FPS,
};
use serde::Serialize;

use crate::check::{check_motion, fit_first_frame};
use crate::PipelineError;

/// What to tell someone who sent a prompt and no first frame to a build without a model.
pub const PROMPT_NEEDS_MODEL: &str = "modifying from a prompt alone needs a diffusion model, \
    and none is configured; export a frame with `retake frame CLIP -o frame.png`, edit it, and \
    send it as the first frame";

/// One clip to modify, every input on local disk.
#[derive(Clone, Debug)]
pub struct ModifyRequest {
    /// The source clip.
    pub clip: PathBuf,
    /// The edited first frame (PNG, JPEG or WebP).
    pub first_frame: Option<PathBuf>,
    /// More edited frames, each at a time in seconds (e.g. the first frame of a new shot);
    /// the engine blends between neighbouring keyframes.
    pub keyframes: Vec<(f64, PathBuf)>,
    /// What to change, in words.
    pub prompt: Option<String>,
    /// How far the output may move from the source.
    pub mode: Mode,
    /// How much work to spend per frame.
    pub profile: Profile,
    /// Seed for the engine's random search; the same seed gives the same output.
    pub seed: u64,
    /// Where the MP4 goes (written to a temporary file, renamed when complete).
    pub output: PathBuf,
    /// Drop the audio.
    pub mute: bool,
    /// Limits the clip is checked against.
    pub limits: Limits,
    /// Encoder settings.
    pub encode: EncodeSettings,
}

impl ModifyRequest {
    /// A request with default mode, profile, seed, limits and encoding.
    pub fn new(clip: impl Into<PathBuf>, output: impl Into<PathBuf>) -> Self {
        Self {
            clip: clip.into(),
            first_frame: None,
            keyframes: Vec::new(),
            prompt: None,
            mode: Mode::default(),
            profile: Profile::default(),
            seed: 0,
            output: output.into(),
            mute: false,
            limits: Limits::default(),
            encode: EncodeSettings::default(),
        }
    }
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Output frames written.
    pub done: usize,
    /// Output frames in all.
    pub total: usize,
}

impl Progress {
    /// Done, as a whole percentage.
    pub fn percent(&self) -> u8 {
        (self.done * 100 / self.total.max(1)).min(100) as u8
    }
}

/// What a finished run did.
#[derive(Clone, Debug, Serialize)]
pub struct ModifyReport {
    /// Frames, size, audio and damage, as written.
    #[serde(flatten)]
    pub media: TranscodeReport,
    /// The mode used.
    pub mode: Mode,
    /// The profile used.
    pub profile: Profile,
    /// The seed used.
    pub seed: u64,
    /// Output frame indices of the keyframes.
    pub keyframes: Vec<usize>,
    /// Output frame indices where a new shot starts; there the edit was re-matched from the
    /// nearest keyframe by appearance.
    pub scene_cuts: Vec<usize>,
    /// Things the user should know (an unused prompt, say).
    pub notes: Vec<String>,
}

/// The keyframe sequencer as the transcoder's processing stage.
struct Stage(KeyframeSequencer);

impl FrameProcessor for Stage {
    type Error = PipelineError;

    fn push(&mut self, i: usize, f: RgbFrame, out: &mut Vec<RgbFrame>) -> Result<(), Self::Error> {
        Ok(self.0.push(i, f, out)?)
    }

    fn finish(&mut self, out: &mut Vec<RgbFrame>) -> Result<(), Self::Error> {
        Ok(self.0.finish(out)?)
    }
}

/// Opening an input: a file that cannot be read is the input's fault, not ours.
fn input(path: &Path, e: MediaError) -> PipelineError {
    match e {
        MediaError::Io { source, .. } => {
            PipelineError::Input(format!("{}: {source}", path.display()))
        }
        MediaError::Image { path, reason } => PipelineError::Input(format!(
            "{}: not a PNG, JPEG or WebP image retake can read: {reason}",
            path.display()
        )),
        other => PipelineError::Media(other),
    }
}

/// The output frame a keyframe time falls on, refusing times outside the clip.
fn keyframe_index(at: f64, frames: usize) -> Result<usize, PipelineError> {
    let duration = frames as f64 / OUTPUT_FPS as f64;
    if !at.is_finite() || at < 0.0 || at >= duration {
        return Err(PipelineError::Input(format!(
            "a keyframe is at {at} s but the clip runs from 0 to {duration:.3} s; export it with \
             `retake frame CLIP --at SECONDS`"
        )));
    }
    Ok(((at * OUTPUT_FPS as f64).round() as usize).min(frames - 1))
}

/// Runs one clip end to end: decode, style every frame from the keyframes, encode with the
/// source audio. `progress` hears about every frame written; setting `cancel` stops the run
/// with nothing written at `output`.
pub fn modify(
    req: &ModifyRequest,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> Result<ModifyReport, PipelineError> {
    let first_frame_path = match (&req.first_frame, &req.prompt) {
        (Some(p), _) => p,
        (None, Some(_)) => return Err(PipelineError::Unavailable(PROMPT_NEEDS_MODEL.into())),
        (None, None) => {
            return Err(PipelineError::Input(
                "nothing to apply: give an edited first frame (export one with `retake frame`)"
                    .into(),
            ))
        }
    };
    let mut notes = Vec::new();
    if req.prompt.is_some() {
        notes.push(
            "the prompt was not used: prompts need a diffusion model; the edited first frame \
             sets the look"
                .to_string(),
        );
    }
    let reader = VideoReader::open(&req.clip, &req.limits).map_err(|e| input(&req.clip, e))?;
    check_motion(reader.info().video.frame_count, reader.frame_count())
        .map_err(PipelineError::Input)?;
    let (width, height) = reader.output_size();
    let first = load_image(first_frame_path).map_err(|e| input(first_frame_path, e))?;
    let first = fit_first_frame(first, width, height)?;
    let mut keyframes = vec![(0, first)];
    let total = reader.frame_count();
    for (at, path) in &req.keyframes {
        let index = keyframe_index(*at, total)?;
        let img = load_image(path).map_err(|e| input(path, e))?;
        keyframes.push((index, fit_first_frame(img, width, height)?));
    }
    keyframes.sort_by_key(|(i, _)| *i);
    if let Some(w) = keyframes.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(PipelineError::Input(format!(
            "two keyframes fall on output frame {} ({:.3} s); give each its own frame",
            w[0].0,
            w[0].0 as f64 / OUTPUT_FPS as f64
        )));
    }
    let keyframe_indices: Vec<usize> = keyframes.iter().map(|(i, _)| *i).collect();
    let mut sequencer = KeyframeSequencer::new(
        keyframes,
        &req.mode.params(),
        req.seed,
        req.profile.settings(),
    )?;
    // The engine checks an owned flag inside long steps; mirror the caller's into it.
    let engine_cancel = Arc::new(AtomicBool::new(false));
    sequencer.set_cancel_flag(engine_cancel.clone());
    let mut stage = Stage(sequencer);
    let options = TranscodeOptions {
        encode: req.encode,
        mute: req.mute,
    };
    let finished = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                if cancel.load(Ordering::Relaxed) {
                    engine_cancel.store(true, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let r = transcode_with(
            reader,
            &req.output,
            options,
            &mut stage,
            &mut |done, total| progress(Progress { done, total }),
            cancel,
        );
        finished.store(true, Ordering::Relaxed);
        r
    });
    let media = result.map_err(|e| match e {
        PipelineError::Engine(retake_engine::EngineError::Cancelled) => {
            PipelineError::Media(MediaError::Cancelled)
        }
        PipelineError::Media(MediaError::Io { path, source }) if path != req.clip => {
            PipelineError::Output(MediaError::Io { path, source })
        }
        other => other,
    })?;
    Ok(ModifyReport {
        media,
        mode: req.mode,
        profile: req.profile,
        seed: req.seed,
        keyframes: keyframe_indices,
        scene_cuts: stage.0.cuts().to_vec(),
        notes,
    })
}
